#!/usr/bin/env python3
"""Lost updates between concurrent ``amigo apply`` processes (issue 16, defect 1). Must print 0.

A real file of a real project (default: the ``_pydecimal.py`` of the running
Python's standard library, 6,400 lines) is committed in a scratch git
repository. Each trial resets it, then forks P processes that wait at a
barrier and together run the real command, ``amigo apply ANSWER --yes``,
each answer replacing a different line (spread over the file). Afterwards
the file must equal the original with exactly the edits of the processes
that exited 0 applied; the others must have been refused as stale. An
applied edit missing from the file is a *lost update*; a file that is no
such combination is *corrupt*.

    python benchmarks/safety.py [--trials 300] [--processes 2] [--file PATH] [--feedback]

Run it with ``PYTHONPATH`` pointing at an older checkout to measure that one.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # benchmarks/feedback.py shadows feedback/
if "PYTHONPATH" not in os.environ:  # this checkout, unless told otherwise
    sys.path.insert(0, str(HERE.parent))

from amigo import cli, engine  # noqa: E402,F401  (imported before forking: children start warm)


def _unique_lines(text: str, count: int) -> list[str]:
    """``count`` distinct lines that occur once in ``text``, spread evenly over it."""
    lines = text.splitlines(keepends=True)
    seen = Counter(lines)
    candidates = [i for i, line in enumerate(lines) if seen[line] == 1 and len(line.strip()) > 12]
    if len(candidates) < count:
        raise SystemExit(f"the file has only {len(candidates)} suitable unique lines; need {count}")
    step = len(candidates) // count
    return [lines[candidates[step // 2 + k * step]] for k in range(count)]


def _edited(line: str, k: int) -> str:
    return line.rstrip("\n") + f"  # edited by answer {k}\n"


def _child(barrier: "mp.synchronize.Barrier", answer: Path, repo: Path, log: Path) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    barrier.wait()
    code = cli.main(["apply", str(answer), "--yes", "--repo", str(repo), "--color", "never"])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _trial(repo: Path, name: str, base: str, answers: list[Path], targets: list[str], work: Path) -> dict:
    (repo / name).write_text(base)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(answers))
    logs = [work / f"child-{k}.log" for k in range(len(answers))]
    started = time.perf_counter()
    procs = [ctx.Process(target=_child, args=(barrier, a, repo, log)) for a, log in zip(answers, logs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    elapsed = time.perf_counter() - started
    text = (repo / name).read_text()
    applied = [k for k, p in enumerate(procs) if p.exitcode == 0]
    stale = [k for k, p in enumerate(procs) if p.exitcode == 1 and "stale" in logs[k].read_text()]
    other = [k for k in range(len(procs)) if k not in applied and k not in stale]
    lost = [k for k in applied if _edited(targets[k], k) not in text]
    expected = base
    for k in applied:
        expected = expected.replace(targets[k], _edited(targets[k], k))
    corrupt = not lost and text != expected
    return {"applied": len(applied), "stale": len(stale), "other": len(other), "lost": len(lost),
            "corrupt": corrupt, "seconds": elapsed, "other_log": logs[other[0]].read_text() if other else ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--file", type=Path, default=Path(os.__file__).parent / "_pydecimal.py")
    parser.add_argument("--feedback", action="store_true", help="keep the feedback recorder on (slower)")
    args = parser.parse_args()
    base = args.file.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="amigo-safety-") as tmp:
        work = Path(tmp)
        for name in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
            (work / name).mkdir()
            os.environ[name] = str(work / name)
        os.environ["AMIGO_CONTEXT_BUDGET"] = "0"
        os.environ["AMIGO_MAX_FILE_BYTES"] = str(max(1 << 20, 2 * len(base.encode())))
        if not args.feedback:
            os.environ["AMIGO_FEEDBACK__ENABLED"] = "false"
        repo = work / "repo"
        repo.mkdir()
        name = args.file.name
        (repo / name).write_text(base)
        for cmd in (["init", "-q"], ["add", name], ["-c", "user.name=b", "-c", "user.email=b@b.invalid",
                                                     "commit", "-q", "-m", "base"]):
            subprocess.run(["git", *cmd], cwd=repo, check=True)
        targets = _unique_lines(base, args.processes)
        answers = []
        for k, line in enumerate(targets):
            answer = work / f"answer-{k}.txt"
            answer.write_text(f"{name}\n<<<<<<< SEARCH\n{line}=======\n{_edited(line, k)}>>>>>>> REPLACE\n")
            answers.append(answer)
        results = []
        for i in range(args.trials):
            results.append(_trial(repo, name, base, answers, targets, work))
            if results[-1]["other"]:
                print(f"trial {i}: a process failed otherwise:\n{results[-1]['other_log']}", file=sys.stderr)
    lost = sum(r["lost"] for r in results)
    corrupt = sum(r["corrupt"] for r in results)
    shapes = Counter(f"{r['applied']} applied + {r['stale']} stale" + (f" + {r['other']} other" if r["other"] else "")
                     for r in results)
    print(f"file: {args.file} ({base.count(chr(10)):,} lines), {args.processes} processes per trial, "
          f"{args.trials} trials, feedback {'on' if args.feedback else 'off'}")
    for shape, count in sorted(shapes.items()):
        print(f"  {shape}: {count} trials")
    print(f"  median trial {statistics.median(r['seconds'] for r in results):.2f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"lost updates: {lost}   corrupt files: {corrupt}")
    return 1 if lost or corrupt else 0


if __name__ == "__main__":
    raise SystemExit(main())
