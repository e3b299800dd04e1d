"""Progress of long work (indexing, evaluation, data preparation, mining, export).

One reporter for every package: a rich bar with rate and ETA when standard error
is a terminal, a plain line every few seconds when it is not (CI logs, pipes),
nothing with ``--quiet``. Library code calls :func:`task` wherever it loops over
many items; the output stays off until a command-line entry point calls
:func:`enable`, so the language server (whose stdout is the protocol), the TUI
and tests print nothing they did not ask for.

Why process-wide state: whether to show progress is a property of the terminal
and the command line, like logging's level, not of each function that loops;
threading a reporter through every call would touch every signature on the way.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import IO, Any, Iterable, Iterator, TypeVar

T = TypeVar("T")

# Seconds between plain lines off a terminal (AMIGO_PROGRESS_INTERVAL overrides).
DEFAULT_INTERVAL_S = 10.0

_lock = threading.Lock()
_enabled = False
_stream: IO[str] | None = None


def enable(quiet: bool = False, stream: IO[str] | None = None) -> None:
    """Show progress from now on (a command-line entry point calls this); ``quiet`` keeps it off."""
    global _enabled, _stream
    with _lock:
        _enabled, _stream = not quiet, stream


def disable() -> None:
    """Stop showing progress (the state a library import starts in)."""
    enable(quiet=True)


def interval_s() -> float:
    """Seconds between plain progress lines (``AMIGO_PROGRESS_INTERVAL``, default 10)."""
    raw = os.environ.get("AMIGO_PROGRESS_INTERVAL", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_INTERVAL_S
    except ValueError:
        return DEFAULT_INTERVAL_S


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Task:
    """One piece of long work: ``advance`` as items finish. Use as a context manager."""

    def __init__(self, description: str, total: int | None, unit: str, stream: IO[str] | None,
                 active: bool) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.completed = 0
        self.started = time.monotonic()
        self._stream = stream
        self._active = active
        self._tty = active and stream is not None and stream.isatty()
        self._last_line = self.started
        self._lines = 0
        self._rich = None
        self._rich_task = None

    def __enter__(self) -> "Task":
        if self._tty:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskProgressColumn,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self._rich = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(),
                TimeElapsedColumn(), console=Console(file=self._stream), transient=True)
            self._rich.start()
            self._rich_task = self._rich.add_task(self.description, total=self.total, rate="")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(failed=exc_type is not None)

    def rate(self) -> float:
        """Items per second so far."""
        elapsed = time.monotonic() - self.started
        return self.completed / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None while unknown)."""
        rate = self.rate()
        if self.total is None or rate <= 0:
            return None
        return max(0.0, (self.total - self.completed) / rate)

    def line(self) -> str:
        """The plain progress line: what, how far, how fast, how long still."""
        done = f"{self.completed:,}" + (f"/{self.total:,}" if self.total is not None else "")
        share = f" ({100 * self.completed / self.total:.0f}%)" if self.total else ""
        eta = self.eta_s()
        tail = f", ETA {_duration(eta)}" if eta is not None and self.completed < (self.total or 0) else ""
        return (f"{self.description}: {done} {self.unit}{share}, {self.rate():.1f} {self.unit}/s, "
                f"{_duration(time.monotonic() - self.started)} elapsed{tail}")

    def set_total(self, total: int | None) -> None:
        """The total, once it is known (or when it changes)."""
        self.total = total
        if self._rich is not None:
            self._rich.update(self._rich_task, total=total)

    def advance(self, n: int = 1) -> None:
        """``n`` more items are done."""
        self.update(self.completed + n)

    def update(self, completed: int) -> None:
        """``completed`` items are done in all (for work counted elsewhere, e.g. by other processes)."""
        self.completed = completed
        if not self._active:
            return
        if self._rich is not None:
            self._rich.update(self._rich_task, completed=completed, rate=f"{self.rate():.1f} {self.unit}/s")
            return
        now = time.monotonic()
        if now - self._last_line >= interval_s():
            self._last_line = now
            self._print(self.line())

    def close(self, failed: bool = False) -> None:
        """End the bar (it leaves the screen: results are the caller's to print); off a terminal,
        a last line if any were printed (a short task prints none)."""
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
        elif self._active and self._lines and not failed:
            self._print(self.line().split(", ETA")[0] + " (done)")
        self._active = False

    def _print(self, text: str) -> None:
        assert self._stream is not None
        self._stream.write(text + "\n")
        self._stream.flush()
        self._lines += 1


def add_quiet_flag(parsers: Iterable[Any]) -> None:
    """``--quiet/-q`` on each argparse parser: the one switch that silences progress."""
    for parser in parsers:
        parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def task(description: str, total: int | None = None, unit: str = "items") -> Task:
    """A progress reporter for one loop; silent unless a command line called :func:`enable`."""
    with _lock:
        active, stream = _enabled, _stream
    return Task(description, total, unit, stream if stream is not None else sys.stderr, active)


def track(items: Iterable[T], description: str, total: int | None = None, unit: str = "items") -> Iterator[T]:
    """Iterate ``items`` with progress (``total`` from ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with task(description, total, unit) as reporter:
        for item in items:
            yield item
            reporter.advance()
