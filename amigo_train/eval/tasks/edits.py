"""Amigo's own edit benchmark: held-out real commits, asked as Amigo asks, scored on the edit.

Each record is one commit that changed one file: the commit message is the
instruction, the file before is the input, the file after is the target. The
prompt is ``amigo.prompt.build_messages`` (the very prompt the editor sends)
and the answer goes through ``amigo.edits.apply_answer``, so this measures
exactly what a user would get. Metrics: well-formed %, applies %, exact file %.
"""

from __future__ import annotations

import json
from pathlib import Path

import git

from amigo.edits import apply_answer, parse_blocks
from amigo.errors import InputError
from amigo.prompt import EditRequest, build_messages, render_answer
from amigo_train.eval.data import data_dir, read_jsonl, require
from amigo_train.eval.sandbox import Sandbox
from amigo_train.eval.tasks.base import Outcome, Problem, Task

DEFAULT_FILE = "amigo_edits/edits.jsonl"


def request_of(problem: Problem) -> EditRequest:
    d = problem.data
    selection = tuple(d["selection"]) if d.get("selection") else None
    return EditRequest(instruction=d["instruction"], path=d["path"], file_text=d["before"],
                       selection=selection, edit_format=d.get("edit_format", "blocks"))  # type: ignore[arg-type]


class AmigoEdits(Task):
    """Instruction + file -> SEARCH/REPLACE blocks, scored by applying them."""

    needs_sandbox = False
    name = "amigo-edits"
    prompt_format = "amigo.prompt.build_messages (system + one user turn, blocks format)"

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None

    def load(self, data_dir_arg: str | Path | None = None, download: bool = False) -> list[Problem]:
        path = self.path
        if path is None:
            folder = data_dir(data_dir_arg)
            path = folder / DEFAULT_FILE if folder else None
        if path is None or not path.is_file():
            raise InputError("no Amigo edit benchmark file: pass --edits FILE.jsonl (make one from a "
                             "repository with `amigo eval mine-edits --repo PATH --out FILE.jsonl`) or put "
                             f"it at $AMIGO_DATA_DIR/{DEFAULT_FILE}")
        problems = []
        for i, rec in enumerate(read_jsonl(path)):
            require(rec, ("instruction", "path", "before", "after"), str(path))
            problems.append(Problem(str(rec.get("id") or f"edit/{i}"), rec))
        return problems

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        return build_messages(request_of(problem))

    def reference(self, problem: Problem) -> str:
        return render_answer(request_of(problem), problem.data["after"])

    def buggy(self, problem: Problem) -> str | None:
        path = problem.data["path"]
        return f"{path}\n<<<<<<< SEARCH\nthis line is not in the file 0xdeadbeef\n=======\nx\n>>>>>>> REPLACE\n"

    def score(self, problem: Problem, answer: str, sandbox: Sandbox | None) -> Outcome:
        d = problem.data
        request = request_of(problem)
        parsed = parse_blocks(answer)
        well_formed = (bool(parsed.blocks) and not parsed.errors) if request.edit_format == "blocks" else True
        applied = apply_answer(answer, {d["path"]: d["before"]}, d["path"], request.edit_format,
                               request.selection)
        applies = applied.ok
        exact = applies and applied.new_texts.get(d["path"]) == d["after"]
        detail = "; ".join(applied.errors)[:1500] if applied.errors else ""
        metrics = {"well_formed": float(well_formed), "applies": float(applies), "exact": float(exact)}
        return Outcome(exact, "passed" if exact else "failed", detail, metrics)


def mine_edits(repo: str | Path, out: str | Path, max_commits: int = 200, max_lines: int = 400,
               max_changed: int = 40, rev: str = "HEAD") -> int:
    """Write benchmark records from ``repo``'s history: commits that change one small text file.

    Why commits: they are real instructions (the message) with real targets,
    and a held-out range of history (``rev``, e.g. ``v1.0..HEAD``) never seen
    in training keeps the benchmark honest. Returns the number of records.
    """
    repository = git.Repo(repo)
    count = 0
    with open(out, "w", encoding="utf-8") as fh:
        for commit in repository.iter_commits(rev, no_merges=True):
            if count >= max_commits:
                break
            if len(commit.parents) != 1:
                continue
            diffs = commit.parents[0].diff(commit)
            if len(diffs) != 1:
                continue
            diff = diffs[0]
            if diff.change_type != "M" or diff.a_blob is None or diff.b_blob is None:
                continue
            try:
                before = diff.a_blob.data_stream.read().decode("utf-8")
                after = diff.b_blob.data_stream.read().decode("utf-8")
            except UnicodeDecodeError:
                continue
            if before == after or len(before.splitlines()) > max_lines:
                continue
            stats = commit.stats.total
            if stats.get("lines", 0) > max_changed:
                continue
            message = str(commit.message).strip()
            record = {"id": f"{commit.hexsha[:12]}", "instruction": message, "path": diff.b_path,
                      "before": before, "after": after}
            fh.write(json.dumps(record) + "\n")
            count += 1
    return count
