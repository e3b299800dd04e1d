"""Mine edit tasks from a real project's history: commits that change one top-level function.

Each task is the function as it was before the commit (its own one-function file,
like edit_tasks.jsonl), the commit's subject as the instruction, and as ``expect``
the longest line the commit added to the function (a rough correctness signal:
a change that does what the commit did is likely to contain it).

    python benchmarks/data/mine_history_tasks.py GIT_DIR more_itertools/more.py,more_itertools/recipes.py \\
        --origin more-itertools/more-itertools --limit 12 > benchmarks/data/history_tasks.jsonl

GIT_DIR is a clone or a bare mirror (the ``fetch`` tool's snapshot works).
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys

MAX_FUNCTION_LINES = 60  # the embedded model's context and a short answer
MIN_FUNCTION_LINES = 5  # a stub (a deprecation alias) gives the model nothing to keep intact
MAX_CHANGED_LINES = 12
MIN_SUBJECT_CHARS = 15  # "commit", "." and "Wordsmithing" say nothing a model could follow


def git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True, capture_output=True,
                          text=True, errors="replace").stdout


def functions(text: str) -> dict[str, tuple[int, int]]:
    """Top-level functions: name -> (first line, last line), decorators included."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    spans = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans[node.name] = (first, node.end_lineno or node.lineno)
    return spans


def source_of(text: str, span: tuple[int, int]) -> str:
    return "".join(text.splitlines(keepends=True)[span[0] - 1: span[1]])


def task_from(git_dir: str, commit: str, subject: str, path: str, origin: str) -> dict | None:
    """The task of one commit's change to ``path``, or None when it is not one function's change."""
    try:
        old, new = git(git_dir, "show", f"{commit}~1:{path}"), git(git_dir, "show", f"{commit}:{path}")
    except subprocess.CalledProcessError:
        return None
    before, after = functions(old), functions(new)
    changed = [name for name in before
               if name in after and source_of(old, before[name]) != source_of(new, after[name])]
    others_same = [n for n in before if n not in changed and (n not in after
                   or source_of(old, before[n]) != source_of(new, after[n]))]
    if len(changed) != 1 or others_same or set(after) - set(before):
        return None
    name = changed[0]
    old_fn, new_fn = source_of(old, before[name]), source_of(new, after[name])
    if not MIN_FUNCTION_LINES <= old_fn.count("\n") <= MAX_FUNCTION_LINES:
        return None
    old_lines, new_lines = old_fn.splitlines(), new_fn.splitlines()
    added = [line.strip() for line in new_lines if line not in old_lines and line.strip()]
    removed = [line for line in old_lines if line not in new_lines]
    if not added or len(added) + len(removed) > MAX_CHANGED_LINES:
        return None
    expect = max(added, key=len)
    return {"id": f"{path.rsplit('/', 1)[-1][:-3]}.{name}@{commit[:8]}", "origin": f"{origin}@{commit[:12]} {path}",
            "path": path.rsplit("/", 1)[-1], "file_text": old_fn, "instruction": subject.strip().rstrip(".") + ".",
            "expect": expect}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("git_dir")
    parser.add_argument("paths", help="comma-separated source files to mine")
    parser.add_argument("--origin", required=True, help="owner/name, recorded with every task")
    parser.add_argument("--limit", type=int, default=12)
    args = parser.parse_args(argv)
    paths = args.paths.split(",")
    log = git(args.git_dir, "log", "--no-merges", "--format=%H%x00%s", "--", *paths)
    found = 0
    for line in log.splitlines():
        commit, subject = line.split("\0", 1)
        if len(subject) < MIN_SUBJECT_CHARS or subject.lower().startswith(("merge", "revert", "bump")):
            continue
        touched = [p for p in git(args.git_dir, "show", "--format=", "--name-only", commit).split() if p in paths]
        if len(touched) != 1:
            continue
        task = task_from(args.git_dir, commit, subject, touched[0], args.origin)
        if task is not None:
            print(json.dumps(task))
            found += 1
            if found >= args.limit:
                break
    print(f"{found} tasks", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
