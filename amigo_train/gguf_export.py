"""Write a merged Llama-architecture model as a GGUF file with the ``gguf`` package.

Why our own writer: llama.cpp's ``convert_hf_to_gguf.py`` ships only in its
source tree (the llama-cpp-python sdist), not in any installed wheel. For the
embedded SmolLM2 (architecture ``llama``) the conversion is small: tensor names
come from ``gguf.TensorNameMap``, q/k projections get llama.cpp's rotary
permutation back, and every metadata key (tokenizer, chat template, rope and
norm settings) is copied from the GGUF the base was dequantized from, so the
tokenizer is bit-identical. Other architectures (Gemma 3, Qwen2.5): run
llama.cpp's convert script on the merged safetensors directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from amigo import progress

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
