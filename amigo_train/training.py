"""Run a recipe's stages: SFT stages then DPO, each a fresh LoRA on the merged result so far.

Chaining choice ("merge first"): before stage k, the base model is loaded and the
adapters of stages 1..k-1 are merged into its weights in order; stage k trains a
fresh LoRA on top. For DPO this makes the reference model exactly the SFT policy
at no memory cost: TRL computes reference log-probs with the adapter disabled,
which *is* the merged SFT model. (Continuing the SFT adapter instead would make
"adapter disabled" the raw base - a wrong reference - unless a second frozen copy
of the model is kept in memory.) Each stage's adapter is saved on its own, so a
stage can be re-run or inspected, and the export merges them in the same order.

Layout of a run directory::

    manifest.json                 git commit, recipe, data hashes, versions, stage states
    stages/<name>/data/           train.jsonl, eval.jsonl, decontamination.json, padding.json
    stages/<name>/checkpoints/    trainer checkpoints (resume after a kill)
    stages/<name>/adapter/        the stage's LoRA adapter (written when the stage completes)
    stages/<name>/metrics.jsonl   one JSON line per log step; loss.png its curve
    stages/<name>/stage.json      written last: the stage is complete

The run loop lives here; its parts, by concern: :mod:`amigo_train.ranks` (which process writes, the
barriers), :mod:`amigo_train.manifest` (the run directory and manifest.json), :mod:`amigo_train.stage_data`
(building a stage's data once), :mod:`amigo_train.reports` (padding, metrics, the loss curve),
:mod:`amigo_train.modeling` (loading and merging) and :mod:`amigo_train.trainers` (TRL arguments,
datasets, the adapter save).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from amigo.errors import ConfigError
from amigo_train.data import read_jsonl
from amigo_train.manifest import Manifest, is_complete, latest_checkpoint, stage_dir
from amigo_train.modeling import load_stage_model, lora_config, torch_dtype
from amigo_train.ranks import distributed, is_main_process
from amigo_train.recipe import Recipe, StageSpec
from amigo_train.reports import _metrics_callback, example_lengths, padding_report, plot_loss
from amigo_train.stage_data import decontaminator, prepare_stage_data
from amigo_train.trainers import _common_args, _dataset, dpo_args, save_adapter

Log = Callable[[str], None]


def train_stage(recipe: Recipe, stage: StageSpec, run_dir: Path, base: str, previous: list[Path],
                resume: bool, log: Log) -> dict[str, Any]:
    """Train one stage to completion (or resume it) and save its adapter."""
    from transformers import AutoTokenizer

    sdir = stage_dir(run_dir, stage)
    spec = recipe.train_for(stage)
    train_rows = read_jsonl(sdir / "data" / "train.jsonl")
    eval_path = sdir / "data" / "eval.jsonl"
    eval_rows = read_jsonl(eval_path) if eval_path.is_file() else []
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    ckpt_dir = sdir / "checkpoints"
    args = _common_args(recipe, spec, ckpt_dir, bool(eval_rows))
    callbacks = [_metrics_callback(sdir / "metrics.jsonl")]
    # the training arguments first, then the model: see load_stage_model (ZeRO-3 partitions at load)
    if stage.kind == "sft":
        from trl import SFTConfig, SFTTrainer

        config = SFTConfig(**args, packing=spec.packing, completion_only_loss=True)
        model = load_stage_model(base, previous, torch_dtype(recipe))
        trainer = SFTTrainer(model=model, args=config, train_dataset=_dataset(train_rows, "sft"),
                             eval_dataset=_dataset(eval_rows, "sft") if eval_rows else None,
                             processing_class=tokenizer, peft_config=lora_config(recipe), callbacks=callbacks)
    else:
        from trl import DPOConfig, DPOTrainer

        config = DPOConfig(**args, **dpo_args(spec))
        model = load_stage_model(base, previous, torch_dtype(recipe))
        trainer = DPOTrainer(model=model, ref_model=None, args=config, train_dataset=_dataset(train_rows, "dpo"),
                             eval_dataset=_dataset(eval_rows, "dpo") if eval_rows else None,
                             processing_class=tokenizer, peft_config=lora_config(recipe), callbacks=callbacks)
    checkpoint = latest_checkpoint(ckpt_dir) if resume else None
    if checkpoint is None and (sdir / "metrics.jsonl").exists() and is_main_process():
        (sdir / "metrics.jsonl").unlink()  # a fresh start: old curves would mislead
    log(f"stage {stage.name}: {stage.kind}, {len(train_rows)} examples"
        + (f", resuming from {checkpoint.name}" if checkpoint else ""))
    started = time.time()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    evaluation = trainer.evaluate() if eval_rows else None  # collective: every rank runs it
    adapter_dir = sdir / "adapter"
    save_adapter(trainer, adapter_dir)
    state = distributed()
    if not is_main_process():
        state.wait_for_everyone()  # until the main process has written stage.json
        return json.loads((sdir / "stage.json").read_text())
    summary = _finish_stage(recipe, stage, sdir, tokenizer, trainer, result, evaluation, checkpoint, started,
                            previous)
    state.wait_for_everyone()
    return summary


def _finish_stage(recipe: Recipe, stage: StageSpec, sdir: Path, tokenizer: Any, trainer: Any, result: Any,
                  evaluation: dict[str, Any] | None, checkpoint: Path | None, started: float,
                  previous: list[Path]) -> dict[str, Any]:
    """The main process's part after training: tokenizer beside the adapter, the loss curve, stage.json."""
    adapter_dir = sdir / "adapter"
    tokenizer.save_pretrained(str(adapter_dir))
    plot_loss(sdir / "metrics.jsonl", sdir / "loss.png", f"{recipe.name}: {stage.name}")
    summary = {
        "stage": stage.name, "kind": stage.kind, "global_step": trainer.state.global_step,
        "train_loss": result.training_loss, "seconds": time.time() - started,
        "resumed_from": checkpoint.name if checkpoint else None, "metrics": result.metrics,
        "previous_adapters": [str(p) for p in previous], "processes": distributed().num_processes,
        "distributed": str(getattr(trainer.accelerator.distributed_type, "value", trainer.accelerator.distributed_type)),
    }
    if evaluation is not None:
        summary["eval"] = evaluation
    (sdir / "stage.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_recipe(recipe: Recipe, recipe_path: str, *, only_stage: str | None = None, resume: bool = False,
               dry_run: bool = False, output_dir: str | None = None, eval_data_dir: str | None = None,
               log: Log = print) -> dict[str, Any]:
    """Run (or dry-run) every stage in order; returns the manifest's data."""
    from amigo_train.base_model import resolve_base

    run_dir = Path(output_dir or recipe.output_dir)
    base_dir = Path(recipe_path).resolve().parent
    manifest_path = run_dir / "manifest.json"
    if not resume and not dry_run and only_stage is None and (run_dir / "stages").exists() and any(
        (run_dir / "stages").iterdir()
    ):
        raise ConfigError(f"{run_dir} already holds a run: pass --resume to continue it, "
                          "--stage NAME to redo one stage, or choose another output_dir")
    if only_stage:
        recipe.stage(only_stage)  # a clear error for an unknown name
    state = distributed()
    state.wait_for_everyone()  # every rank has looked at run_dir before the main process writes to it
    index = decontaminator(recipe, eval_data_dir, log)
    manifest = Manifest(manifest_path, recipe, recipe_path) if not dry_run else None
    with state.main_process_first():  # an embedded base is converted once, then read by every rank
        base = None if dry_run else resolve_base(recipe.base_model)
    previous: list[Path] = []
    plan: dict[str, Any] = {"stages": {}}
    for stage in recipe.stages:
        sdir = stage_dir(run_dir, stage)
        selected = only_stage is None or only_stage == stage.name
        if not selected or (resume and is_complete(run_dir, stage) and only_stage is None):
            if is_complete(run_dir, stage):
                previous.append(sdir / "adapter")
                log(f"stage {stage.name}: complete, reusing its adapter")
            elif not dry_run:
                raise ConfigError(f"stage {stage.name} has not run yet; run it before the later stages")
            continue
        tok = None
        if not dry_run:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(base)
        info, lengths = prepare_stage_data(recipe, stage, run_dir, base_dir, index, reuse=resume, tokenizer=tok)
        spec = recipe.train_for(stage)
        if dry_run:
            plan["stages"][stage.name] = {"kind": stage.kind, **info, "train": spec.model_dump()}
            log(f"stage {stage.name} ({stage.kind}): {info['train_examples']} train / "
                f"{info['eval_examples']} eval examples, {info['decontaminated']} dropped by decontamination")
            continue
        assert manifest is not None and base is not None
        padding: dict[str, Any] = {}
        if is_main_process():  # the report is the main process's: the other ranks do not tokenize the data again
            if lengths is None:  # reused on resume
                lengths = example_lengths(read_jsonl(sdir / "data" / "train.jsonl"), tok)
            padding = padding_report(lengths, spec.per_device_batch_size, spec.max_length,
                                     spec.packing and stage.kind == "sft")
            (sdir / "data" / "padding.json").write_text(json.dumps(padding, indent=2))
            if info.get("too_long"):
                log(f"stage {stage.name}: dropped {info['too_long']} examples longer than max_length "
                    f"{spec.max_length}")
            log(f"stage {stage.name}: padding efficiency {padding['padding_efficiency_unpacked']:.2f} unpacked, "
                f"{padding['padding_efficiency_packed']:.2f} packed "
                f"({'packing' if padding['packing'] else 'no packing'})")
        manifest.stage(stage.name, status="running", data=info, padding=padding, started=time.time())
        summary = train_stage(recipe, stage, run_dir, base, previous, resume, log)
        manifest.stage(stage.name, status="complete", summary=summary, finished=time.time())
        previous.append(sdir / "adapter")
    if dry_run:
        return plan
    assert manifest is not None
    manifest.data["adapters"] = [str(p) for p in previous]
    manifest.save()
    return manifest.data
