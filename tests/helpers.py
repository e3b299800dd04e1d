"""Small helpers the test suites share (import as ``from helpers import ...``)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """Run a real git command in ``repo`` and return its standard output."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout
