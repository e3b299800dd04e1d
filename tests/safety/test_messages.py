"""Smaller attacks (issue 16, item 10): each gets a message naming the real cause, and nothing moves."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers import amigo, git, snapshot

# Adds a docstring (an edit the check stage passes: a rename would remove `oldest`, which --yes refuses).
EDIT_USERS = ('users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\ndef oldest(users):\n'
              '    """The oldest user."""\n>>>>>>> REPLACE\n')


def _answer(tmp: Path, text: str) -> Path:
    answer = tmp / f"answer-{len(list(tmp.glob('answer-*')))}.txt"
    answer.write_text(text)
    return answer


LONG = "x" * 300 + ".py"


@pytest.mark.parametrize("answer,args,needle", [
    (f"{LONG}\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n", (), "a file name of 303 bytes"),
    ("```\nx = 1\n```\n", ("--path", LONG), "a file name of 303 bytes"),
    ("users.py\n<<<<<<< SEARCH\ndef oldest(users):\n<<<<<<< SEARCH\ndef oldest(users):\n=======\nx\n"
     ">>>>>>> REPLACE\n", (), "blocks cannot be nested"),
    ("users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\ndef eldest(users):\n", (), "is not closed"),
    ("/etc/hostname\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", (), "'/etc/hostname', an absolute path"),
    ("notes\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", (), "pass --path notes"),
    ("Here is the fix:\n\n```python\nx = 1\n```\n", (), "pass --path FILE"),
    ("missing.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n", (), "missing.py): no such file"),
])
def test_bad_answers_say_what_is_wrong(repo: Path, tmp_path: Path, answer: str, args: tuple, needle: str) -> None:
    before = snapshot(repo)
    result = amigo(repo, "apply", str(_answer(tmp_path, answer)), *args, "--yes")
    assert result.returncode == 1 and needle in result.stderr, result.stderr
    assert "names no file" not in result.stderr and "Traceback" not in result.stderr
    assert snapshot(repo) == before


def test_commit_inside_a_submodule_is_refused_before_anything_is_written(repo: Path, tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    git(sub, "init", "-q", "-b", "main")
    (sub / "lib.py").write_text("v = 1\n")
    git(sub, "add", "lib.py")
    git(sub, "commit", "-q", "-m", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor")
    git(repo, "commit", "-q", "-m", "submodule")
    before, head = snapshot(repo), git(repo, "rev-parse", "HEAD")
    answer = _answer(tmp_path, "vendor/lib.py\n<<<<<<< SEARCH\nv = 1\n=======\nv = 2\n>>>>>>> REPLACE\n")
    result = amigo(repo, "apply", str(answer), "--yes", "--commit")
    assert result.returncode == 1 and "inside the submodule vendor" in result.stderr, result.stderr
    assert "apply without --commit" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(repo) == before and git(repo, "rev-parse", "HEAD") == head


def test_apply_outside_git_says_so(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text("a = 1\n")
    result = amigo(plain, "apply", str(_answer(tmp_path, "a.py\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n"
                                                         ">>>>>>> REPLACE\n")), "--yes")
    assert result.returncode == 0 and "is not a git work tree" in result.stderr
    assert amigo(plain, "undo").returncode == 0 and (plain / "a.py").read_text() == "a = 1\n"


def test_a_killed_run_s_temporary_is_cleaned_and_never_in_git_status(repo: Path, tmp_path: Path) -> None:
    stale = repo / ".users.py.k1ll3d9x.amigo-tmp"  # left by a run killed mid-write, state on another file system
    stale.write_text("half a file")
    assert amigo(repo, "apply", str(_answer(tmp_path, EDIT_USERS)), "--yes").returncode == 0
    assert not stale.exists()
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == " M users.py\n"


def test_kill_9_while_writing_leaves_the_old_or_new_file_and_no_temporary(repo: Path, tmp_path: Path) -> None:
    """The process is killed the moment its temporary appears (mid-write): git status stays clean."""
    from amigo.workspace import Workspace

    big = repo / "big.txt"
    old = b"".join(b"line %d of a big file\n" % i for i in range(600_000))  # about 14 MB
    answer = _answer(tmp_path, "big.txt\n<<<<<<< SEARCH\nline 7 of a big file\n=======\nSEVEN\n>>>>>>> REPLACE\n")
    env = {**os.environ, "AMIGO_MAX_FILE_BYTES": str(64 << 20), "AMIGO_CONTEXT_BUDGET": "0",
           "AMIGO_FEEDBACK__ENABLED": "false"}
    temps = Workspace(repo).temp_dir
    caught = 0
    for _ in range(2):
        big.write_bytes(old)
        proc = subprocess.Popen([sys.executable, "-m", "amigo", "apply", str(answer), "--yes"], cwd=repo, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if temps.is_dir() and any(temps.iterdir()):
                proc.send_signal(signal.SIGKILL)
                caught += 1
                break
            time.sleep(0.0005)
        proc.wait(timeout=30)
        assert big.read_bytes() == old or big.read_bytes() == old.replace(b"line 7 of a big file\n", b"SEVEN\n")
        assert git(repo, "status", "--porcelain", "--untracked-files=all") == "?? big.txt\n"
    assert caught, "never saw the temporary being written"
    big.write_bytes(old)
    assert amigo(repo, "apply", str(answer), "--yes", env=env).returncode == 0
    assert not any(temps.iterdir()), "the killed runs' temporaries were not cleaned"


def test_state_on_another_file_system_writes_beside_the_file(repo: Path, tmp_path: Path) -> None:
    """Where a rename from the state folder cannot work, the temporary goes beside the file instead."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(repo).st_dev:
        pytest.skip("needs /dev/shm on another file system than the repository")
    state = Path(tempfile.mkdtemp(dir=shm))
    try:
        result = amigo(repo, "apply", str(_answer(tmp_path, EDIT_USERS)), "--yes", env={"XDG_STATE_HOME": str(state)})
        assert result.returncode == 0, result.stderr
        assert git(repo, "status", "--porcelain", "--untracked-files=all") == " M users.py\n"
        assert amigo(repo, "undo", env={"XDG_STATE_HOME": str(state)}).returncode == 0
        assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    finally:
        shutil.rmtree(state)


def test_undo_of_a_committed_change_after_a_later_manual_commit_commits(repo: Path, tmp_path: Path) -> None:
    before = snapshot(repo)
    assert amigo(repo, "apply", str(_answer(tmp_path, EDIT_USERS)), "--yes", "--commit").returncode == 0
    (repo / "notes.md").write_text("later work\n")
    git(repo, "add", "notes.md")
    git(repo, "commit", "-q", "-m", "manual")
    undo = amigo(repo, "undo")
    assert undo.returncode == 0 and "committed the undo" in undo.stderr, undo.stderr
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "--format=%s", "-3").splitlines()[:2] == [
        f"Undo Amigo change {git(repo, 'rev-parse', 'HEAD~2').strip()[:12]}", "manual"]
    assert snapshot(repo) == {**before, "notes.md": b"later work\n"}


@pytest.mark.parametrize("line", ['commit = "yes"', 'max_tokens = "512"', 'temperature = "0.5"',
                                  'feedback = { enabled = "no" }'])
def test_typed_keys_refuse_strings_in_files(repo: Path, tmp_path: Path, line: str) -> None:
    (repo / "amigo.toml").write_text(line + "\n")
    result = amigo(repo, "apply", str(_answer(tmp_path, EDIT_USERS)), "--yes")
    key = line.split()[0] if not line.startswith("feedback") else "feedback.enabled"
    assert result.returncode == 1 and f"'{key}' has a bad value" in result.stderr and "amigo.toml" in result.stderr
    assert "The oldest user." not in (repo / "users.py").read_text()


def test_environment_strings_are_still_parsed(repo: Path, tmp_path: Path) -> None:
    result = amigo(repo, "apply", str(_answer(tmp_path, EDIT_USERS)), "--yes", env={"AMIGO_COMMIT": "yes"})
    assert result.returncode == 0, result.stderr


def test_result_over_the_size_limit_is_refused_before_the_diff(repo: Path, tmp_path: Path) -> None:
    before = snapshot(repo)
    answer = _answer(tmp_path, "users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\n" + "# pad\n" * 200
                     + "def oldest(users):\n>>>>>>> REPLACE\n")
    result = amigo(repo, "apply", str(answer), "--yes", env={"AMIGO_MAX_FILE_BYTES": "1000"})
    assert result.returncode == 1 and result.stdout == ""
    assert "over the 1,000-byte limit" in result.stderr and snapshot(repo) == before
