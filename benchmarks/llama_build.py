"""Decode speed of llama.cpp builds side by side: the portable wheel Amigo builds vs a native one.

Each build is a llama-cpp-python wheel; it is unpacked into its own folder and
imported ahead of the installed one by a child process, which loads the
embedded SmolLM2-135M GGUF, processes a short prompt and streams
``--tokens`` tokens at temperature 0. The child's exit status is kept: a
native build on a CPU that reports AMX dies with SIGSEGV on its first
completion (llama.cpp's AMX path), and that is a result too.

    # the portable wheel `make setup` built, and a native one built for the comparison:
    CMAKE_ARGS=-DGGML_NATIVE=ON pip wheel --no-cache-dir --no-deps llama-cpp-python==0.3.36 -w /tmp/native-wheel
    python benchmarks/llama_build.py portable=~/.cache/amigo/wheels/<tag> native=/tmp/native-wheel --runs 3

Runs alternate between the builds (portable, native, portable, ...) so that a
machine whose load changes treats both alike; medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CHILD = r"""
import json, sys, time
import llama_cpp
from amigo.serve import embedded_model_path
info = llama_cpp.llama_print_system_info().decode()
llm = llama_cpp.Llama(model_path=str(embedded_model_path()), n_ctx=1024, n_threads=int(sys.argv[2]), verbose=False,
                      seed=0)
prompt = "<|im_start|>user\nWrite a long story about a robot who learns to garden.<|im_end|>\n<|im_start|>assistant\n"
started = time.perf_counter()
first = None
count = 0
for chunk in llm.create_completion(prompt, max_tokens=int(sys.argv[1]), temperature=0.0, stream=True):
    now = time.perf_counter()
    if first is None:
        first = now
    count += 1
end = time.perf_counter()
print(json.dumps({"tokens": count, "first_s": first - started, "decode_tok_s": (count - 1) / (end - first),
                  "file": llama_cpp.__file__, "features": info}))
"""


def unpack(folder: Path, into: Path) -> Path:
    wheels = sorted(folder.expanduser().glob("llama_cpp_python-*.whl"))
    if not wheels:
        raise SystemExit(f"{folder}: no llama_cpp_python wheel there")
    with zipfile.ZipFile(wheels[-1]) as archive:
        archive.extractall(into)
    return into


def run_once(site: Path, tokens: int, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(Path(__file__).resolve().parents[1])])}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tokens), str(threads)], env=env, capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        how = (signal.Signals(-done.returncode).name if done.returncode < 0 else f"exit {done.returncode}")
        return {"crashed": how, "stderr": done.stderr[-300:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("builds", nargs="+", help="NAME=WHEEL_FOLDER")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    args = parser.parse_args()
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="llama-builds-") as tmp:
        sites = {}
        for spec in args.builds:
            name, _, folder = spec.partition("=")
            sites[name] = unpack(Path(folder), Path(tmp) / name)
        for run in range(args.runs):
            for name, site in sites.items():
                result = run_once(site, args.tokens, args.threads)
                results.setdefault(name, []).append(result)
                print(f"run {run + 1} {name}: " + (f"CRASHED ({result['crashed']}): "
                      f"{(result['stderr'].strip().splitlines() or [''])[-1][:200]}" if "crashed" in result else
                      f"{result['decode_tok_s']:.1f} tok/s decode, first token {result['first_s'] * 1000:.0f} ms"),
                      flush=True)
    print(f"\n{'build':<10} {'decode tok/s (median)':>22} {'first token ms':>15}  features")
    for name, runs in results.items():
        ok = [r for r in runs if "crashed" not in r]
        if not ok:
            print(f"{name:<10} {'crashed: ' + runs[0]['crashed']:>22}")
            continue
        features = " ".join(p.split("=")[0].strip() for p in ok[0]["features"].split("|") if p.strip().endswith("1"))
        print(f"{name:<10} {statistics.median(r['decode_tok_s'] for r in ok):>22.1f} "
              f"{statistics.median(r['first_s'] for r in ok) * 1000:>15.0f}  {features}"
              + (f"  ({len(runs) - len(ok)} of {len(runs)} runs crashed)" if len(ok) < len(runs) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
