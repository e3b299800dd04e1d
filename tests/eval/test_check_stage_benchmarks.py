"""The check stage against known right edits, and the two scripts that measure its false alarms.

Every reference edit of the trust tasks is a right answer: the check stage must let each one
through, or ``--yes`` would refuse a right edit. ``benchmarks/checks_history.py`` (real commits)
and ``benchmarks/trust_rejudge.py`` (saved written changes) are run on small real inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from amigo.checks import check_change

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import checks_history, task_checks, trust_rejudge  # noqa: E402

TASKS = task_checks.load_tasks()


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_every_reference_edit_passes_the_check_stage(task):
    reference = task_checks.TaskCheck.load(task["id"]).reference
    errors = [f for f in check_change(task["path"], task["file_text"], reference, task["instruction"])
              if f.level == "error"]
    assert errors == []


def _commit(repo: Path, message: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", message],
                   cwd=repo, check=True)


def test_checks_history_counts_the_findings_real_commits_set_off(tmp_path, capsys):
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    _commit(repo, "first", {"m.py": "def f(x):\n    return x + 1\n"})
    _commit(repo, "Add a docstring to f", {"m.py": 'def f(x):\n    """One more."""\n    return x + 1\n'})
    _commit(repo, "docs", {"m.py": 'def f(x):\n    """One more than x."""\n    return x + 2\n'})
    _commit(repo, "Return x twice", {"m.py": 'def f(x):\n    """Twice."""\n    return x * 2\n'})
    assert checks_history.main([str(repo)]) == 0
    out = capsys.readouterr().out
    assert "3 commits modifying Python files" in out
    assert "| out-of-scope | 1 (33.3%) |" in out and "| any | 1 (33.3%) |" in out
    assert "| documentation | 2 | 1 | 1 |" in out


def test_trust_rejudge_tells_wrong_changes_refused_now_from_right_ones(tmp_path, capsys):
    task = next(t for t in TASKS if t["id"] == "colorsys.hls_to_rgb")
    right = task_checks.TaskCheck.load(task["id"]).reference
    wrong = right.replace('"""', '"""Convert.\n\n', 1).replace("return l, l, l", "return l, l, 0.0", 1)
    assert wrong != right
    base = {"task": task["id"], "edit_format": "whole", "decoding": "free", "repair": 0, "candidates": 1,
            "outcome": "applied+parses", "unchecked": "applied+parses", "expected": False, "attempts": 1,
            "seconds": 1.0}
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({**base, "asked": True, "text": right}) + "\n"
                       + json.dumps({**base, "candidates": 4, "asked": False, "text": wrong}) + "\n")
    assert trust_rejudge.main([str(records), "--show"]) == 0
    out = capsys.readouterr().out
    assert "wrong colorsys.hls_to_rgb r0/c4: out-of-scope" in out
    assert "| whole | free | 0 | 1 | on | 1 | 1 | 0 | 0 | - |" in out
    assert "| whole | free | 0 | 4 | on | 1 | 0 | 1 | 0 | out-of-scope 1 |" in out
