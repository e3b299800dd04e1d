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
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from amigo import progress
from amigo.errors import ConfigError
from amigo_train.data import StageData, build_stage_data, read_jsonl, write_jsonl
from amigo_train.decontam import Decontaminator, data_dir, load_problems
from amigo_train.recipe import Recipe, StageSpec, TrainSpec

Log = Callable[[str], None]


# Ranks meet at barriers while the main process prepares a stage's data (tokenizing and decontaminating the
# full recipe's sets takes hours), so the process group waits that long instead of torch's 30-minute default.
BARRIER_TIMEOUT = timedelta(hours=6)


def is_main_process() -> bool:
    """Rank 0 under ``accelerate launch`` (or a plain single process): the one that writes files."""
    return os.environ.get("RANK", "0") == "0"


def distributed() -> Any:
    """accelerate's process state: the barriers ranks wait at (``main_process_first``, ``wait_for_everyone``).

    In a plain single process these are no-ops. The first call sets up the process group (with
    :data:`BARRIER_TIMEOUT`); the trainer's Accelerator later shares it."""
    import torch
    from accelerate import PartialState

    cpu = not torch.cuda.is_available()  # as the training arguments say (use_cpu): gloo between CPU processes
    if os.environ.get("WORLD_SIZE", "1") == "1":
        return PartialState(cpu=cpu)
    return PartialState(cpu=cpu, timeout=BARRIER_TIMEOUT)


def stage_dir(run_dir: Path, stage: StageSpec) -> Path:
    return run_dir / "stages" / stage.name


def is_complete(run_dir: Path, stage: StageSpec) -> bool:
    return (stage_dir(run_dir, stage) / "stage.json").is_file()


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest checkpoint whose trainer state was fully written (a kill mid-save is skipped)."""
    if not ckpt_dir.is_dir():
        return None
    done = [p for p in ckpt_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def git_commit(path: Path) -> str | None:
    """The commit of the code that trains (the repository holding this package)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("torch", "transformers", "peft", "trl", "datasets", "accelerate"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


class Manifest:
    """manifest.json, rewritten atomically after every change."""

    def __init__(self, path: Path, recipe: Recipe, recipe_path: str) -> None:
        self.path = path
        if path.is_file():
            self.data: dict[str, Any] = json.loads(path.read_text())
        else:
            self.data = {"created": time.time(), "stages": {}}
        self.data.update({
            "recipe_path": recipe_path, "recipe": recipe.model_dump(mode="json"),
            "git_commit": git_commit(Path(__file__).resolve().parent), "versions": versions(),
        })
        self.save()

    def stage(self, name: str, **fields: Any) -> None:
        self.data["stages"].setdefault(name, {}).update(fields)
        self.save()

    def save(self) -> None:
        if not is_main_process():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True))
        tmp.replace(self.path)


def padding_report(lengths: list[int], batch_size: int, max_length: int, packing: bool) -> dict[str, float]:
    """Share of real tokens among the tokens a step computes on, unpacked and packed."""
    lengths = [min(n, max_length) for n in lengths]
    real = sum(lengths)
    padded = 0
    for i in range(0, len(lengths), batch_size):
        batch = lengths[i : i + batch_size]
        padded += max(batch) * len(batch)
    blocks = math.ceil(real / max_length) if real else 0
    return {
        "examples": len(lengths), "real_tokens": real,
        "mean_length": real / len(lengths) if lengths else 0.0, "max_length_seen": max(lengths, default=0),
        "padding_efficiency_unpacked": real / padded if padded else 1.0,
        "padding_efficiency_packed": real / (blocks * max_length) if blocks else 1.0,
        "packing": packing,
    }


def example_lengths(examples: list[dict[str, Any]], tokenizer: Any) -> list[int]:
    """Token count of each example as the chat template lays it out (prompt + answer; for a
    preference pair, the longer of chosen and rejected)."""
    out = []
    for ex in progress.track(examples, "tokenizing", unit="examples"):
        answers = [a for a in (ex.get("completion"), ex.get("chosen"), ex.get("rejected")) if a] or [[]]
        longest = 0
        for answer in answers:
            ids = tokenizer.apply_chat_template(list(ex["prompt"]) + list(answer), tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            longest = max(longest, len(ids))
        out.append(longest)
    return out


def plot_loss(metrics_path: Path, png: Path, title: str) -> None:
    """loss.png from metrics.jsonl (train and, when logged, eval loss)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_jsonl(metrics_path) if metrics_path.is_file() else []
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    evals = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if train:
        ax.plot(*zip(*train), label="train loss")
    if evals:
        ax.plot(*zip(*evals), "o-", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def _metrics_callback(path: Path):  # type: ignore[no-untyped-def]
    from transformers import TrainerCallback

    class MetricsCallback(TrainerCallback):
        """Appends every log line to metrics.jsonl (so a resumed stage keeps its history)."""

        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
            if logs and state.is_world_process_zero:
                row = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")

    return MetricsCallback()


def _device_kwargs(recipe: Recipe) -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "use_cpu": not cuda,
        "bf16": recipe.precision == "bf16" and cuda,
        "fp16": recipe.precision == "fp16" and cuda,
    }


def torch_dtype(recipe: Recipe) -> Any:
    import torch

    if not torch.cuda.is_available():
        return torch.float32  # CPU kernels for bf16 training are slow and lossy; the smoke recipe says fp32
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[recipe.precision]


def load_stage_model(base: str, adapters: list[Path], dtype: Any) -> Any:
    """The base model with the given stage adapters merged in, in order ("merge first").

    Call it after the stage's training arguments exist: under DeepSpeed ZeRO-3 they register the
    DeepSpeed config, so ``from_pretrained`` partitions the weights across ranks as it loads them
    (without it every rank would hold the whole model in CPU memory)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    for adapter in adapters:
        model = merge_adapter(PeftModel.from_pretrained(model, str(adapter)))
    return model


def merge_adapter(peft_model: Any) -> Any:
    """``merge_and_unload``, also for weights ZeRO-3 has partitioned: each LoRA layer's base weight is
    gathered only while its own update is added (one layer at a time, never the whole model)."""
    from transformers.integrations import is_deepspeed_zero3_enabled

    if not is_deepspeed_zero3_enabled():
        return peft_model.merge_and_unload()
    import deepspeed
    from peft.tuners.lora import LoraLayer

    for module in peft_model.modules():
        if isinstance(module, LoraLayer):
            with deepspeed.zero.GatheredParameters([module.get_base_layer().weight], modifier_rank=0):
                module.merge()
    return peft_model.unload()


def lora_config(recipe: Recipe) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=recipe.lora.r, lora_alpha=recipe.lora.alpha, lora_dropout=recipe.lora.dropout,
        target_modules=recipe.lora.target_modules, task_type="CAUSAL_LM",
    )


def _common_args(recipe: Recipe, spec: TrainSpec, out: Path, has_eval: bool) -> dict[str, Any]:
    return dict(
        output_dir=str(out), per_device_train_batch_size=spec.per_device_batch_size,
        per_device_eval_batch_size=spec.per_device_batch_size,
        gradient_accumulation_steps=spec.gradient_accumulation_steps, learning_rate=spec.learning_rate,
        num_train_epochs=spec.epochs, max_steps=spec.max_steps, lr_scheduler_type=spec.lr_scheduler,
        warmup_steps=spec.warmup_ratio, weight_decay=spec.weight_decay, logging_steps=spec.logging_steps,
        save_strategy="steps", save_steps=spec.save_steps, save_total_limit=2, seed=recipe.seed,
        gradient_checkpointing=recipe.gradient_checkpointing, report_to=recipe.report_to, max_length=spec.max_length,
        eval_strategy="steps" if has_eval else "no", eval_steps=spec.save_steps if has_eval else None,
        logging_first_step=True, **_device_kwargs(recipe),
    )


def _dataset(rows: list[dict[str, Any]], kind: str) -> Any:
    from datasets import Dataset

    keys = ("prompt", "completion") if kind == "sft" else ("prompt", "chosen", "rejected")
    return Dataset.from_list([{k: r[k] for k in keys} for r in rows])


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

        config = DPOConfig(**args, beta=spec.beta)
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


def save_adapter(trainer: Any, adapter_dir: Path) -> None:
    """Save the stage's complete adapter (a collective: every rank calls it).

    Under FSDP with ``SHARDED_STATE_DICT`` (right for checkpoints: each rank writes its shard, fast)
    the Trainer would write no adapter at all at the end, so the state dict type is switched to
    ``FULL_STATE_DICT`` first: the shards are gathered and the main process writes one adapter the
    next stage and the export can load. ZeRO-3 gathers the adapter's 16-bit weights itself."""
    if getattr(trainer, "is_fsdp_enabled", False):
        plugin = trainer.accelerator.state.fsdp_plugin
        if "FULL_STATE_DICT" not in str(plugin.state_dict_type):
            plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(adapter_dir))  # a PEFT model saves its adapter only


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


def drop_too_long(rows: list[dict[str, Any]], lengths: list[int],
                  max_length: int) -> tuple[list[dict[str, Any]], list[int], int]:
    """(rows that fit, their lengths, how many were dropped) for a ``max_length`` in tokens.

    Why drop rather than let the trainer truncate: truncation cuts the END of the
    sequence - the end of the answer and its end-of-turn token. A model trained on
    such answers learns to stop mid-block and not to stop at all, which is exactly
    the failure (unparseable, runaway answers) the edit format cannot afford."""
    kept = [(r, n) for r, n in zip(rows, lengths) if n <= max_length]
    return [r for r, _ in kept], [n for _, n in kept], len(rows) - len(kept)


def prepare_stage_data(recipe: Recipe, stage: StageSpec, run_dir: Path, base_dir: Path,
                       index: Decontaminator | None, reuse: bool,
                       tokenizer: Any = None) -> tuple[dict[str, Any], list[int] | None]:
    """Build (or, on resume, reuse) a stage's data files; returns their hashes and counts,
    and the token length of each training example when they were measured (else None).

    With a ``tokenizer``, examples longer than the stage's ``max_length`` are dropped
    (see :func:`drop_too_long`) and counted; a dry run has none and drops nothing. The
    lengths come back so the padding report need not tokenize the data a second time."""
    ddir = stage_dir(run_dir, stage) / "data"
    info_path = ddir / "info.json"
    with distributed().main_process_first():  # the others enter once the main process has written the files
        if (reuse or not is_main_process()) and info_path.is_file() and (ddir / "train.jsonl").is_file():
            return json.loads(info_path.read_text()), None
        if not is_main_process():
            raise ConfigError(f"the main process wrote no data for stage {stage.name} ({info_path} is missing)")
        return _build_stage_data(recipe, stage, ddir, base_dir, index, tokenizer)


def _build_stage_data(recipe: Recipe, stage: StageSpec, ddir: Path, base_dir: Path, index: Decontaminator | None,
                      tokenizer: Any) -> tuple[dict[str, Any], list[int] | None]:
    """Build a stage's data files (the main process only; see :func:`prepare_stage_data`)."""
    info_path = ddir / "info.json"
    spec = recipe.train_for(stage)
    data: StageData = build_stage_data(stage, base_dir, recipe.seed, spec.eval_fraction, index)
    too_long = 0
    lengths = None
    if tokenizer is not None:
        data.train, lengths, too_long = drop_too_long(data.train, example_lengths(data.train, tokenizer),
                                                      spec.max_length)
        data.eval, _, eval_too_long = drop_too_long(data.eval, example_lengths(data.eval, tokenizer), spec.max_length)
        too_long += eval_too_long
        if not data.train:
            raise ConfigError(f"stage {stage.name}: every training example is longer than max_length "
                              f"{spec.max_length} tokens; raise max_length in the recipe")
    info = {
        "train_sha256": write_jsonl(ddir / "train.jsonl", data.train),
        "eval_sha256": write_jsonl(ddir / "eval.jsonl", data.eval),
        "train_examples": len(data.train), "eval_examples": len(data.eval),
        "per_source": data.per_source, "decontaminated": len(data.dropped), "too_long": too_long,
    }
    (ddir / "decontamination.json").write_text(json.dumps(
        {"dropped": len(data.dropped), "rows": data.dropped}, indent=2))
    info_path.write_text(json.dumps(info, indent=2))
    return info, lengths


def decontaminator(recipe: Recipe, explicit_dir: str | None, log: Log) -> Decontaminator | None:
    """The n-gram index of the recipe's evaluation sets, or None when no data dir is known."""
    root = data_dir(explicit_dir or recipe.decontaminate.data_dir)
    if root is None or not root.is_dir():
        if recipe.decontaminate.required:
            raise ConfigError("decontamination is required: pass --data-dir or set AMIGO_DATA_DIR "
                              "to a directory holding the evaluation sets")
        log("decontamination skipped: no evaluation data dir (set AMIGO_DATA_DIR or --data-dir)")
        return None
    problems = load_problems(root, recipe.decontaminate.benchmarks)
    log("decontamination against " + ", ".join(f"{k} ({len(v)})" for k, v in problems.items()))
    return Decontaminator.from_problems(problems, recipe.decontaminate.ngram)


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
