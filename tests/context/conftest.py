"""Fixtures for amigo.context: small real git repositories and clean in-process indexes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: make helpers importable
from context_helpers import run_git, write_files  # noqa: E402

from amigo.context import files as filelist
from amigo.context.index import forget_indexes


@pytest.fixture(autouse=True)
def fresh_indexes() -> Iterator[None]:
    """No index or cached git lookup leaks from one test into another."""
    forget_indexes()
    filelist._TOPLEVELS.clear()
    yield
    forget_indexes()
    filelist._TOPLEVELS.clear()


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """Build a real git repository from a {path: content} dict, committed once."""

    def make(files: dict[str, str | bytes], name: str = "repo", commit: bool = True) -> Path:
        root = tmp_path / name
        root.mkdir()
        write_files(root, files)
        run_git(root, "init", "-q", "-b", "main")
        if commit:
            run_git(root, "add", "-A")
            run_git(root, "commit", "-q", "-m", "initial")
        return root

    return make
