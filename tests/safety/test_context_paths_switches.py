"""Documented ``AMIGO_*`` switches are accepted by every command (issue 16, defect 9).

``AMIGO_NO_WATCH=1`` is documented in the README, yet ``amigo doctor``,
``apply`` and ``undo`` refused it as an unknown configuration key. These run
the real ``amigo`` command in a real repository with the switch set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from amigo.config import SWITCHES, load_config, switch_on
from amigo.context.watch import watch_tree
from amigo.errors import ConfigError
from helpers import RecordedModelServer, git

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "tests" / "core" / "data" / "recorded"


def amigo(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "amigo", *args], cwd=repo, text=True, capture_output=True,
                          env=environ, timeout=120)


def test_no_watch_works_with_doctor_apply_and_undo(repo: Path) -> None:
    before = (repo / "users.py").read_bytes()
    answer = repo.parent / "answer.txt"
    answer.write_text((RECORDED / "blocks_sort.txt").read_text())
    with RecordedModelServer("") as server:
        env = {"AMIGO_NO_WATCH": "1", "AMIGO_ENDPOINT": server.base_url}
        doctor = amigo(repo, "doctor", env=env)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "switches:    AMIGO_NO_WATCH" in doctor.stdout
        applied = amigo(repo, "apply", str(answer), "--yes", env=env)
        assert applied.returncode == 0, applied.stderr
        assert "def sort_by_age" in (repo / "users.py").read_text()
        undone = amigo(repo, "undo", env=env)
        assert undone.returncode == 0, undone.stderr
    assert (repo / "users.py").read_bytes() == before
    assert git(repo, "status", "--porcelain") == ""


def test_a_mistyped_variable_is_still_an_error_that_names_itself(repo: Path) -> None:
    result = amigo(repo, "doctor", env={"AMIGO_NO_WACH": "1"})
    assert result.returncode == 1
    assert "unknown key 'AMIGO_NO_WACH'" in result.stderr and "AMIGO_NO_WATCH" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_on_off_switch_with_another_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'AMIGO_NO_WATCH' has a bad value 'maybe' \\(expected 1 or 0\\)"):
        load_config(tmp_path, environ={"AMIGO_NO_WATCH": "maybe"})


def test_the_switch_acts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepting the variable is not enough: the index must stop using the kernel's watch."""
    monkeypatch.setenv("AMIGO_NO_WATCH", "1")
    assert switch_on("AMIGO_NO_WATCH") and watch_tree(str(tmp_path)) is None
    monkeypatch.setenv("AMIGO_NO_WATCH", "0")
    assert not switch_on("AMIGO_NO_WATCH")
    if sys.platform == "linux":
        watch = watch_tree(str(tmp_path))
        if watch is not None:  # None where inotify is unavailable or the filesystem is remote
            watch.close()


def test_every_amigo_variable_the_readme_names_is_accepted(tmp_path: Path) -> None:
    """Each ``AMIGO_*`` the README documents is a configuration key or a known switch."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bAMIGO_[A-Z0-9_]*[A-Z0-9]", readme))
    values = dict(re.findall(r"\b(AMIGO_[A-Z0-9_]+)=([^\s`)]+)", readme))
    assert "AMIGO_NO_WATCH" in named and "AMIGO_SKIP_VLLM" in named
    for name in named:
        value = values.get(name, "1")
        try:
            load_config(tmp_path, environ={name: value})
        except ConfigError as exc:
            assert "unknown key" not in str(exc), f"README documents {name}, but: {exc}"
    for switch in SWITCHES.values():
        load_config(tmp_path, environ={switch.name: "1" if switch.flag else "x"})
