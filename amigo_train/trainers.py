"""TRL wiring: a recipe's training arguments and datasets, and saving a trained stage's adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amigo_train.recipe import Recipe, TrainSpec


def _device_kwargs(recipe: Recipe) -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "use_cpu": not cuda,
        "bf16": recipe.precision == "bf16" and cuda,
        "fp16": recipe.precision == "fp16" and cuda,
    }


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


def dpo_args(spec: TrainSpec) -> dict[str, Any]:
    """DPOConfig's loss fields for ``spec``: sigmoid DPO, plus the SFT term when ``sft_weight`` is set."""
    if spec.sft_weight > 0:
        return {"beta": spec.beta, "loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, spec.sft_weight]}
    return {"beta": spec.beta}


def _dataset(rows: list[dict[str, Any]], kind: str) -> Any:
    from datasets import Dataset

    keys = ("prompt", "completion") if kind == "sft" else ("prompt", "chosen", "rejected")
    return Dataset.from_list([{k: r[k] for k in keys} for r in rows])


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
