"""``amigo context``: the prompt the model would see, notes and timings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from amigo.context.cli import main, parse_lines

from context_helpers import SHOP


def test_prints_messages_notes_and_timings(make_repo, capsys) -> None:
    root = make_repo(SHOP)
    (root / "shop/blob.py").write_bytes(b"\0\0binary\0")
    code = main([str(root / "shop/checkout.py"), "--lines", "5-7", "--instruction", "round the total",
                 "--budget", "800", "--repo", str(root)])
    out = capsys.readouterr().out
    assert code == 0
    assert "===== system =====" in out and "===== user =====" in out
    assert "## Repository context" in out and "def apply_tax(cents: int) -> int:" in out
    assert "## Selected lines 5-7 of shop/checkout.py" in out
    assert "## Instruction\nround the total" in out
    assert "skipped 1 file (binary): shop/blob.py" in out
    assert "tokens; timings =====" in out and "rank:" in out and "total:" in out


def test_finds_the_repository_without_repo(make_repo, capsys, monkeypatch) -> None:
    root = make_repo(SHOP)
    monkeypatch.chdir(root / "shop")
    assert main(["checkout.py", "--lines", "5"]) == 0
    out = capsys.readouterr().out
    assert "## File: shop/checkout.py" in out and "def apply_tax" in out


@pytest.mark.parametrize("argv,message,status", [
    (["missing.py"], "no such file", 1),
    (["shop"], "is a folder", 1),
    (["shop/checkout.py", "--lines", "50-60"], "past the end", 2),  # bad usage
    (["shop/blob.bin"], "looks binary", 1),
])
def test_bad_input_is_a_clear_error(make_repo, capsys, monkeypatch, argv, message, status) -> None:
    root = make_repo(SHOP)
    (root / "shop/blob.bin").write_bytes(b"\0\0")
    monkeypatch.chdir(root)
    assert main(argv) == status
    assert message in capsys.readouterr().err


def test_outside_repo_is_refused(make_repo, tmp_path: Path, capsys) -> None:
    root = make_repo(SHOP)
    other = tmp_path / "elsewhere.py"
    other.write_text("x = 1\n")
    assert main([str(other), "--repo", str(root)]) == 1
    assert "outside the repository" in capsys.readouterr().err


def test_lines_argument_parsing() -> None:
    assert parse_lines("3-9") == (3, 9) and parse_lines("4") == (4, 4)
    for bad in ("a-b", "0-3", "9-3"):
        with pytest.raises(Exception):
            parse_lines(bad)


def test_runs_as_a_real_process_in_a_plain_folder(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "lib.py").write_text("def helper(a, b):\n    return a + b\n")
    (folder / "main.py").write_text("from lib import helper\nprint(helper(1, 2))\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-m", "amigo.context.cli", "main.py", "--lines", "2-2",
                          "--repo", "."], cwd=folder, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "def helper(a, b):" in out.stdout
    assert "not a git repository" in out.stdout
