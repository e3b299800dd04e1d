"""Amigo's own edit benchmark, mined from a real git repository's commits."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from amigo_train.eval.cli import main
from amigo_train.eval.runner import load_run
from amigo_train.eval.tasks import get_task


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture()
def history(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (repo / "notes.txt").write_text("hello\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "initial")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\n"
                                  "def mul(a, b):\n    return a * b\n")
    _git(repo, "commit", "-q", "-am", "Add a mul function")
    (repo / "calc.py").write_text((repo / "calc.py").read_text().replace("a - b", "b - a"))
    (repo / "notes.txt").write_text("two files in one commit: skipped\n")
    _git(repo, "commit", "-q", "-am", "Touch two files")
    (repo / "calc.py").write_text((repo / "calc.py").read_text().replace("def add(a, b):", "def add(a: int, b: int) -> int:"))
    _git(repo, "commit", "-q", "-am", "Type-annotate add")
    return repo


def test_mined_commits_reference_answers_are_exact(history: Path, tmp_path: Path) -> None:
    edits = tmp_path / "edits.jsonl"
    assert main(["mine-edits", "--repo", str(history), "--out", str(edits)]) == 0
    records = [json.loads(line) for line in edits.read_text().splitlines()]
    assert [r["instruction"] for r in records] == ["Type-annotate add", "Add a mul function"]
    task = get_task("amigo-edits", edits=str(edits))
    problems = task.load()
    messages = task.messages(problems[0])
    assert messages[0]["role"] == "system" and "SEARCH/REPLACE" in messages[0]["content"]
    assert "Type-annotate add" in messages[1]["content"]
    for problem in problems:
        good = task.score(problem, task.reference(problem), None)
        assert good.passed and dict(good.metrics) == {"well_formed": 1.0, "applies": 1.0, "exact": 1.0}
        bad = task.score(problem, task.buggy(problem), None)
        assert dict(bad.metrics) == {"well_formed": 1.0, "applies": 0.0, "exact": 0.0}
        prose = task.score(problem, "I would add a function.", None)
        assert dict(prose.metrics) == {"well_formed": 0.0, "applies": 0.0, "exact": 0.0}


def test_edit_run_reports_the_three_metrics(history: Path, tmp_path: Path) -> None:
    edits = tmp_path / "edits.jsonl"
    main(["mine-edits", "--repo", str(history), "--out", str(edits)])
    assert main(["run", "--task", "amigo-edits", "--edits", str(edits), "--source", "reference",
                 "--out", str(tmp_path / "run")]) == 0
    summary = load_run(tmp_path / "run" / "amigo-edits").record["summary"]
    assert summary["well_formed"] == summary["applies"] == summary["exact"] == summary["pass@1"] == 1.0
