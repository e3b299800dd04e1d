"""One meaning per exit status for every subcommand: 0 ok, 1 refused or failed, 2 bad usage, 3 rejected.

Each case runs the real `amigo` command in a subprocess and checks the status
and that the message names what to do. "Down" servers are a local port that
was bound and released, so the connection is refused at once.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import git

SUBCOMMANDS = ("edit", "apply", "undo", "serve", "doctor", "context", "lsp", "tui",
               "feedback", "train", "data", "eval")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with one Python file, and a one-problem HumanEval data folder beside it."""
    root = tmp_path_factory.mktemp("exit-codes")
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    git(repo, "add", "a.py")
    git(repo, "commit", "-qm", "init")
    data = root / "data" / "humaneval"
    data.mkdir(parents=True)
    problem = {"task_id": "HumanEval/0", "prompt": "def add(a, b):\n", "canonical_solution": "    return a + b\n",
               "test": "def check(f):\n    assert f(1, 2) == 3\n", "entry_point": "add"}
    with gzip.open(data / "HumanEval.jsonl.gz", "wt") as f:
        f.write(json.dumps(problem) + "\n")
    return root


def amigo(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    down = f"http://127.0.0.1:{closed_port()}"
    env = {**os.environ, "AMIGO_ENDPOINT": f"{down}/v1", "HF_ENDPOINT": down, "HF_TOKEN": "hf_test_not_real",
           "HF_HUB_OFFLINE": "", "XDG_DATA_HOME": str(workdir / "xdg-data"),
           "XDG_STATE_HOME": str(workdir / "xdg-state"), "XDG_CACHE_HOME": str(workdir / "xdg-cache"),
           "AMIGO_CONTEXT_BUDGET": "0"}
    return subprocess.run([sys.executable, "-m", "amigo", *args], cwd=workdir / "repo", text=True, stdin=subprocess.DEVNULL,
                          capture_output=True, env=env, timeout=120)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_bad_flag_is_bad_usage_with_the_usage_line(workdir: Path, name: str) -> None:
    result = amigo(workdir, name, "--no-such-flag")
    assert result.returncode == 2, result.stderr
    assert "usage: amigo" in result.stderr and "Traceback" not in result.stderr


MISSING = "no-such-thing"
MISSING_FILE = [
    (["edit", "add a docstring", f"{MISSING}.py", "--yes"], "check the path"),
    (["apply", f"{MISSING}.txt", "--yes"], "cannot read the answer file"),
    (["undo", "--repo", MISSING], "give the path of the repository's folder"),
    (["doctor", "--repo", MISSING], "give the path of the repository's folder"),
    (["context", f"{MISSING}.py"], "give the path of an existing file"),
    (["lsp", "--log-file", f"{MISSING}/log.txt"], "existing, writable folder"),
    (["tui", "--repo", MISSING], "give the path of the repository's folder"),
    (["feedback", "stats", "--db", f"{MISSING}.db"], "pass --db"),
    (["train", "run", f"{MISSING}.yaml"], "see recipes/"),
    (["train", "export", MISSING, "--out", "out"], "pass the output_dir"),
    (["train", "push", MISSING, "--repo-id", "acme/x"], "run `amigo train export` first"),
    (["data", "mine-commits", MISSING, "--out", "o.jsonl"], "not a git repository"),
    (["eval", "report", MISSING, "--out", "r.md"], "point at a folder"),
    (["eval", "run", "--task", "humaneval", "--out", "o", "--data-dir", MISSING], "pass --data-dir"),
]


@pytest.mark.parametrize("argv,hint", MISSING_FILE, ids=[" ".join(a[:2]) for a, _ in MISSING_FILE])
def test_missing_file_fails_with_what_to_do(workdir: Path, argv: list[str], hint: str) -> None:
    result = amigo(workdir, *argv)
    assert result.returncode == 1, result.stderr
    assert hint in result.stderr and "Traceback" not in result.stderr


def test_bad_option_value_is_bad_usage(workdir: Path) -> None:
    result = amigo(workdir, "feedback", "purge", "--before", "last tuesday", "--db", "x.db")
    assert result.returncode == 2 and "give a date like 2026-11-01" in result.stderr
    result = amigo(workdir, "eval", "run", "--task", "humaneval", "--out", "o", "--n", "0")
    assert result.returncode == 2 and "--n must be at least 1" in result.stderr


DOWN_SERVER = [
    (["edit", "add a docstring", "a.py", "--yes", "--quiet"], "start the embedded one with `amigo serve`"),
    (["doctor"], "start the embedded one with `amigo serve`"),
    (["eval", "run", "--task", "humaneval", "--out", "../eval-out", "--data-dir", "../data",
      "--endpoint", "ENDPOINT", "--model", "m"], "start the embedded one with `amigo serve`"),
    (["data", "check", "commitpackft-python"], "--local NAME=FILE"),
    (["train", "push", ".", "--repo-id", "acme/x"], "check the network"),
]


@pytest.mark.parametrize("argv,hint", DOWN_SERVER, ids=[" ".join(a[:2]) for a, _ in DOWN_SERVER])
def test_down_server_fails_with_what_to_do(workdir: Path, argv: list[str], hint: str) -> None:
    argv = [f"http://127.0.0.1:{closed_port()}/v1" if a == "ENDPOINT" else a for a in argv]
    result = amigo(workdir, *argv)
    assert result.returncode == 1, result.stderr
    # doctor is a report: it says so on standard output, the others on standard error
    assert hint in result.stderr + result.stdout and "Traceback" not in result.stderr
