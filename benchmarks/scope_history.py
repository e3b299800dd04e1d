"""How the instruction-scope check (amigo/scope.py) reads real commits: of the commits whose
message asks only for documentation or one rename (as the check reads it), how many changed
Python code beyond that, and would have been refused had the message been the instruction.

    python benchmarks/scope_history.py /work/.mirror/more-itertools+more-itertools/repo ...
    python benchmarks/scope_history.py REPO... --show       # each commit the check would refuse

Real commit messages are the nearest thing to real instructions whose right answer is known:
the commit itself. A commit refused here is either one whose message undersells it (a "fix
docstring" commit that also fixed code) or a wrong reading by the check; reading the shown
cases tells which. The check is worth its place under ``--yes`` only if such cases are rare.
Only modified ``.py`` files count (an added or deleted file is not a change of code in place).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amigo.scope import read_scope, scope_difference  # noqa: E402


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={repo}" if (repo / "HEAD").is_file() else f"-C{repo}", *args],
                          capture_output=True, text=True, errors="replace", check=True).stdout


def commits(repo: Path, limit: int) -> list[tuple[str, str]]:
    """(hash, subject) of the first-parent, non-merge history, newest first."""
    out = git(repo, "log", "--no-merges", f"--max-count={limit}", "--format=%H%x00%s", "HEAD")
    return [tuple(line.split("\0", 1)) for line in out.splitlines() if "\0" in line]  # type: ignore[misc]


def judge_commit(repo: Path, sha: str, subject: str) -> tuple[str, str, list[str]] | None:
    """None when the subject asks for more than documentation or a rename; else (the scope's kind,
    "kept" | "changed" | "no-python", details of the files whose code changed)."""
    scope = read_scope(subject)
    if scope is None:
        return None
    names = git(repo, "diff-tree", "--no-commit-id", "-r", "--name-status", "--no-renames", f"{sha}^", sha)
    modified = [line.split("\t", 1)[1] for line in names.splitlines()
                if line.startswith("M\t") and line.endswith(".py")]
    if not modified:
        return scope.kind, "no-python", []
    changed = []
    for path in modified:
        try:
            old, new = git(repo, "show", f"{sha}^:{path}"), git(repo, "show", f"{sha}:{path}")
        except subprocess.CalledProcessError:
            continue
        line = scope_difference(old, new, scope)
        if line is not None:
            shown = new.splitlines()[line - 1].strip()[:80] if 0 < line <= len(new.splitlines()) else ""
            changed.append(f"{path}:{line}: {shown}")
    return scope.kind, ("changed" if changed else "kept"), changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repos", nargs="+", type=Path, help="git repositories (bare mirrors or work trees)")
    parser.add_argument("--limit", type=int, default=5000, help="commits per repository, newest first")
    parser.add_argument("--show", action="store_true", help="print every commit whose code changed")
    args = parser.parse_args(argv)
    rows = ["| repository | commits read | docs or rename only | kept the code | changed code | no .py modified |",
            "|---|---|---|---|---|---|"]
    total: Counter = Counter()
    for repo in args.repos:
        count: Counter = Counter()
        log = commits(repo, args.limit)
        for sha, subject in log:
            judged = judge_commit(repo, sha, subject)
            if judged is None:
                continue
            kind, verdict, details = judged
            count["scoped"] += 1
            count[verdict] += 1
            total[f"{kind} {verdict}"] += 1
            if verdict == "changed" and args.show:
                print(f"{repo.parent.name if repo.name == 'repo' else repo.name} {sha[:10]} {subject!r}")
                for detail in details[:3]:
                    print(f"    {detail}")
        name = repo.parent.name if repo.name == "repo" else repo.name
        rows.append(f"| {name} | {len(log)} | {count['scoped']} | {count['kept']} | {count['changed']} "
                    f"| {count['no-python']} |")
        total.update(count)
        total["read"] += len(log)
    rows.append(f"| all | {total['read']} | {total['scoped']} | {total['kept']} | {total['changed']} "
                f"| {total['no-python']} |")
    print("\n".join(rows))
    for kind in ("documentation", "rename"):
        print(f"{kind}: kept the code {total[f'{kind} kept']}, changed code {total[f'{kind} changed']}, "
              f"no .py modified {total[f'{kind} no-python']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
