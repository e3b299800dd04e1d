"""Shared fixtures: an isolated environment, small real git repositories, the real model server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from helpers import SAMPLE_USERS, git


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own XDG dirs and no AMIGO_* settings from the outside world."""
    home = tmp_path_factory.mktemp("xdg")
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        path = home / name.lower()
        path.mkdir()
        monkeypatch.setenv(name, str(path))
    for name in list(os.environ):
        if name.startswith("AMIGO_") and name not in ("AMIGO_DATA_DIR", "AMIGO_LLAMA_CPP_SRC"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Amigo Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@amigo.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Amigo Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@amigo.invalid")
    return home


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with one commit: users.py and README.md."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "users.py").write_text(SAMPLE_USERS, encoding="utf-8")
    (root / "README.md").write_text("# sample\n", encoding="utf-8")
    git(root, "add", "users.py", "README.md")
    git(root, "commit", "-q", "-m", "Initial commit")
    return root


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real embedded model server (llama.cpp + SmolLM2-135M), once per test run.

    Yields the OpenAI-compatible base URL. AMIGO_TEST_ENDPOINT reuses a server
    that is already running (handy while developing).
    """
    existing = os.environ.get("AMIGO_TEST_ENDPOINT")
    if existing:
        yield existing
        return
    from amigo.serve import ServerProcess

    log = tmp_path_factory.mktemp("model-server") / "server.log"
    server = ServerProcess(n_ctx=4096, log_path=log)
    server.start(timeout=180)
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def fresh_probe_cache() -> Iterator[None]:
    """A server probe that is really sent (the cache is per process and keyed by URL)."""
    from amigo.decoding import clear_probe_cache

    clear_probe_cache()
    yield
    clear_probe_cache()
