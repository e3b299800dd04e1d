"""Commit mining on a real git repository, with the OctoPack filters."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import git

from amigo_train import data_cli
from amigo_train.mine import mine_repo, subject_problem


def _commit(repo: Path, message: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
        git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    _commit(repo, "Initial commit of the project files", {"a.py": "def f():\n    return 1\n", "b.py": "x = 1\n"})
    _commit(repo, "Fix f so that it returns two instead", {"a.py": "def f():\n    return 2\n"})
    _commit(repo, "Update both modules at the same time", {"a.py": "def f():\n    return 3\n", "b.py": "x = 2\n"})
    _commit(repo, "fixed stuff", {"b.py": "x = 3\n"})
    _commit(repo, "Bump version to 1.2.3 for the release", {"b.py": "x = 4\n"})
    _commit(repo, "Add a docstring, see https://example.com/doc", {"a.py": '"""Doc."""\ndef f():\n    return 3\n'})
    git(repo, "checkout", "-q", "-b", "side")
    _commit(repo, "Add a helper function to the b module", {"b.py": "x = 4\n\n\ndef g():\n    return x\n"})
    git(repo, "checkout", "-q", "main")
    _commit(repo, "Rename the variable in module b today", {"c.py": "y = 1\n"})
    _commit(repo, "Change y in module c to hold two", {"c.py": "y = 2\n"})
    git(repo, "merge", "-q", "--no-ff", "side", "-m", "Merge branch 'side'")
    return repo


def test_subject_filters() -> None:
    assert subject_problem("Fix the off by one error in the parser") is None
    assert subject_problem("fixed stuff") == "too-few-words"
    assert subject_problem("The parser had an off by one error") == "not-imperative"
    assert subject_problem("Bump version to 2.0.1 for the release") == "version-bump"
    assert subject_problem("Revert deadbeef1234 because it broke things") == "hash"
    assert subject_problem("Add docs from https://example.com please") == "url"
    assert subject_problem("Add " + "x " * 600) == "length"


def test_mine_repo_keeps_only_single_file_instruction_commits(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    dropped: dict[str, int] = {}
    records = list(mine_repo(repo, dropped=dropped))
    subjects = sorted(r["subject"] for r in records)
    assert subjects == ["Add a helper function to the b module", "Change y in module c to hold two",
                        "Fix f so that it returns two instead"]
    fix = next(r for r in records if r["subject"].startswith("Fix"))
    assert fix["old_contents"] == "def f():\n    return 1\n" and fix["new_contents"] == "def f():\n    return 2\n"
    assert set(fix) >= {"commit", "old_file", "new_file", "subject", "message", "lang", "license", "repos"}
    assert dropped["merge"] == 1 and dropped["not-single-file"] == 1 and dropped["added-or-deleted"] == 1
    assert dropped["version-bump"] == 1 and dropped["url"] == 1 and dropped["too-few-words"] == 1


def test_mine_commits_cli(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    repo = _repo(tmp_path)
    out = tmp_path / "mined.jsonl"
    assert data_cli.main(["mine-commits", str(repo), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3
    assert "kept 3 of" in capsys.readouterr().out
    assert data_cli.main(["mine-commits", str(tmp_path), "--out", str(out)]) == 1
