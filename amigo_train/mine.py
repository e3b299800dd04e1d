"""Mine CommitPackFT-schema records from local git repositories (GitPython).

The OctoPack filters keep commits whose subject reads like an instruction:
it starts with an imperative verb, is 10-1000 characters and more than 4 words,
is no merge, version bump, bare hash or URL; the commit changes exactly one
file, the old file exists, is text, is under 50k characters, and the new one differs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from amigo import progress
from amigo.filetypes import language_of, looks_binary

IMPERATIVE_VERBS = frozenset("""
add adjust allow append apply avoid bump call change check clarify clean cleanup clear close
collect combine comment compute configure convert copy correct create decrease define delete
deprecate disable display document drop enable enforce ensure exclude expand expose extend extract
fix format generate handle hide ignore implement import improve include increase initialize inline
insert install introduce invert keep limit load log make mark merge migrate move normalize optimize
optimise override parse pass patch prefer prepare prevent print process raise read rearrange
refactor reformat regenerate register reject release remove rename reorder reorganize replace
report require reset resolve restore restrict restructure return reuse revert rewrite run save
send separate set show simplify skip sort speed split standardize start stop store strip support
swap switch sync test throw tidy toggle track translate trim truncate tweak unify update upgrade
use validate verify wrap write
""".split())
_HASH = re.compile(r"\b[0-9a-f]{7,40}\b")
_URL = re.compile(r"https?://|www\.")
_VERSION_BUMP = re.compile(r"\b(bump|release|version)\b.*\d+\.\d+|^v?\d+\.\d+(\.\d+)?$", re.I)
MAX_OLD_CHARS = 50_000


@dataclass(frozen=True)
class MineStats:
    """How many commits each filter dropped (the report ``mine-commits`` prints)."""

    seen: int
    kept: int
    dropped: dict[str, int]


def subject_problem(subject: str) -> str | None:
    """Why an OctoPack filter rejects this subject line, or None when it passes."""
    s = subject.strip()
    if not 10 <= len(s) <= 1000:
        return "length"
    words = s.split()
    if len(words) <= 4:
        return "too-few-words"
    if words[0].lower().rstrip(":,") not in IMPERATIVE_VERBS:
        return "not-imperative"
    if s.lower().startswith("merge") and ("branch" in s.lower() or "pull request" in s.lower()):
        return "merge"
    if _VERSION_BUMP.search(s):
        return "version-bump"
    if _HASH.search(s):
        return "hash"
    if _URL.search(s):
        return "url"
    return None


def _text(blob) -> str | None:  # type: ignore[no-untyped-def]
    data = blob.data_stream.read()
    if looks_binary(data):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def mine_repo(repo_path: str | Path, max_commits: int | None = None, branch: str | None = None,
              dropped: dict[str, int] | None = None) -> Iterator[dict[str, object]]:
    """Yield CommitPackFT records (plus ``date``) for commits of one repository, newest first."""
    import git

    repo = git.Repo(str(repo_path))
    name = Path(repo.working_tree_dir or repo_path).name
    dropped = dropped if dropped is not None else {}

    def drop(reason: str) -> None:
        dropped[reason] = dropped.get(reason, 0) + 1

    total = int(repo.git.rev_list("--count", branch or "HEAD"))
    with progress.task(f"mining {name}", min(total, max_commits) if max_commits is not None else total,
                       "commits") as reporter:
        yield from _mine_commits(repo, name, branch, max_commits, drop, reporter)


def _mine_commits(repo, name: str, branch: str | None, max_commits: int | None,  # type: ignore[no-untyped-def]
                  drop: Callable[[str], None], reporter: progress.Task) -> Iterator[dict[str, object]]:
    for n, commit in enumerate(repo.iter_commits(branch or "HEAD")):
        if max_commits is not None and n >= max_commits:
            break
        reporter.advance()
        if len(commit.parents) != 1:
            drop("merge" if len(commit.parents) > 1 else "root")
            continue
        subject = commit.message.strip().splitlines()[0] if commit.message.strip() else ""
        problem = subject_problem(subject)
        if problem:
            drop(problem)
            continue
        diffs = commit.parents[0].diff(commit)
        if len(diffs) != 1:
            drop("not-single-file")
            continue
        d = diffs[0]
        if d.a_blob is None or d.b_blob is None:
            drop("added-or-deleted")
            continue
        old, new = _text(d.a_blob), _text(d.b_blob)
        if old is None or new is None:
            drop("binary")
            continue
        if len(old) > MAX_OLD_CHARS:
            drop("too-large")
            continue
        if old == new:
            drop("unchanged")
            continue
        yield {
            "commit": commit.hexsha, "old_file": d.a_path, "new_file": d.b_path,
            "old_contents": old, "new_contents": new, "subject": subject,
            "message": commit.message.strip(), "lang": _lang(d.b_path), "license": "unknown",
            "repos": name, "date": commit.committed_date,
        }


def _lang(path: str) -> str:
    return language_of(path)


def mine_to_file(repos: list[str], out: str | Path, max_commits: int | None = None) -> MineStats:
    """Mine every repository into one JSON Lines file; returns the filter report."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dropped: dict[str, int] = {}
    kept = 0
    with out.open("w", encoding="utf-8") as fh:
        for repo in repos:
            for rec in mine_repo(repo, max_commits, dropped=dropped):
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                kept += 1
    return MineStats(seen=kept + sum(dropped.values()), kept=kept, dropped=dropped)
