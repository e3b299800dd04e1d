"""The generation cache: a crashed or repeated run never asks the model twice.

SQLite (WAL) keyed by (task, problem, sample index, a hash of everything that
changes the answer: endpoint model, prompt messages, sampling parameters). A
changed prompt or temperature therefore misses the cache instead of silently
reusing stale answers.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence


def params_key(model: str, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]) -> str:
    """A stable digest of what determines a generation (besides the sample index)."""
    blob = json.dumps({"model": model, "messages": list(messages), "params": dict(params)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class GenerationCache:
    """Thread-safe get/put of generated answers."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS generations (task TEXT, problem TEXT, sample INTEGER, key TEXT,"
                " text TEXT, meta TEXT, PRIMARY KEY (task, problem, sample, key))"
            )

    def get(self, task: str, problem: str, sample: int, key: str) -> tuple[str, dict[str, Any]] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, meta FROM generations WHERE task=? AND problem=? AND sample=? AND key=?",
                (task, problem, sample, key),
            ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def put(self, task: str, problem: str, sample: int, key: str, text: str, meta: Mapping[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?)",
                (task, problem, sample, key, text, json.dumps(dict(meta))),
            )

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
