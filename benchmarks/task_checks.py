"""Does an edit do what was asked? Each trust task's behaviour checks, run in the evaluation sandbox.

    python benchmarks/task_checks.py                 # prove every task's checks: the original
                                                     # fails them, the reference edit passes
    python benchmarks/task_checks.py textwrap.indent # one task, with the output of each run
    python benchmarks/task_checks.py textwrap.indent --try edited.py   # the checks on any edit

The trust benchmark's outcomes say whether a written change parses; a change
that parses can still ignore the instruction or break the function (passes
that recurse forever, sort by the wrong key, drop a branch). Every task of
benchmarks/data/edit_tasks.jsonl and history_tasks.jsonl has a check file,
``benchmarks/data/task_checks/<task id>.py``, written from the instruction and
the function's documented behaviour, never from a model's answer:

* ``SETUP`` (a string): the imports the function needs, since a task's file
  holds the function without its module (``from textwrap import TextWrapper``);
* ``REFERENCE`` (a string): a correct edit of the task's file, which must pass;
* ``ORIGINAL_PASSES`` (optional, default False): the instruction keeps the
  behaviour (``Simplify and speed up``), so the untouched file passes too; then
  ``WRONG`` (a string), a plausible wrong edit, must fail instead;
* the rest of the file: module-level statements (``assert``) run after the
  edited file, among its names. ``SOURCE`` holds the edited file's text (for
  checks of form: a renamed variable, an f-string), ``FUNCTION`` the task's
  function object, and ``raises(exc, fn, *args, **kwargs)`` asserts an
  exception.

Model-written code runs only here, in amigo_train.eval.sandbox (strict:
namespaces, a separate uid, limits), as the project's rules ask.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amigo_train.eval.sandbox import Job, Limits, Sandbox  # noqa: E402

CHECKS = REPO / "benchmarks" / "data" / "task_checks"
TASK_FILES = [REPO / "benchmarks" / "data" / "edit_tasks.jsonl", REPO / "benchmarks" / "data" / "history_tasks.jsonl"]
LIMITS = Limits(wall_s=10.0, memory_mb=512)

# The program run in the sandbox: the setup, the edited file and the checks share one namespace,
# as the function's own module would. Each piece is compiled under its own name so that a failure
# names where it happened (the edited file's line, or the check's).
_RUNNER = '''
import json, linecache, sys, traceback
spec = json.loads(open("spec.json", encoding="utf-8").read())

def raises(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc:
        return
    except BaseException as other:
        raise AssertionError(f"expected {exc.__name__}, got {type(other).__name__}: {other}") from other
    raise AssertionError(f"expected {exc.__name__}, nothing was raised")

def run(text, name, ns):
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)  # tracebacks show the lines
    exec(compile(text, name, "exec", dont_inherit=True), ns)

ns = {"__name__": "task", "raises": raises, "SOURCE": spec["source"]}
try:
    run(spec["setup"], "setup", ns)
    run(spec["source"], spec["path"], ns)
    ns["FUNCTION"] = ns[spec["function"]]
    run(spec["checks"], spec["checks_name"], ns)
except BaseException as exc:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != "sample.py"
              and f.filename != "<string>" and "_zygote" not in f.filename]
    print("Traceback (most recent call last):\\n" + "".join(traceback.format_list(frames)).rstrip())
    print("".join(traceback.format_exception_only(type(exc), exc)).rstrip())
    sys.exit(1)
'''


@dataclass(frozen=True)
class TaskCheck:
    """One task's check file, read without running it (its constants by ``ast.literal_eval``)."""

    task_id: str
    path: Path
    setup: str
    reference: str
    original_passes: bool
    wrong: str | None
    checks: str

    @classmethod
    @functools.cache
    def load(cls, task_id: str) -> "TaskCheck":
        path = CHECKS / f"{task_id}.py"
        if not path.is_file():
            raise FileNotFoundError(f"no check file for task {task_id}: write {path.relative_to(REPO)}")
        text = path.read_text(encoding="utf-8")
        constants: dict[str, Any] = {}
        for node in ast.parse(text).body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id in ("SETUP", "REFERENCE", "ORIGINAL_PASSES", "WRONG")):
                constants[node.targets[0].id] = ast.literal_eval(node.value)
        for name in ("SETUP", "REFERENCE"):
            if name not in constants:
                raise ValueError(f"{path.relative_to(REPO)} has no {name} constant")
        if constants.get("ORIGINAL_PASSES") and not constants.get("WRONG"):
            raise ValueError(f"{path.relative_to(REPO)}: ORIGINAL_PASSES needs a WRONG edit the checks refuse")
        return cls(task_id, path, constants["SETUP"], constants["REFERENCE"],
                   bool(constants.get("ORIGINAL_PASSES")), constants.get("WRONG"), text)


def function_name(task: dict[str, Any]) -> str:
    """The task's function: the last part of its id before any ``@commit``."""
    return task["id"].split("@", 1)[0].rsplit(".", 1)[-1]


def job(task: dict[str, Any], check: TaskCheck, source: str) -> Job:
    """The sandbox job that runs ``check`` on ``source`` (the task's file after an edit)."""
    spec = {"setup": check.setup, "source": source, "path": task["path"], "function": function_name(task),
            "checks": check.checks, "checks_name": f"checks/{check.path.name}"}
    return Job(code=_RUNNER, files={"spec.json": json.dumps(spec)}, limits=LIMITS)


def passes(sandbox: Sandbox, task: dict[str, Any], source: str) -> bool:
    """Whether ``source`` (the task's file after an edit) does what was asked: passes the task's checks."""
    return sandbox.run(job(task, TaskCheck.load(task["id"]), source)).passed


def read_tasks(path: Path) -> list[dict[str, Any]]:
    """The tasks of one JSON-lines task file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_tasks() -> list[dict[str, Any]]:
    """Every trust task, file by file."""
    return [task for path in TASK_FILES for task in read_tasks(path)]


def tasks_by_id(ids: Iterable[str]) -> dict[str, dict[str, Any]] | None:
    """Every task by id, or None, the unknown ones said on stderr, when ``ids`` (those saved
    records name) holds one that benchmarks/data does not."""
    tasks = {task["id"]: task for task in load_tasks()}
    missing = sorted(set(ids) - set(tasks))
    if missing:
        print(f"tasks not in benchmarks/data: {', '.join(missing)}", file=sys.stderr)
        return None
    return tasks


def prove(sandbox: Sandbox, task: dict[str, Any], verbose: bool = False) -> list[str]:
    """What is wrong with ``task``'s checks (empty when they are sound): the reference must pass,
    and the original (or WRONG, when the original keeps the asked behaviour) must fail."""
    check = TaskCheck.load(task["id"])
    problems = []
    runs = [("reference", check.reference, True)]
    if check.original_passes:
        runs += [("wrong edit", check.wrong, False), ("original", task["file_text"], True)]
    else:
        runs.append(("original", task["file_text"], False))
    for label, source, should_pass in runs:
        result = sandbox.run(job(task, check, source))
        if verbose:
            print(f"--- {task['id']}: {label}: {result.status}\n{result.output.strip()[-1500:]}")
        if result.passed != should_pass:
            tail = result.output.strip().splitlines()[-1:] or [result.status]
            problems.append(f"{label} {'failed' if should_pass else 'passed'}: {tail[0][:200]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="task ids (default: all)")
    parser.add_argument("--sandbox", choices=["auto", "strict", "basic"], default="auto")
    parser.add_argument("--try", dest="try_file", type=Path, metavar="FILE",
                        help="run one task's checks on FILE (an edit of its file) and print the output")
    args = parser.parse_args(argv)
    tasks = [t for t in load_tasks() if not args.ids or t["id"] in args.ids]
    if args.ids and len(tasks) != len(set(args.ids)):
        print(f"unknown task ids: {sorted(set(args.ids) - {t['id'] for t in tasks})}", file=sys.stderr)
        return 2
    if args.try_file:
        if len(tasks) != 1:
            print("--try needs exactly one task id", file=sys.stderr)
            return 2
        with Sandbox(workers=1, mode=args.sandbox) as sandbox:
            result = sandbox.run(job(tasks[0], TaskCheck.load(tasks[0]["id"]), args.try_file.read_text()))
        print("\n".join(line for line in result.output.strip().splitlines()
                        if not line.startswith("sample called exit("))[-3000:])
        print(f"{tasks[0]['id']}: {args.try_file}: {result.status}")
        return 0 if result.passed else 1
    bad = 0
    with Sandbox(workers=2, mode=args.sandbox) as sandbox:
        for task in tasks:
            try:
                problems = prove(sandbox, task, verbose=bool(args.ids))
            except (FileNotFoundError, ValueError, SyntaxError) as exc:
                problems = [str(exc)]
            bad += bool(problems)
            print(f"{task['id']}: {'ok' if not problems else '; '.join(problems)}")
    print(f"{len(tasks) - bad} of {len(tasks)} tasks have sound checks")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
