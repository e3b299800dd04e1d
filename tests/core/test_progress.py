"""Progress on long work: a rich bar with rate and ETA on a terminal, plain periodic lines
off one, nothing with --quiet or when no command line asked for it."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amigo import progress
from helpers import git


@pytest.fixture(autouse=True)
def _off_afterwards():
    yield
    progress.disable()


def count_to(n: int, pause_s: float = 0.0) -> None:
    with progress.task("counting", n, "items") as reporter:
        for _ in range(n):
            time.sleep(pause_s)
            reporter.advance()


def test_off_a_terminal_plain_lines_with_rate_and_eta(monkeypatch) -> None:
    monkeypatch.setenv("AMIGO_PROGRESS_INTERVAL", "0")
    out = io.StringIO()
    progress.enable(stream=out)
    count_to(3)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("counting: 1/3 items (33%), ") and "items/s" in lines[0] and ", ETA " in lines[0]
    assert lines[-1].startswith("counting: 3/3 items (100%)") and lines[-1].endswith("(done)")
    assert "\x1b[" not in out.getvalue()  # no terminal codes in a log


def test_off_a_terminal_a_short_task_prints_nothing(monkeypatch) -> None:
    monkeypatch.delenv("AMIGO_PROGRESS_INTERVAL", raising=False)  # one line per 10 s
    out = io.StringIO()
    progress.enable(stream=out)
    count_to(50)
    assert out.getvalue() == ""


def test_quiet_and_library_use_print_nothing(monkeypatch) -> None:
    monkeypatch.setenv("AMIGO_PROGRESS_INTERVAL", "0")
    out = io.StringIO()
    progress.enable(quiet=True, stream=out)
    count_to(3)
    progress.disable()  # a library import: the LSP server and the TUI never enable it
    count_to(3)
    assert out.getvalue() == ""


def test_on_a_terminal_a_bar_with_rate_and_eta() -> None:
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal:
        progress.enable(stream=terminal)
        count_to(6, pause_s=0.1)  # rich redraws 10 times a second
    shown = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    text = shown.decode("utf-8", "replace")
    assert "counting" in text and "items/s" in text and "ETA" in text
    assert "\x1b[" in text  # drawn with terminal codes, redrawn in place


def test_commit_mining_reports_progress_unless_quiet(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for i in range(3):
        (repo / "a.py").write_text(f"x = {i}\n")
        git(repo, "add", "a.py")
        git(repo, "commit", "-qm", f"Change x to {i}")
    env = {**os.environ, "AMIGO_PROGRESS_INTERVAL": "0"}

    def mine(*extra: str) -> str:
        done = subprocess.run([sys.executable, "-m", "amigo", "data", "mine-commits", str(repo), "--out",
                               str(tmp_path / "out.jsonl"), *extra], capture_output=True, text=True, env=env,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "mining repo: 3/3 commits (100%)" in mine()
    assert "mining" not in mine("--quiet")
