"""Fixtures for the language server tests: a recorded model, a test editor over real stdio."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))

from lsp_editor import Editor, start_editor
from lsp_answers import ANSWER, options_for
from helpers import RecordedModelServer

@pytest.fixture
def model() -> Iterator[RecordedModelServer]:
    with RecordedModelServer(ANSWER) as server:
        yield server


@pytest_asyncio.fixture
async def editor(repo: Path, model: RecordedModelServer) -> AsyncIterator[Editor]:
    ed = await start_editor(repo, options_for(model.base_url), env=dict(os.environ))
    yield ed
    await ed.client.shutdown_session()
    await ed.client.stop()


@pytest_asyncio.fixture
async def nvim_editor(repo: Path, model: RecordedModelServer) -> AsyncIterator[Editor]:
    """An editor whose capabilities say it resolves code action commands lazily (Neovim 0.11)."""
    ed = await start_editor(repo, options_for(model.base_url), env=dict(os.environ), client_name="neovim@v0.11.0")
    yield ed
    await ed.client.shutdown_session()
    await ed.client.stop()
