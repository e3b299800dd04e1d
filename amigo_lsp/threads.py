"""Blocking work (a model request) awaited from the language server's event loop.

Each piece runs on a thread of its own, never on pygls' reader pool, so a
slow generation never holds up the next message; when the request is
cancelled (``$/cancelRequest`` or a newer keystroke), ``cancel`` is set,
which makes the client close its HTTP stream and the server stop generating.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Callable, TypeVar

T = TypeVar("T")


async def run_in_thread(work: Callable[[], T], cancel: threading.Event, name: str) -> T:
    """Run ``work`` on a new daemon thread called ``name`` and await its result (or exception)."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        cancel.set()
        raise
