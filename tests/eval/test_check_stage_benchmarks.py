"""The check stage against known right edits, and the two scripts that measure its false alarms.

Every reference edit of the trust tasks is a right answer: the check stage must let each one
through, or ``--yes`` would refuse a right edit. ``benchmarks/checks_history.py`` (real commits)
``benchmarks/trust_rejudge.py`` (saved written changes), ``benchmarks/check_corpus.py`` (the
model's answers judged by each finding) and ``benchmarks/checks_fixes.py`` (the reference fixes of
bug benchmarks) are run on small real inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from amigo.checks import check_changes

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks import check_corpus, checks_fixes, checks_history, task_checks, trust, trust_rejudge  # noqa: E402

TASKS = task_checks.load_tasks()


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_every_reference_edit_passes_the_check_stage(task):
    reference = task_checks.TaskCheck.load(task["id"]).reference
    errors = [f for f in check_changes([(task["path"], task["file_text"], reference)], task["instruction"])
              if f.level == "error"]
    assert errors == []


def _project(tmp_path: Path) -> Path:
    """An empty git repository to commit into."""
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    return repo


def _commit(repo: Path, message: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", message],
                   cwd=repo, check=True)


def test_checks_history_counts_the_findings_real_commits_set_off(tmp_path, capsys):
    repo = _project(tmp_path)
    _commit(repo, "first", {"m.py": "def f(x):\n    return x + 1\n"})
    _commit(repo, "Add a docstring to f", {"m.py": 'def f(x):\n    """One more."""\n    return x + 1\n'})
    _commit(repo, "docs", {"m.py": 'def f(x):\n    """One more than x."""\n    return x + 2\n'})
    _commit(repo, "Return x twice", {"m.py": 'def f(x):\n    """Twice."""\n    return x * 2\n'})
    assert checks_history.main([str(repo)]) == 0
    out = capsys.readouterr().out
    assert "3 commits modifying Python files" in out
    assert "| out-of-scope | 1 (33.3%) |" in out and "| any | 1 (33.3%) |" in out
    assert "| documentation | 2 | 1 | 1 |" in out


def test_checks_history_asking_judges_only_subjects_the_close_readings_hold_the_change_to(tmp_path, capsys):
    repo = _project(tmp_path)
    _commit(repo, "first", {"m.py": "def f(x):\n    return x + 1\n"})
    _commit(repo, "Tidy f", {"m.py": "def f(x):\n    return 1 + x\n"})
    _commit(repo, "Use math.fsum in f", {"m.py": "def f(x):\n    return x + 1.0\n"})
    _commit(repo, "Return x twice", {"m.py": "def f(x):\n    return x * 2\n"})
    assert checks_history.main([str(repo), "--asking", "--show"]) == 0
    out = capsys.readouterr().out
    assert "2 commits modifying Python files" in out and "Tidy f" not in out
    assert "does not write `math.fsum`" in out and "| not-done | 1 (50.0%) |" in out


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


def test_check_corpus_counts_what_each_finding_refuses_wrong_and_right(tmp_path, capsys):
    task = next(t for t in TASKS if t["id"] == "colorsys.hls_to_rgb")
    right = task_checks.TaskCheck.load(task["id"]).reference
    out_of_scope = right.replace('"""', '"""Convert.\n\n', 1).replace("return l, l, l", "return l, l, 0.0", 1)
    made_up = right.replace("return l, l, l", "return _clamp(l), l, l", 1)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"task": task["id"], "edit_format": "whole", "decoding": "free",
                                          "sample": k, "text": text, "asked": asked}) + "\n"
                              for k, (text, asked) in enumerate([(right, True), (out_of_scope, False),
                                                                 (made_up, False)])))
    assert check_corpus.main(["judge", str(corpus), "--show", "all"]) == 0
    out = capsys.readouterr().out
    assert "3 answers that apply and compile, to 1 tasks: 1 right, 2 wrong" in out
    assert "refused: 2 of the wrong, 0 of the right" in out
    assert "| out-of-scope | 1 | 0 | 1 | 0 |" in out and "| undefined-name | 1 | 0 | 1 | 0 |" in out
    assert "wrong colorsys.hls_to_rgb whole/free #2: undefined-name: uses the name _clamp" in out


def test_check_corpus_asks_the_real_model_and_applies_its_answers(model_server, tmp_path):
    task = next(t for t in TASKS if t["id"] == "colorsys.hls_to_rgb")
    root = trust.task_repo(tmp_path, task)
    answers = check_corpus.ask_row(model_server, "smollm2-135m-instruct", task, root, "whole", "free",
                                   samples=2, max_tokens=200)
    assert [sample for sample, _ in answers] == [0, 1]
    for _, text in answers:
        assert text is None or (text != task["file_text"] and trust.parses(text))


def test_checks_fixes_counts_the_findings_on_reference_fixes(tmp_path, capsys):
    """The three sources in their published layouts, a case or two each: a right fix passes, a
    DebugBench method whose indentation was lost is put back, and a fix that drops a helper of a
    file that parses is found."""
    (tmp_path / "humanevalpack").mkdir()
    (tmp_path / "humanevalpack" / "python.jsonl").write_text(json.dumps({
        "task_id": "Python/0", "declaration": "def inc(x):\n", "buggy_solution": "    return x - 1\n",
        "canonical_solution": "    return x + 1\n", "entry_point": "inc"}) + "\n")
    (tmp_path / "quixbugs").mkdir()
    (tmp_path / "quixbugs" / "quixbugs_python.jsonl").write_text(json.dumps({
        "name": "bitcount", "buggy_program": "def bitcount(n):\n    return n ^ (n - 1)\n",
        "solution": "def bitcount(n):\n    return bin(n).count('1')\n"}) + "\n")
    (tmp_path / "debugbench" / "benchmark").mkdir(parents=True)
    (tmp_path / "debugbench" / "benchmark" / "python3_double.json").write_text(json.dumps([
        {"slug": "nim-game", "buggy_code": "\nclass Solution:\ndef canWinNim(self, n: int) -> bool:\n    return n % 4 == 0\n",
         "oracle_code": "class Solution:\n    def canWinNim(self, n: int) -> bool:\n        return n % 4 != 0\n"},
        {"slug": "helper", "buggy_code": "class Solution:\n    def f(self, xs: List[int]) -> int:\n"
                                         "        return self.g(xs)\n\n    def g(self, xs):\n        return max(xs)\n",
         "oracle_code": "class Solution:\n    def f(self, xs: List[int]) -> int:\n        return min(Counter(xs))\n"}]))
    assert checks_fixes.main(["--data-dir", str(tmp_path), "--show"]) == 0
    out = capsys.readouterr().out
    assert "| HumanEvalFix | 1 | 0 (0.0%) | - |" in out and "| QuixBugs | 1 | 0 (0.0%) | - |" in out
    assert "| DebugBench | 2 | 1 (50.0%) | removed-definition 1 |" in out
    assert "DebugBench/double/helper  (Fix the bugs.)" in out and "removes the method Solution.g" in out
    assert checks_fixes.main(["--data-dir", str(tmp_path / "nothing")]) == 1
    assert "no HumanEvalFix, QuixBugs, DebugBench data" in capsys.readouterr().err


def test_checks_history_judges_data_files_with_their_parsers(tmp_path, capsys):
    repo = _project(tmp_path)
    config = '[project]\nname = "p"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 88\n'
    _commit(repo, "first", {"pyproject.toml": config, "m.py": "x = 1\n"})
    _commit(repo, "Bump the version to 1.1", {"pyproject.toml": config.replace("1.0", "1.1")})
    _commit(repo, "Bump the version to 1.2", {"pyproject.toml": config.replace("1.0", "1.2").split("\n[tool")[0]})
    _commit(repo, "Restore the ruff settings", {"pyproject.toml": config.replace("1.0", "1.2")})
    _commit(repo, "Use flake8 for linting", {"pyproject.toml": config.replace("1.0", "1.2").split("\n[tool")[0]})
    _commit(repo, "Set the version", {"pyproject.toml": config.replace('"1.0"', '"1.3')})
    assert checks_history.main([str(repo), "--files", "data"]) == 0
    out = capsys.readouterr().out
    assert "5 commits modifying data (JSON, TOML, YAML, INI) files" in out
    errors, warnings = out.split("| warning (never refused) | commits |")
    assert "| removed-key | 1 (20.0%) |" in errors and "| syntax | 1 (20.0%) |" in errors
    assert "| removed-key | 1 (20.0%) |" in warnings.split("| subject")[0]


def _data_task(path: str, old: str, after: str, instruction: str, selection=None) -> dict:
    from amigo.datafiles import format_of

    return {"id": path, "path": path, "format": format_of(path), "file_text": old, "selection": selection,
            "instruction": instruction, "after_text": after}


def test_data_edits_mines_small_real_changes_and_judges_what_was_written(tmp_path, capsys):
    from benchmarks import data_edits

    repo = tmp_path / "project"
    (repo / ".github" / "workflows").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    workflow = "on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pytest\n"
    package = '{\n  "name": "p",\n  "version": "1.0.0"\n}\n'
    _commit(repo, "first", {".github/workflows/ci.yml": workflow, "package.json": package})
    _commit(repo, "Run the tests on macos too (#12)",
            {".github/workflows/ci.yml": workflow.replace("ubuntu-latest", "${{ matrix.os }}")})
    _commit(repo, "bump", {"package.json": package.replace("1.0.0", "1.0.1")})  # too few words to be asked
    tasks = data_edits.mine([repo], limit=10, per_repo=5)
    assert [(t["path"], t["instruction"], t["selection"]) for t in tasks] == [
        (".github/workflows/ci.yml", "Run the tests on macos too", None)]
    task = tasks[0]
    task["id"] = "ci"
    assert data_edits.outcome(task, None) == "refused"
    assert data_edits.outcome(task, task["after_text"]) == "as the commit"
    assert data_edits.outcome(task, task["after_text"].replace("steps:\n      - run: pytest\n", "steps: []\n")) == (
        "lost content")
    assert data_edits.outcome(task, workflow.replace("runs-on: ubuntu-latest", "runs-on: [ubuntu")) == "broken"
    assert data_edits.outcome(task, workflow.replace("ubuntu-latest", "macos-latest")) == "other"
    tasks_file = tmp_path / "tasks.jsonl"
    tasks_file.write_text(json.dumps(task) + "\n")
    records = tmp_path / "run.jsonl"
    records.write_text("".join(json.dumps({"task": "ci", "repair": 0, "candidates": 1, "written": written,
                                           "seconds": 1.0}) + "\n"
                               for written in (None, task["after_text"], "# Code to rewrite\n")))
    assert data_edits.main(["judge", str(records), "--tasks", str(tasks_file), "--recheck"]) == 0
    out = capsys.readouterr().out
    assert "| run.jsonl | 0 | 1 | 3 | 1 | 0 (0 refused now) | 1 (1 refused now) | 1 (0 refused now) |" in out


def test_a_data_task_the_jsonc_way():
    from benchmarks import data_edits

    tsconfig = '{\n  // strict\n  "compilerOptions": {"strict": true,},\n}\n'
    task = _data_task("tsconfig.json", tsconfig, tsconfig.replace("true", "false"), "Turn strict mode off")
    assert data_edits.outcome(task, tsconfig.replace("true", "false")) == "as the commit"
    assert data_edits.outcome(task, tsconfig.replace('"strict"', "strict")) == "broken"


def test_an_ini_data_task_is_mined_by_format_and_judged_with_configparser(tmp_path):
    from benchmarks import data_edits

    repo = _project(tmp_path)
    tox = "[tox]\nenvlist =\n    py38\n    py39\n\n[testenv]\ncommands = pytest {posargs}\n"
    _commit(repo, "first", {"tox.ini": tox, "package.json": '{"name": "p"}\n'})
    _commit(repo, "Add Python 3.12 to the environments",
            {"tox.ini": tox.replace("    py39\n", "    py39\n    py312\n"), "package.json": '{"name": "q"}\n'})
    (task,) = data_edits.mine([repo], limit=10, per_repo=5, formats=frozenset({"ini"}))
    assert (task["path"], task["format"]) == ("tox.ini", "ini")
    assert data_edits.outcome(task, task["after_text"]) == "as the commit"
    assert data_edits.outcome(task, tox.replace("    py38\n", "    py312\n")) == "lost content"
    assert data_edits.outcome(task, tox + "pytest -q\n") == "broken"
