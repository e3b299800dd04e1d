"""Helpers and fixtures: a real git repository, real proposals on a real EventBus, a private data dir."""

from __future__ import annotations

import difflib
import hashlib
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from amigo import edits
from amigo.events import EventBus, FileChange, Proposal
from amigo.prompt import EditRequest, build_messages
from feedback.settings import FeedbackSettings


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def commit_all(root: Path, message: str = "change") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its database under its own XDG_DATA_HOME."""
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    return home


CALC = """def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def mul(a, b):
    return a * b
"""


@pytest.fixture()
def repo(tmp_path: Path, data_home: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "calc.py").write_text(CALC)
    (root / "README.md").write_text("# calc\n")
    commit_all(root, "initial")
    return root


@pytest.fixture()
def settings() -> FeedbackSettings:
    return FeedbackSettings()


def udiff(path: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}"))


def blocks(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


@dataclass
class Maker:
    root: Path | None

    def __call__(self, new: str | None = None, instruction: str = "make mul check types", path: str = "calc.py",
                 old: str | None = None, answer: str | None = None, parent: Proposal | None = None,
                 model: str = "smollm2-135m", adapter: str | None = None, created_at: float | None = None,
                 errors: tuple[str, ...] = ()) -> Proposal:
        if old is None:
            old = (self.root / path).read_text() if self.root else CALC
        if new is None:
            new = old.replace("    return a * b\n", "    assert isinstance(a, int)\n    return a * b\n")
        request = EditRequest(instruction=instruction, path=path, file_text=old)
        changes = () if errors else (FileChange(path, old, new, hashlib.sha256(old.encode()).hexdigest()),)
        extra = {} if created_at is None else {"created_at": created_at}
        return Proposal(
            id=uuid.uuid4().hex[:12], request=request, messages=tuple(build_messages(request)),
            answer=answer if answer is not None else edits.render(old, new, path), changes=changes,
            diff="" if errors else udiff(path, old, new), model=model, adapter=adapter, latency_s=0.25,
            prompt_tokens=120, completion_tokens=40, parent_id=parent.id if parent else None, errors=errors,
            **extra,
        )


@pytest.fixture()
def make(repo: Path) -> Callable[..., Proposal]:
    return Maker(repo)


@pytest.fixture()
def bus() -> EventBus:
    return EventBus()
