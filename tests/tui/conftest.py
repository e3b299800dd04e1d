"""Fixtures for the TUI tests: a recorded-answer model server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import RecordedModelServer  # noqa: E402
from tui_helpers import recorded  # noqa: E402


@pytest.fixture
def answer_server() -> Iterator[RecordedModelServer]:
    """Streams tests/tui/answers/users_two_hunks.txt quickly."""
    with RecordedModelServer(recorded("users_two_hunks.txt"), chunk_chars=6) as server:
        yield server
