"""The model's answer as it streams: text appended in place, with tokens/s and elapsed time."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, Static


class StreamPanel(Vertical):
    """Appending to a :class:`Log` costs one line's refresh, so long answers stay smooth."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.started = 0.0
        self.finished: float | None = None
        self.tokens = 0
        self.state = "idle"

    def compose(self) -> ComposeResult:
        yield Static("", id="stream-stats", markup=False)
        yield Log(id="stream-log", auto_scroll=True)

    @property
    def log_widget(self) -> Log:
        return self.query_one("#stream-log", Log)

    def start(self, title: str) -> None:
        self.started = time.monotonic()
        self.finished = None
        self.tokens = 0
        self.state = "streaming"
        self.log_widget.clear()
        self.log_widget.write(f"» {title}\n\n")
        self.refresh_stats()

    def append(self, text: str, count: int = 1) -> None:
        """Add ``count`` streamed pieces, joined as ``text``."""
        self.tokens += count
        self.log_widget.write(text)

    def finish(self, state: str, note: str | None = None) -> None:
        self.finished = time.monotonic()
        self.state = state
        if note:
            self.log_widget.write(f"\n\n[{note}]\n")
        self.refresh_stats()

    def refresh_stats(self) -> None:
        end = self.finished or time.monotonic()
        elapsed = max(0.0, end - self.started) if self.started else 0.0
        rate = self.tokens / elapsed if elapsed > 0.05 else 0.0
        hint = "  ·  esc cancels" if self.state == "streaming" else ""
        self.query_one("#stream-stats", Static).update(  # one fixed line: no layout pass needed
            f"{self.state}  ·  {self.tokens} tokens  ·  {rate:.1f} tok/s  ·  {elapsed:.1f} s{hint}", layout=False)
