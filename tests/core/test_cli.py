"""The `amigo` command as a person runs it: a real subprocess, a real git repo, a real HTTP server."""

from pathlib import Path

import pytest

from helpers import RecordedModelServer, amigo, git, snapshot

RECORDED = Path(__file__).parent / "data" / "recorded"


def test_version_and_help(repo):
    assert amigo(repo, "--version").stdout.strip() == "amigo 0.1.0"
    out = amigo(repo, "--help").stdout
    for word in ("edit", "apply", "undo", "serve", "lsp", "tui", "feedback", "train", "eval"):
        assert word in out


def test_edit_yes_applies_and_commits_then_undo(repo):
    answer = (RECORDED / "blocks_sort.txt").read_text()
    with RecordedModelServer(answer) as server:
        result = amigo(repo, "edit", "add sort_by_age", "users.py", "--format", "blocks", "--yes", "--commit",
                       endpoint=server.base_url)
    assert result.returncode == 0, result.stderr
    assert "+def sort_by_age(users):" in result.stdout
    assert "tokens in" in result.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == "add sort_by_age"
    assert git(repo, "status", "--porcelain") == ""
    assert amigo(repo, "undo").returncode == 0
    assert "sort_by_age" not in (repo / "users.py").read_text()


def test_closing_line_says_the_rate_is_the_shown_answers_when_several_decode(repo):
    """With several candidates only one answer streams; the tokens and rate printed are its own."""
    answer = (RECORDED / "blocks_sort.txt").read_text()
    with RecordedModelServer(answer) as server:
        one = amigo(repo, "edit", "add sort_by_age", "users.py", "--format", "blocks", stdin="n\n",
                    endpoint=server.base_url)
        three = amigo(repo, "edit", "add sort_by_age", "users.py", "--format", "blocks", stdin="n\n",
                      endpoint=server.base_url, env={"AMIGO_CANDIDATES": "3"})
    assert one.returncode == three.returncode == 3, (one.stderr, three.stderr)
    assert "tokens in" in one.stderr and "decoded together" not in one.stderr
    assert "in the answer shown; 3 answers a round decoded together" in three.stderr


def test_edit_rejected_leaves_tree_unchanged(repo):
    before = snapshot(repo)
    answer = (RECORDED / "blocks_sort.txt").read_text()
    with RecordedModelServer(answer) as server:
        no = amigo(repo, "edit", "add sort", "users.py", "--format", "blocks", stdin="n\n", endpoint=server.base_url)
        eof = amigo(repo, "edit", "add sort", "users.py", "--format", "blocks", endpoint=server.base_url)
    assert no.returncode == 3 and eof.returncode == 3
    assert "treated as no" in eof.stderr
    assert snapshot(repo) == before


def test_apply_saved_answer(repo):
    answer_file = repo.parent / "answer.txt"
    answer_file.write_text((RECORDED / "blocks_two_hunks.txt").read_text())
    result = amigo(repo, "apply", str(answer_file), "--yes")
    assert result.returncode == 0, result.stderr
    assert '"""The oldest user."""' in (repo / "users.py").read_text()
    whole = repo.parent / "whole.txt"
    whole.write_text((RECORDED / "whole_average.txt").read_text())
    result = amigo(repo, "apply", str(whole), "--path", "users.py", "--lines", "17-19", "--yes")
    assert result.returncode == 0, result.stderr


def test_apply_reads_a_pasted_function_or_rewrite_as_the_engine_does(repo):
    """An answer pasted from a chat is often just the function it changed, or a fenced rewrite
    where blocks were asked for: ``amigo apply`` reads it as the engine reads its own answers
    (spliced in; read as a rewrite), says so above the diff, and keeps the rest of the file."""
    fixed = "def oldest(users):\n    if not users:\n        return None\n    return max(users, key=lambda u: u.age)\n"
    answer_file = repo.parent / "answer.txt"
    answer_file.write_text(f"Here is the fixed function:\n\n```python\n{fixed}```\n")
    result = amigo(repo, "apply", str(answer_file), "--path", "users.py", "--yes")
    assert result.returncode == 0, result.stderr
    text = (repo / "users.py").read_text()
    assert "class User:" in text and "def load_users(rows):" in text and text.endswith(fixed)
    assert "rest of the file kept" in result.stdout + result.stderr
    git(repo, "checkout", "users.py")
    result = amigo(repo, "apply", str(answer_file), "--path", "users.py", "--lines", "17-18", "--format", "blocks",
                   "--yes")
    assert result.returncode == 0, result.stderr
    assert (repo / "users.py").read_text().endswith(fixed)
    assert "read as a rewrite of lines 17-18" in result.stdout + result.stderr


def test_apply_unmatched_answer_is_refused_with_the_reason(repo):
    before = snapshot(repo)
    answer_file = repo.parent / "answer.txt"
    answer_file.write_text((RECORDED / "blocks_unmatched.txt").read_text())
    result = amigo(repo, "apply", str(answer_file), "--yes")
    assert result.returncode == 1
    assert "Block 1 (users.py)" in result.stderr and "unchanged" in result.stderr
    assert snapshot(repo) == before


@pytest.mark.parametrize("case", ["binary", "latin1", "huge", "missing", "outside", "config", "dirty-index",
                                  "merge", "server-down"])
def test_bad_input_gets_a_clear_error_and_changes_nothing(repo, case):
    env = {}
    target = "users.py"
    extra: list[str] = []
    if case == "binary":
        (repo / "data.py").write_bytes(b"\x00\x01\x02")
        target, needle = "data.py", "binary"
    elif case == "latin1":
        (repo / "old.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
        target, needle = "old.py", "not UTF-8"
    elif case == "huge":
        env["AMIGO_MAX_FILE_BYTES"] = "100"
        needle = "over the 100-byte limit"
    elif case == "missing":
        target, needle = "nope.py", "no such file"
    elif case == "outside":
        target, needle = "../elsewhere.py", "outside the repository"
        (repo.parent / "elsewhere.py").write_text("x = 1\n")
    elif case == "config":
        (repo / "amigo.toml").write_text("edit_fromat = 'whole'\n")
        needle = "unknown key 'edit_fromat'"
    elif case == "dirty-index":
        (repo / "README.md").write_text("# staged\n")
        git(repo, "add", "README.md")
        extra, needle = ["--commit"], "staged changes"
    elif case == "merge":
        (repo / ".git" / "MERGE_HEAD").write_text(git(repo, "rev-parse", "HEAD"))
        extra, needle = ["--commit"], "merge is in progress"
    else:
        env["AMIGO_ENDPOINT"] = "http://127.0.0.1:9/v1"
        env["AMIGO_RETRIES"] = "0"
        needle = "cannot reach the model server"
    before = snapshot(repo)
    answer = (RECORDED / "blocks_sort.txt").read_text()
    with RecordedModelServer(answer) as server:
        env.setdefault("AMIGO_ENDPOINT", server.base_url)
        result = amigo(repo, "edit", "add sort", target, "--format", "blocks", "--yes", *extra, env=env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(repo) == before


@pytest.mark.model
def test_real_model_edit_applies_cleanly_or_reports_clearly(repo, model_server):
    """The embedded model, temperature 0, end to end through the real CLI."""
    before = snapshot(repo)
    # each attempt capped (repair_attempts = 2 may ask three times) so the test's time is bounded on 2 loaded cores
    capped = {"AMIGO_MAX_TOKENS": "256"}
    result = amigo(repo, "edit", "Add a docstring to this function.", "users.py", "--lines", "18-19",
                   "--format", "whole", endpoint=model_server, stdin="n\n", env=capped, timeout=300)
    assert "tokens in" in result.stderr
    if result.returncode == 3:
        assert result.stdout.startswith("--- a/users.py")  # a diff was shown, then rejected
    else:
        assert result.returncode == 1 and "amigo:" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(repo) == before  # rejected or refused: the working tree is unchanged
    result = amigo(repo, "edit", "Add a docstring to this function.", "users.py", "--lines", "18-19",
                   "--format", "whole", "--yes", endpoint=model_server, env=capped, timeout=300)
    if result.returncode == 0:
        assert git(repo, "diff", "--stat").strip().startswith("users.py")
    else:
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert snapshot(repo) == before
