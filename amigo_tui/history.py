"""Instruction history, kept across sessions under ``$XDG_STATE_HOME/amigo``."""

from __future__ import annotations

import json
import os
from amigo.xdg import state_dir
from pathlib import Path


def default_history_path() -> Path:
    return state_dir() / "tui-history.json"


class InstructionHistory:
    """Most recent last; Up/Down in the instruction box walk it like a shell's history."""

    def __init__(self, path: Path | None = None, limit: int = 200) -> None:
        self.path = path or default_history_path()
        self.limit = limit
        self.entries: list[str] = self._load()
        self._cursor = len(self.entries)

    def _load(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []  # no history yet, or a damaged file: start afresh rather than fail
        return [e for e in data if isinstance(e, str)][-self.limit:] if isinstance(data, list) else []

    def add(self, text: str) -> None:
        """Remember ``text`` (moved to the end if already there) and save at once."""
        text = text.strip()
        if not text:
            return
        if text in self.entries:
            self.entries.remove(text)
        self.entries.append(text)
        self.entries = self.entries[-self.limit:]
        self._cursor = len(self.entries)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.entries), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # history is a convenience; an unwritable state dir must not stop an edit

    def previous(self) -> str | None:
        if not self.entries:
            return None
        self._cursor = max(0, self._cursor - 1)
        return self.entries[self._cursor]

    def next(self) -> str:
        self._cursor = min(len(self.entries), self._cursor + 1)
        return self.entries[self._cursor] if self._cursor < len(self.entries) else ""
