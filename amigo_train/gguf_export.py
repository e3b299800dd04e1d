"""GGUF files of a merged model: written here (llama architecture with a template GGUF),
or by llama.cpp's own converter (Gemma 3, Qwen2.5, ...), then quantized by llama.cpp.

Why our own writer: llama.cpp's ``convert_hf_to_gguf.py`` ships only in its
source tree (the llama-cpp-python sdist), not in any installed wheel. For the
embedded SmolLM2 (architecture ``llama``) the conversion is small: tensor names
come from ``gguf.TensorNameMap``, q/k projections get llama.cpp's rotary
permutation back, and every metadata key (tokenizer, chat template, rope and
norm settings) is copied from the GGUF the base was dequantized from, so the
tokenizer is bit-identical. Other architectures go through the converter in the
llama.cpp source the project already fetches to build ``llama-server``
(``scripts/build-llama-server.sh``), the same version the server runs.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from amigo import progress
from amigo.errors import ConfigError

# The quantizations an export writes besides f16: Q8_0 (near-lossless) and Q4_K_M
# (what Ollama and most llama.cpp users run by default).
QUANTIZATIONS = ("Q8_0", "Q4_K_M")
LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # the Makefile's pin; its sdist holds llama.cpp's source

SKIP_KEYS = ("GGUF.", "general.file_type", "general.quantization_version")


def _permute(w: Any, n_head: int) -> Any:
    """llama.cpp's q/k layout: HF's rotate-half halves interleaved back per head."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def copy_metadata(reader: Any, writer: Any, arch: str) -> None:
    """Every key/value of the template GGUF except the file-type and architecture-shape ones
    (those are written from the model's own config)."""
    import gguf

    for name, field in reader.fields.items():
        if name.startswith(SKIP_KEYS) or name == "general.architecture" or name.startswith(f"{arch}."):
            continue
        vtype = gguf.GGUFValueType(field.types[0])
        value = field.contents()
        sub = gguf.GGUFValueType(field.types[1]) if vtype == gguf.GGUFValueType.ARRAY and len(field.types) > 1 else None
        writer.add_key_value(name, value, vtype, sub_type=sub)


def write_llama_gguf(model_dir: Path, template_gguf: Path, out: Path, half: bool = True) -> Path:
    """Convert the merged model in ``model_dir`` (safetensors) to ``out``, using the template's metadata."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    if config.model_type != "llama":
        raise ValueError(
            f"the built-in GGUF writer handles the llama architecture; {config.model_type} needs llama.cpp's "
            "convert_hf_to_gguf.py (in the llama.cpp source tree) run on the merged directory"
        )
    reader = gguf.GGUFReader(str(template_gguf))
    arch = str(reader.fields["general.architecture"].contents())
    tensors: dict[str, Any] = {}
    for shard in sorted(model_dir.glob("*.safetensors")):
        tensors.update(load_file(str(shard)))
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    writer = gguf.GGUFWriter(str(out), arch)
    copy_metadata(reader, writer, arch)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(float((getattr(config, "rope_parameters", None) or {}).get("rope_theta", 10000.0)))
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if half else gguf.LlamaFileType.ALL_F32)
    n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
    for name, value in progress.track(tensors.items(), "converting to GGUF", len(tensors), "tensors"):
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        data = value.astype(np.float32)
        if name.endswith("q_proj.weight"):
            data = _permute(data, n_head)
        elif name.endswith("k_proj.weight"):
            data = _permute(data, n_kv)
        target = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise ValueError(f"no GGUF name for tensor {name}")
        if half and data.ndim == 2:
            data = data.astype(np.float16)
        writer.add_tensor(target, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def open_llama_cpp(gguf_path: Path, n_ctx: int = 2048, logits_all: bool = False) -> Any:
    """A llama.cpp model on the GGUF (2 threads: the machines this runs on are small and shared)."""
    from llama_cpp import Llama

    return Llama(model_path=str(gguf_path), n_ctx=n_ctx, verbose=False, n_threads=2, seed=0, logits_all=logits_all)


def greedy_llama_cpp(gguf_path: Path | Any, prompt_ids: list[int], max_tokens: int) -> list[int]:
    """Greedy continuation of ``prompt_ids`` by llama.cpp (llama-cpp-python), as token ids.

    ``gguf_path`` may also be an already opened ``llama_cpp.Llama`` (reused across prompts)."""
    llm = gguf_path if not isinstance(gguf_path, (str, Path)) else open_llama_cpp(
        Path(gguf_path), n_ctx=max(512, len(prompt_ids) + max_tokens + 8))
    llm.reset()
    out: list[int] = []
    for token in llm.generate(prompt_ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
        if token == llm.token_eos() or len(out) >= max_tokens:
            break
        out.append(int(token))
    return out


def llama_cpp_logits(llm: Any, ids: list[int]) -> Any:
    """llama.cpp's next-token logits at every position of ``ids`` (teacher forcing), float32 [len, vocab].

    ``llm`` must be opened with ``logits_all=True``."""
    import numpy as np

    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float32)


def compare_logits(hf_logits: Any, cpp_logits: Any, start: int = 0, k: int = 5) -> dict[str, float]:
    """How closely two models' next-token distributions agree from position ``start`` on.

    top1: share of positions with the same argmax; topk_overlap: mean share of the top-k
    ids both have; max_abs_logit_diff: after centring each row (llama.cpp and transformers
    may differ by a constant per row, which changes no probability)."""
    import numpy as np

    a = np.asarray(hf_logits, dtype=np.float32)[start:]
    b = np.asarray(cpp_logits, dtype=np.float32)[start:]
    if a.shape != b.shape:
        raise ValueError(f"logit shapes differ: transformers {a.shape}, llama.cpp {b.shape} (vocabulary mismatch?)")
    top1 = float(np.mean(a.argmax(-1) == b.argmax(-1)))
    ta, tb = np.argsort(-a, -1)[:, :k], np.argsort(-b, -1)[:, :k]
    overlap = float(np.mean([len(set(x) & set(y)) / k for x, y in zip(ta.tolist(), tb.tolist())]))
    diff = (a - a.mean(-1, keepdims=True)) - (b - b.mean(-1, keepdims=True))
    return {"positions": int(a.shape[0]), "top1_agreement": top1, f"top{k}_overlap": overlap,
            "max_abs_logit_diff": float(np.abs(diff).max())}


def llama_cpp_source() -> Path:
    """llama.cpp's source tree: ``AMIGO_LLAMA_CPP_SRC``, else where build-llama-server.sh unpacks it."""
    explicit = os.environ.get("AMIGO_LLAMA_CPP_SRC")
    if explicit:
        return Path(explicit).expanduser()
    from amigo.xdg import cache_dir

    return cache_dir() / "src" / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"


def convert_with_llama_cpp(model_dir: Path, out: Path) -> Path:
    """f16 GGUF of any architecture llama.cpp knows, by its own ``convert_hf_to_gguf.py``."""
    script = llama_cpp_source() / "convert_hf_to_gguf.py"
    if not script.is_file():
        raise ConfigError(
            f"GGUF export of this architecture needs llama.cpp's converter, not found at {script}: run "
            "`bash scripts/build-llama-server.sh` once (it unpacks llama.cpp's source), or set "
            "AMIGO_LLAMA_CPP_SRC to a llama.cpp checkout; --no-gguf skips the GGUF files")
    done = subprocess.run([sys.executable, str(script), str(model_dir), "--outfile", str(out), "--outtype", "f16"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ConfigError(f"llama.cpp's converter failed on {model_dir}: {' | '.join(tail)}")
    return out


def quantize(src: Path, out: Path, kind: str, threads: int | None = None) -> Path:
    """``src`` (f16 GGUF) quantized to ``kind`` (e.g. Q8_0, Q4_K_M) by llama.cpp itself, through
    llama-cpp-python's binding of ``llama_model_quantize``: no separate binary to build."""
    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}", None)
    if ftype is None:
        raise ConfigError(f"unknown GGUF quantization {kind!r}; llama.cpp knows e.g. Q8_0, Q6_K, Q5_K_M, Q4_K_M")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads or os.cpu_count() or 1
    if llama_cpp.llama_model_quantize(str(src).encode(), str(out).encode(), ctypes.byref(params)) != 0:
        raise ConfigError(f"llama.cpp could not quantize {src} to {kind}")
    return out
