"""GGUF export figures on the real embedded SmolLM2-135M: f16 by Amigo's writer and by
llama.cpp's converter, each quantization's time and size, and how fast each file decodes.

    python benchmarks/gguf_export.py [--threads 1] [--tokens 32] [--dir TMP]

The model is the dequantized embedded SmolLM2 (what `amigo train export` merges onto),
so the figures are those of a real export minus the merge. The converter needs
llama.cpp's source (`bash scripts/build-llama-server.sh`, or AMIGO_LLAMA_CPP_SRC);
without it that row is skipped. Nothing here asserts a time: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amigo.errors import ConfigError  # noqa: E402
from amigo_train.base_model import dequantized_smollm2, embedded_gguf  # noqa: E402
from amigo_train.gguf_export import (QUANTIZATIONS, convert_with_llama_cpp, greedy_llama_cpp,  # noqa: E402
                                     quantize, write_llama_gguf)


def timed(step):  # type: ignore[no-untyped-def]
    """(result, wall seconds) of ``step()``."""
    started = time.perf_counter()
    result = step()
    return result, time.perf_counter() - started


def decode_rate(path: Path, prompt: list[int], tokens: int, threads: int) -> float:
    """Greedy tokens per second llama.cpp decodes from ``path`` after ``prompt`` (prompt included:
    on a 135M model it is a small share)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=len(prompt) + tokens + 8, n_threads=threads, verbose=False)
    got, seconds = timed(lambda: greedy_llama_cpp(llm, prompt, tokens))
    return len(got) / seconds if seconds else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # 1 by default: on an oversubscribed machine llama.cpp's threads wait on each other at every
    # barrier, and 2 threads on 2 loaded cores decoded 0.2 tokens/s where 1 thread does far better
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads for quantizing and decoding")
    parser.add_argument("--tokens", type=int, default=32, help="greedy tokens decoded per file")
    parser.add_argument("--dir", help="where to write the files (default: a temporary folder)")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    model_dir = dequantized_smollm2()
    out = Path(args.dir or tempfile.mkdtemp(prefix="amigo-gguf-"))
    out.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    prompt = [int(i) for i in tok.apply_chat_template(
        [{"role": "user", "content": "Write a Python function that adds two numbers."}],
        add_generation_prompt=True, tokenize=True, return_dict=False)]
    print(f"load average before: {os.getloadavg()}, cpus {os.cpu_count()}, threads {args.threads}")
    rows = []
    f16, seconds = timed(lambda: write_llama_gguf(model_dir, embedded_gguf(), out / "model.gguf"))
    rows.append(("f16, Amigo's writer", seconds, f16))
    try:
        converted, seconds = timed(lambda: convert_with_llama_cpp(model_dir, out / "model-converter.gguf"))
        rows.append(("f16, llama.cpp convert_hf_to_gguf.py", seconds, converted))
    except ConfigError as exc:
        print(f"converter skipped: {exc}")
    for kind in QUANTIZATIONS:
        path, seconds = timed(lambda: quantize(f16, out / f"model-{kind}.gguf", kind, threads=args.threads))
        rows.append((f"{kind}, llama_model_quantize", seconds, path))
    print(f"| file | written in | size | decode tok/s ({args.tokens} greedy tokens) |")
    print("| --- | --- | --- | --- |")
    for label, seconds, path in rows:
        rate = decode_rate(path, prompt, args.tokens, args.threads)
        print(f"| {label} | {seconds:.1f} s | {path.stat().st_size / 2**20:.0f} MiB | {rate:.1f} |")
    print(f"load average after: {os.getloadavg()}; files in {out}")


if __name__ == "__main__":
    main()
