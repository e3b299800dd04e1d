"""The loop benchmark's protocol, without a model: the scripted reviewer, the three-way split by
request and what the nightly export makes of it.

Recorded answers stream from a real HTTP server through the real engine (check stage and
``check_command``), the real feedback recorder and follow-up, and the real export; only the
words are fixed. ``tests/train/test_loop_e2e.py`` runs the same code on the embedded model.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from helpers import RecordedModelServer

pytestmark = pytest.mark.slow  # parsing the standard library for the tasks: seconds
ROOT = Path(__file__).resolve().parents[2]


def _loop_module() -> Any:
    spec = importlib.util.spec_from_file_location("loop_benchmark", ROOT / "benchmarks" / "loop.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def planned() -> list[dict[str, Any]]:
    """Twenty real standard-library functions with one plausible commit each (parsing the library takes seconds)."""
    return _loop_module().plan_tasks(20, 3)


def test_splits_follow_the_shares_and_the_export_agrees(planned: list[dict[str, Any]]) -> None:
    from feedback.export import is_test

    loop = _loop_module()
    tasks = loop.assign_splits(planned, 0.2, 0.4, 3)
    counts = {split: sum(t["split"] == split for t in tasks) for split in loop.SPLITS}
    assert counts == {"train": 8, "validation": 4, "test": 8}
    for task in tasks:
        held_out = task["split"] != "train"
        # the export splits by request (repairs follow their first proposal, whose id this is)
        assert is_test(task["request_id"], loop.HELD_OUT_THRESHOLD) == held_out, task["path"]
    again = loop.assign_splits(planned, 0.2, 0.4, 3)
    assert [(t["split"], t["request_id"]) for t in again] == [(t["split"], t["request_id"]) for t in tasks]
    with pytest.raises(SystemExit, match="leave a train split"):
        loop.assign_splits(tasks, 0.5, 0.5, 3)
    assert loop.parse_setting("steps=8,lr=1e-3") == {"steps": 8.0, "lr": 0.001} and loop.parse_setting("recipe") == {}
    with pytest.raises(SystemExit, match="unknown setting 'epochs'"):
        loop.parse_setting("epochs=2")


def _answers(tasks: list[dict[str, Any]]) -> Any:
    """Per task, by its index: 0 the committed change (accepted), 1 the committed change and a stray
    ``return`` at module level (parses but does not compile: the check stage refuses it, though it
    did what was asked), 2 a block whose SEARCH text is not in the file (does not apply)."""
    from amigo.edits import render

    def answer(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]  # holds other files as context: the instruction tells the task
        k, task = next((k, t) for k, t in enumerate(tasks) if t["instruction"] in prompt)
        if k % 3 == 0:
            return render(task["old"], task["new"], task["path"])
        if k % 3 == 1:
            return render(task["old"], task["new"] + "return None\n", task["path"])
        return f"{task['path']}\n<<<<<<< SEARCH\nthis line is not in the file\n=======\npass\n>>>>>>> REPLACE\n"
    return answer


def test_reviewer_and_held_out_pairs_by_split(tmp_path: Path, planned: list[dict[str, Any]]) -> None:
    pytest.importorskip("yaml")
    from amigo.events import ProposalEvent
    from feedback import follow_up
    from feedback.export import export
    from feedback.settings import db_path
    from feedback.store import Store

    loop = _loop_module()
    tasks = loop.assign_splits(planned[:12], 0.25, 0.25, 3)
    repo = tmp_path / "repo"
    loop.build_tasks(repo, tasks)
    with RecordedModelServer(_answers(tasks)) as server:
        session = loop.open_session(repo, server.base_url, 256, record=True, repair_attempts=0)
        seen: list[Any] = []
        session.events.subscribe(seen.append)
        rates = loop.replay(session, tasks, correct=True)
        session.close()
    follow_up(repo, session.config.feedback)
    # only the committed change applies and passes: the non-compiling one is the check stage's catch
    assert rates == {"accepted": 4 / 12, "did_what_was_asked": 8 / 12}
    for k, task in enumerate(tasks):  # rejected answers were corrected by hand; accepted ones are on disk
        assert (repo / task["path"]).read_text() == task["new"], (k, task["path"])

    db = db_path(session.config.feedback)
    with Store(db) as store:
        done = export(store, "dpo", tmp_path / "export", test_fraction=loop.HELD_OUT_THRESHOLD)
    caught = {e.proposal.request.path for e in seen if isinstance(e, ProposalEvent)
              and [f.kind for f in e.proposal.findings] == ["syntax"]}  # found before the check command runs
    assert caught == {t["path"] for k, t in enumerate(tasks) if k % 3 == 1}
    rejected = [t for k, t in enumerate(tasks) if k % 3]
    held = [t for t in rejected if t["split"] != "train"]
    assert done.manifest["counts"]["total"] == len(rejected) == 8
    assert done.manifest["counts"]["test"] == len(held)

    # the export's held-out rows, in order, are the tasks heldout_paths names
    rows = [json.loads(line) for line in (tmp_path / "export" / "jsonl" / "test.jsonl").read_text().splitlines()]
    paths = loop.heldout_paths(db, 0.0, 1e12)
    instruction_of = {t["path"]: t["instruction"] for t in tasks}
    assert len(paths) == len(rows)
    assert all(instruction_of[path] in row["prompt"][-1]["content"] for path, row in zip(paths, rows))

    # the settings' database has no test task; its held-out side is the validation split alone
    copy = loop.without_tasks(db, [t["path"] for t in tasks if t["split"] == "test"], tmp_path / "sweep.db")
    assert sorted(loop.heldout_paths(copy, 0.0, 1e12)) == sorted(t["path"] for t in held if t["split"] == "validation")

    split_of = {t["path"]: t["split"] for t in tasks}
    evaluation = {"promoted": [0] * len(paths), "candidate": [1] * len(paths)}
    test = loop.split_outcomes(evaluation, paths, split_of, "test")
    n_test = sum(split_of[p] == "test" for p in paths)
    assert test["pairs"] == n_test and test["turned_right"] == n_test and test["turned_wrong"] == 0
    assert test["accuracy_before"] == 0 and test["accuracy_after"] == 1
    assert test["sign_test_p_two_sided"] == pytest.approx(min(1.0, 2 * 0.5 ** n_test))
