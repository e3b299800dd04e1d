"""Helpers for the TUI tests: a session pointed at a recorded server, waiting on the app."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Callable, Coroutine

from amigo.config import load_config
from amigo.engine import EditSession


def open_session(repo: Path, endpoint: str, **overrides: object) -> EditSession:
    """A real session on ``repo`` whose model is the server at ``endpoint``."""
    settings: dict[str, object] = dict(endpoint=endpoint, model="recorded", edit_format="blocks", decoding="free",
                                       context_budget=0, retries=0, connect_timeout=2.0)
    settings.update(overrides)
    config = dataclasses.replace(load_config(repo), **settings)
    return EditSession.open(repo, config=config)


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def run(coro: Coroutine) -> None:
    asyncio.run(coro)


ANSWERS = Path(__file__).parent / "answers"


def recorded(name: str) -> str:
    """A recorded model answer from tests/tui/answers."""
    return (ANSWERS / name).read_text(encoding="utf-8")
