"""Smoke test in a real terminal: tmux runs `amigo tui`, send-keys edits, capture-pane reads the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest
from helpers import RecordedModelServer

import amigo_tui

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")

PROJECT_ROOT = Path(amigo_tui.__file__).resolve().parent.parent


def amigo_command() -> list[str]:
    """The installed console script when there is one, else the module."""
    script = Path(sys.executable).parent / "amigo"
    return [str(script)] if script.exists() else [sys.executable, "-m", "amigo"]


class Tmux:
    def __init__(self) -> None:
        self.socket = f"amigo-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        if done.returncode != 0:
            raise AssertionError(f"tmux {args[0]} failed: {done.stderr}")
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "amigo")

    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            try:
                screen = self.screen()
            except AssertionError:
                screen = "(pane gone)"
            if condition(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"never saw {what}; the screen was:\n{screen}")


def test_amigo_tui_in_tmux_performs_an_edit(repo: Path, answer_server: RecordedModelServer) -> None:
    before = (repo / "users.py").read_text()
    env = {
        "AMIGO_ENDPOINT": answer_server.base_url, "AMIGO_MODEL": "recorded", "AMIGO_EDIT_FORMAT": "blocks",
        "AMIGO_DECODING": "free", "AMIGO_CONTEXT_BUDGET": "0", "AMIGO_FEEDBACK__ENABLED": "false",
        "PYTHONPATH": str(PROJECT_ROOT), "TERM": "xterm-256color",
    }
    tmux = Tmux()
    command = " ".join([*amigo_command(), "tui", "--repo", str(repo), "users.py"])
    exports = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    tmux("new-session", "-d", "-s", "amigo", "-x", "100", "-y", "30", *exports,
         f"{command}; echo AMIGO-EXITED-$?; sleep 30")
    try:
        tmux.wait_for(lambda s: "connected" in s and "A tiny user registry" in s, "the file and the status bar", 60)
        tmux("send-keys", "-t", "amigo", "i")
        tmux("send-keys", "-t", "amigo", "-l", "document oldest")
        typed = tmux.wait_for(lambda s: "document oldest" in s, "the typed instruction")
        tmux("send-keys", "-t", "amigo", "Enter")
        review = tmux.wait_for(lambda s: "hunk 2/2" in s, "the review of two hunks")
        assert "A tiny registry of users." in review
        tmux("send-keys", "-t", "amigo", "a")
        done = tmux.wait_for(lambda s: "wrote users.py" in s, "the accept notification")
        assert "Traceback" not in done
        tmux("send-keys", "-t", "amigo", "q")
        tmux.wait_for(lambda s: "AMIGO-EXITED-0" in s, "a clean exit")
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True, timeout=20)
    expected = before.replace('"""A tiny user registry."""', '"""A tiny registry of users."""').replace(
        "def oldest(users):\n", 'def oldest(users):\n    """The oldest user (the first one on ties)."""\n')
    assert (repo / "users.py").read_text() == expected
