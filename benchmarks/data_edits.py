"""Edits to data files (JSON, TOML, YAML, INI) from real history: what ``amigo edit --yes`` writes.

    python benchmarks/data_edits.py mine REPO... --out benchmarks/data/data_edit_tasks.jsonl
    python benchmarks/data_edits.py run --tasks benchmarks/data/data_edit_tasks.jsonl --runs 0x1,2x4 --out R.jsonl
    python benchmarks/data_edits.py judge R.jsonl [R2.jsonl ...]      # the table, no model needed
    python benchmarks/data_edits.py judge R.jsonl --recheck   # what today's check stage refuses of what R wrote

``mine`` takes small real changes to ``package.json``, ``pyproject.toml``, ``Cargo.toml``,
GitHub workflows and other data files from the history of public repositories: the commit's
subject is the instruction, the file before it the task, the file after it the reference. A
file of more than MAX_WHOLE_LINES lines is given with the changed lines selected (and a few
around them), as a person would select them in an editor.

``run`` asks the engine (amigo.engine.EditSession, the embedded model unless ``--endpoint``)
for each task with each ``(repair attempts)x(candidates)`` pair and records what ``--yes``
would write; run from a checkout of another commit (copy this file and benchmarks/trust.py
there) it records that engine. ``judge`` reads written files with the formats' own parsers
(:mod:`amigo.datafiles`), against the reference, never through the check stage:

* refused: nothing written;
* broken: written, and the file no longer parses (a JSONC file read as JSONC);
* lost content: written and parses, but a key or a list's item that the real commit kept is gone
  (counted per item: a hook of a pre-commit config gone is a key ``*.id`` fewer, a package gone
  from a conda environment's list one item fewer);
* as the commit: written, and its parsed value is the reference's (what was asked, exactly);
* other: written, parses, keeps the keys, and differs from the reference (another way of doing
  it, part of it, or a wrong value: read them with ``--show``).
"""

from __future__ import annotations

import argparse
import difflib
import configparser
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MAX_FILE_BYTES = 40_000
MAX_CHANGED_LINES = 12  # removed plus added lines of the file: a small, targeted change
MAX_WHOLE_LINES = 40  # longer files are asked about with the changed lines selected
CONTEXT_LINES = 3  # unchanged lines selected around the change
MAX_SELECTED_LINES = 30
MIN_SUBJECT_WORDS = 3
_TRAILER = re.compile(r"\s*\((#\d+|gh-\d+)\)\s*$")
OUTCOMES = ("refused", "broken", "lost content", "as the commit", "other")


# ------------------------------------------------------------------ mine


def changed_span(old: str, new: str) -> tuple[int, int, int] | None:
    """(first, last) 1-based old lines the change touches (an insertion touches the line before
    it) and the number of lines removed plus added; None when nothing changed."""
    a, b = old.splitlines(), new.splitlines()
    ops = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if not ops:
        return None
    touched = [(i1 + 1, i2) if i1 < i2 else (max(1, i1), max(1, i1)) for _, i1, i2, _, _ in ops]
    first, last = min(a for a, _ in touched), max(b for _, b in touched)
    return first, last, sum((i2 - i1) + (j2 - j1) for _, i1, i2, j1, j2 in ops)


def task_of(repo_name: str, sha: str, subject: str, path: str, old: str, new: str,
            formats: frozenset[str] | None = None) -> dict[str, Any] | None:
    """The task a real change to a data file makes (of one of ``formats``, default every one the
    check stage reads), or None when it is not a small, parsing edit with an instruction of a few words."""
    from amigo.datafiles import FORMATS, format_of, reading

    fmt = format_of(path)
    instruction = _TRAILER.sub("", subject).strip()
    if fmt not in (formats or FORMATS) or len(instruction.split()) < MIN_SUBJECT_WORDS or not old.strip():
        return None
    read = reading(old, fmt)
    if read is None or reading(new, fmt) is None:
        return None
    span = changed_span(old, new)
    if span is None or span[2] > MAX_CHANGED_LINES:
        return None
    lines = old.count("\n") + (not old.endswith("\n"))
    selection = None
    if lines > MAX_WHOLE_LINES:
        first, last = max(1, span[0] - CONTEXT_LINES), min(lines, span[1] + CONTEXT_LINES)
        if last - first + 1 > MAX_SELECTED_LINES:
            return None
        selection = [first, last]
    return {"id": f"{repo_name}@{sha[:8]}:{path}", "origin": f"{repo_name}@{sha[:12]} {path}", "path": path,
            "format": fmt, "file_text": old, "selection": selection, "instruction": instruction, "after_text": new}


def mine(repos: list[Path], limit: int, per_repo: int, formats: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Up to ``per_repo`` tasks from each repository, spread over its last ``limit`` commits."""
    from benchmarks.edit_apply import commit_files

    tasks = []
    for repo in repos:
        name = repo.parent.name if repo.name == "repo" else repo.name
        found, seen = [], set()
        for sha, subject, files in commit_files(repo, limit, MAX_FILE_BYTES):
            for path, old, new in files:
                task = task_of(name.replace("+", "/"), sha, subject, path, old, new, formats) if old and new else None
                if task is not None and (path, task["instruction"].lower()) not in seen:
                    seen.add((path, task["instruction"].lower()))
                    found.append(task)
        step = max(1, len(found) // per_repo) if found else 1
        tasks += found[::step][:per_repo]
        print(f"# {name}: {len(found)} candidate changes, {min(per_repo, len(found[::step]))} kept", flush=True)
    return tasks


# ------------------------------------------------------------------ run


def run_task(endpoint: str, model: str, task: dict[str, Any], folder: Path, repair: int, candidates: int,
             max_tokens: int) -> dict[str, Any]:
    """One task through the engine: what ``--yes`` writes (None: refused) and the seconds taken."""
    from amigo.client import ChatClient
    from amigo.config import Config
    from amigo.engine import EditSession
    from amigo.errors import ModelServerError
    from amigo.workspace import Workspace
    from benchmarks.trust import task_repo

    config = Config(endpoint=endpoint, model=model, context_budget=0, repair_attempts=repair,
                    candidates=candidates, max_tokens=max_tokens, read_timeout=600.0)
    root = task_repo(folder, task)
    session = EditSession(config, Workspace(root), ChatClient(endpoint, model, read_timeout=600.0, retries=1))
    started = time.monotonic()
    record: dict[str, Any] = {"task": task["id"], "repair": repair, "candidates": candidates}
    selection = tuple(task["selection"]) if task.get("selection") else None
    try:
        proposal = session.propose(session.make_request(task["instruction"], task["path"], selection=selection))
    except ModelServerError as exc:
        return {**record, "written": None, "seconds": time.monotonic() - started, "detail": str(exc)[:200]}
    finally:
        session.close()
    writes = proposal.ok and not proposal.broken
    change = next((c for c in proposal.changes if c.path == task["path"]), None)
    return {**record, "written": change.new_text if writes and change is not None else None,
            "other_files": sorted(c.path for c in proposal.changes if c.path != task["path"]) if writes else [],
            "seconds": round(time.monotonic() - started, 2), "attempts": proposal.attempt,
            "detail": "; ".join([*proposal.errors, *(str(f) for f in proposal.findings)])[:300]}


# ------------------------------------------------------------------ judge


def _composed(node: yaml.Node | None) -> Any:
    """A composed YAML node as plain values (tags left aside: they need no constructor)."""
    if isinstance(node, yaml.MappingNode):
        return {json.dumps(_composed(k)): _composed(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_composed(item) for item in node.value]
    return None if node is None else node.value


def value_of(text: str, fmt: str, jsonc: bool) -> Any:
    """The parsed value of ``text`` (raises where it does not parse)."""
    import tomllib

    from amigo.datafiles import jsonc_to_json

    if fmt == "json":
        return json.loads(jsonc_to_json(text) if jsonc else text)
    if fmt == "toml":
        return tomllib.loads(text)
    if fmt == "ini":  # as setuptools, tox and flake8 read it; a value of several lines is a list of them
        parser = configparser.ConfigParser(interpolation=None, strict=True, default_section="\0")
        parser.optionxform = str  # type: ignore[assignment, method-assign]
        parser.read_string(text)
        return {section: {name: _ini_lines(value) for name, value in parser.items(section, raw=True)}
                for section in parser.sections()}
    return [_composed(doc) for doc in yaml.compose_all(text, Loader=yaml.SafeLoader)]


def _ini_lines(value: str | None) -> str | list[str] | None:
    return [line.strip() for line in value.splitlines() if line.strip()] if value and "\n" in value else value


def key_counts(value: Any, prefix: tuple[str, ...] = ()) -> Counter:
    """How often each key path occurs in a parsed value (list items as ``*``, a plain value in a
    list as ``=value`` under it): a list of hooks that lost one of its items has one ``*.id``
    fewer."""
    counts: Counter = Counter()
    if isinstance(value, dict):
        for key, inner in value.items():
            counts[(*prefix, str(key))] += 1
            counts += key_counts(inner, (*prefix, str(key)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                counts += key_counts(item, (*prefix, "*"))
            else:
                counts[(*prefix, "*", f"={item}")] += 1
    return counts


def outcome(task: dict[str, Any], written: str | None) -> str:
    """One of OUTCOMES for what ``--yes`` wrote."""
    from amigo.datafiles import reading

    if written is None:
        return "refused"
    fmt = task["format"]
    jsonc = reading(task["file_text"], fmt) == "jsonc"
    try:
        value = value_of(written, fmt, jsonc)
    except Exception:  # noqa: BLE001 - any parser's refusal is "broken"
        return "broken"
    after = value_of(task["after_text"], fmt, jsonc)
    kept = key_counts(value_of(task["file_text"], fmt, jsonc)) & key_counts(after)  # what the commit kept
    if kept - key_counts(value):
        return "lost content"
    return "as the commit" if value == after else "other"


def recheck(task: dict[str, Any], written: str) -> bool:
    """Whether the check stage of this checkout refuses ``written`` (an error finding)."""
    from amigo.checks import check_changes, has_errors

    selection = (task["path"], tuple(task["selection"])) if task.get("selection") else None
    return has_errors(check_changes([(task["path"], task["file_text"], written)], task["instruction"], selection))


def judge(paths: list[Path], tasks_path: Path, show: str | None, rechecked: bool = False) -> str:
    """The table of saved runs: one row per record file and configuration; with ``rechecked``,
    of each outcome written, how many this checkout's check stage refuses."""
    tasks = {t["id"]: t for t in map(json.loads, tasks_path.read_text().splitlines()) if t}
    rows = ["| records | repair | candidates | tasks | refused | broken | lost content | as the commit | other "
            "| s/task |", "|---|---|---|---|---|---|---|---|---|---|"]
    for path in paths:
        groups: dict[tuple[int, int], list[dict]] = defaultdict(list)
        for record in map(json.loads, path.read_text().splitlines()):
            groups[record["repair"], record["candidates"]].append(record)
        for (repair, candidates), records in sorted(groups.items()):
            counts = Counter(outcome(tasks[r["task"]], r["written"]) for r in records)
            refused_now = Counter(outcome(tasks[r["task"]], r["written"]) for r in records
                                  if rechecked and r["written"] is not None and recheck(tasks[r["task"]], r["written"]))
            seconds = sum(r["seconds"] for r in records) / len(records)
            rows.append(f"| {path.name} | {repair} | {candidates} | {len(records)} | " + " | ".join(
                f"{counts[o]}" + (f" ({refused_now[o]} refused now)" if rechecked and o != "refused" else "")
                for o in OUTCOMES) + f" | {seconds:.1f} |")
            for r in records:
                if show and outcome(tasks[r["task"]], r["written"]) == show:
                    print(f"--- {path.name} r{repair}c{candidates} {r['task']}: {tasks[r['task']]['instruction']!r}")
                    print("".join(difflib.unified_diff(tasks[r["task"]]["file_text"].splitlines(True),
                                                       (r["written"] or "").splitlines(True), n=1))[:1500])
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mine", help="tasks from real commits")
    m.add_argument("repos", nargs="+", type=Path)
    m.add_argument("--limit", type=int, default=1500, help="commits per repository, newest first")
    m.add_argument("--per-repo", type=int, default=6)
    m.add_argument("--formats", help="comma-separated: only these (json, toml, yaml, ini); default all")
    m.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run", help="ask the engine for every task")
    r.add_argument("--tasks", type=Path, default=REPO / "benchmarks" / "data" / "data_edit_tasks.jsonl")
    r.add_argument("--runs", default="0x1,2x4", help="(repair attempts)x(candidates) pairs")
    r.add_argument("--endpoint", help="an OpenAI-compatible /v1 URL (default: start the embedded model)")
    r.add_argument("--model", default="smollm2-135m-instruct")
    r.add_argument("--parallel", type=int, default=4, help="llama-server slots of the started server")
    r.add_argument("--max-tokens", type=int, default=320)
    r.add_argument("--out", type=Path, required=True)
    j = sub.add_parser("judge", help="the table of saved runs")
    j.add_argument("records", nargs="+", type=Path)
    j.add_argument("--tasks", type=Path, default=REPO / "benchmarks" / "data" / "data_edit_tasks.jsonl")
    j.add_argument("--show", choices=OUTCOMES, help="print the diff of every written file with this outcome")
    j.add_argument("--recheck", action="store_true",
                   help="also count what this checkout's check stage refuses of what each run wrote")
    args = parser.parse_args(argv)
    if args.command == "mine":
        tasks = mine(args.repos, args.limit, args.per_repo,
                     frozenset(args.formats.split(",")) if args.formats else None)
        args.out.write_text("".join(json.dumps(t) + "\n" for t in tasks))
        print(f"{len(tasks)} tasks -> {args.out}")
        return 0
    if args.command == "judge":
        print(judge(args.records, args.tasks, args.show, args.recheck))
        return 0
    tasks = [json.loads(line) for line in args.tasks.read_text().splitlines() if line.strip()]
    runs = [tuple(int(x) for x in spec.split("x")) for spec in args.runs.split(",")]
    server = None
    if args.endpoint is None:
        from amigo.serve import ServerProcess

        server = ServerProcess(port=0, n_ctx=4096, backend="auto", parallel=args.parallel)
        server.start(timeout=180)
        args.endpoint = server.base_url
    print(f"# {len(tasks)} tasks, engine at {REPO}; load average {os.getloadavg()[0]:.2f}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="amigo-data-edits-") as tmp, args.out.open("w") as out:
            for t, task in enumerate(tasks):
                for k, (repair, candidates) in enumerate(runs if t % 2 == 0 else runs[::-1]):
                    record = run_task(args.endpoint, args.model, task, Path(tmp) / f"t{t}r{k}", repair, candidates,
                                      args.max_tokens)
                    out.write(json.dumps(record) + "\n")
                    out.flush()
                    wrote = "refused" if record["written"] is None else "written"  # judged by `judge`
                    print(f"r{repair}c{candidates} {task['id'][:60]:60} {wrote:8} "
                          f"{record['seconds']:5.1f} s", flush=True)
    finally:
        if server is not None:
            server.stop()
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
