"""Loading the model a stage trains: dtype, the earlier stages' adapters merged in, the LoRA config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amigo_train.recipe import Recipe


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
