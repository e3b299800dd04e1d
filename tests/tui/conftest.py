"""Fixtures for the TUI tests: a recorded-answer model server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from recorded_server import RecordedServer, recorded  # noqa: E402


@pytest.fixture
def answer_server() -> Iterator[RecordedServer]:
    """Streams tests/tui/answers/users_two_hunks.txt quickly."""
    with RecordedServer(recorded("users_two_hunks.txt")) as server:
        yield server
