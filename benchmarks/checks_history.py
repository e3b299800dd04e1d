"""The check stage on real commits: which of its error findings real, reviewed changes of public
Python projects set off, with each commit's subject as the instruction.

    python benchmarks/checks_history.py /work/.mirror/more-itertools+more-itertools/repo ...
    python benchmarks/checks_history.py REPO... --limit 500 --show   # each commit found, and why
    python benchmarks/checks_history.py REPO... --files data   # JSON, TOML, YAML and INI files instead
    python benchmarks/checks_history.py REPO... --asking --limit 3000   # subjects the close readings judge

A real commit is the nearest thing to a right answer whose instruction is known (its message).
Most commits are right, so an error finding on one is a false alarm of the check stage, or a
message that undersells the commit ("docs" for a change that also fixed code, which the
``out-of-scope`` finding is meant to catch when a model does it); reading the shown cases tells
which. Three tables: commits with an error finding, by kind; commits with a warning (shown above
the diff, never refused: on a right change it is noise the reviewer reads past); and the commits whose subject the
scope check reads as asking only for documentation or one rename (amigo/scope.py), and whether
their Python code changed beyond that. Only modified files are judged (an added or deleted file
is not an edit in place): ``.py`` files, or with ``--files data`` the data files the check stage
reads with their formats' parsers (:mod:`amigo.datafiles`); merge and root commits are not.

``--asking`` judges only the commits whose subject asks in a shape that a rule reading the
instruction closely holds the change to: code spelt out (:mod:`amigo.named_terms`), an exception
asked when a name is something, one thing more asked of a function ("Return ...", "Raise ...",
"Also ..."). Such subjects are one commit in a few dozen, so a deep history (``--limit 3000``)
gives enough of them, and only those are diffed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amigo.checks import (  # noqa: E402
    ASKS_ONE_THING_MORE, ASKS_TO_RAISE_WHEN, UsedElsewhere, check_changes, repository_uses,
)
from amigo.named_terms import terms  # noqa: E402
from amigo.datafiles import format_of  # noqa: E402
from amigo.scope import read_scope  # noqa: E402
from benchmarks.edit_apply import commit_files  # noqa: E402

MAX_FILE_BYTES = 400_000  # generated tables and vendored files say nothing about edits
COUNTED = {"python": lambda path: path.endswith(".py"), "data": lambda path: format_of(path) is not None}
COUNTED_AS = {"python": "Python", "data": "data (JSON, TOML, YAML, INI)"}


def judge_commit(files: list[tuple[str, str, str]], subject: str, counted: str = "python",
                 repository: UsedElsewhere | None = None) -> tuple[Counter, list[str], Counter] | None:
    """The error findings' kinds over a commit's modified files of the ``counted`` kind (see
    COUNTED; ``edit_apply.commit_files``), one line for each, and the warnings' kinds (None when
    it modifies none). ``repository``: the commit's tree, searched as the engine searches a work
    tree (``repository_uses``)."""
    modified = {path for path, old, new in files if COUNTED[counted](path) and old and new}
    if not modified:
        return None
    # every file it writes is checked with the rest (a definition may move to a new one; a proposal
    # that changes only Python docstrings may have done its work elsewhere), the modified Python counted
    changes = [(path, old or None, new) for path, old, new in files if new]
    kinds: Counter = Counter()
    warned: Counter = Counter()
    details = []
    for finding in check_changes(changes, subject, repository=repository):
        if finding.path not in modified:
            continue
        if finding.level == "error":
            kinds[finding.kind] += 1
            details.append(f"{finding.kind}: {finding.path}: {finding.message[:150]}")
        else:
            warned[finding.kind] += 1
    return kinds, details, warned


def asks_closely(subject: str) -> bool:
    """Whether a rule that reads the instruction closely judges a commit with this subject (--asking)."""
    return bool(terms(subject) or ASKS_TO_RAISE_WHEN.search(subject) or ASKS_ONE_THING_MORE.match(subject))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repos", nargs="+", type=Path, help="git repositories (bare mirrors or work trees)")
    parser.add_argument("--limit", type=int, default=1000, help="commits per repository, newest first")
    parser.add_argument("--show", action="store_true", help="print every commit with an error finding")
    parser.add_argument("--files", choices=sorted(COUNTED), default="python",
                        help="which modified files are judged: Python, or JSON/TOML/YAML/INI")
    parser.add_argument("--asking", action="store_true",
                        help="only commits whose subject spells out code or asks one thing more (see above)")
    args = parser.parse_args(argv)
    by_kind: Counter = Counter()
    warned_by_kind: Counter = Counter()
    scoped: Counter = Counter()
    judged = 0
    for repo in args.repos:
        name = repo.parent.name if repo.name == "repo" else repo.name
        for sha, subject, files in commit_files(repo, args.limit, MAX_FILE_BYTES,
                                                asks_closely if args.asking else None):
            result = judge_commit(files, subject, args.files, repository_uses(repo, sha))
            if result is None:
                continue
            kinds, details, warned = result
            judged += 1
            by_kind.update(set(kinds))
            by_kind["any"] += bool(kinds)
            warned_by_kind.update(set(warned))
            warned_by_kind["any"] += bool(warned)
            scope = read_scope(subject)
            if scope is not None:
                scoped[scope.kind, "changed" if kinds["out-of-scope"] else "kept"] += 1
            if kinds and args.show:
                print(f"{name} {sha[:10]} {subject[:90]!r}")
                for detail in details[:3]:
                    print(f"    {detail}")
    print(f"{judged} commits modifying {COUNTED_AS[args.files]} files, from {len(args.repos)} repositories\n")
    print("| error finding | commits |\n|---|---|")
    for kind, count in by_kind.most_common():
        print(f"| {kind} | {count} ({100 * count / max(1, judged):.1f}%) |")
    print("\n| warning (never refused) | commits |\n|---|---|")
    for kind, count in warned_by_kind.most_common():
        print(f"| {kind} | {count} ({100 * count / max(1, judged):.1f}%) |")
    print("\n| subject read as asking only for | commits | code kept | code changed beyond it |\n|---|---|---|---|")
    for kind in ("documentation", "rename"):
        kept, changed = scoped[kind, "kept"], scoped[kind, "changed"]
        print(f"| {kind} | {kept + changed} | {kept} | {changed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
