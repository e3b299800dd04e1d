"""The persistent tag cache: one SQLite file under the XDG cache folder.

Rows are keyed by absolute path and carry the file's size, mtime and content
hash, so a second run re-parses only what changed. WAL mode and a busy
timeout let the LSP server and the TUI share it; a corrupt file is deleted
and rebuilt (a cache is never worth a crash); an unwritable folder degrades
to no cache at all.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import time
from amigo.xdg import cache_dir
from pathlib import Path
from typing import Iterable, NamedTuple

SCHEMA_VERSION = 3  # bump whenever FileTags.to_record changes shape or order (3: sorted names)
RECORD_FIELDS = 7
DB_NAME = f"context-v{SCHEMA_VERSION}.sqlite"
BUSY_TIMEOUT_MS = 10_000
# Opening tries this often: setting up WAL on a new file answers "locked" at once, not after the
# busy timeout, while another process sets it up.
OPEN_TRIES = 6


class CachedFile(NamedTuple):
    """One file as it was when it was parsed (``record`` None: skipped, see ``skip``)."""

    size: int
    mtime_ns: int
    digest: str
    record: tuple | None
    skip: str | None


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/amigo`` (``~/.cache/amigo`` when the variable is unset)."""
    return cache_dir()


class TagCache:
    """Read and write cached tags; every failure turns into a note, never an exception."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.folder = cache_dir or default_cache_dir()
        self.path = self.folder / DB_NAME
        self.notes: list[str] = []
        self.conn: sqlite3.Connection | None = None
        self._open()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS files (root TEXT NOT NULL, path TEXT NOT NULL,"
                " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, digest TEXT NOT NULL,"
                " data BLOB, skip TEXT, PRIMARY KEY (root, path))")
            conn.execute("SELECT count(*) FROM files WHERE root = ''").fetchone()
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self.notes.append(f"index cache disabled: cannot create {self.folder} ({err.strerror});"
                              " set XDG_CACHE_HOME to a writable folder")
            return
        for attempt in range(OPEN_TRIES):
            try:
                self.conn = self._connect()
                return
            except sqlite3.OperationalError as err:  # busy or locked: in use, not damaged
                busy = err
                time.sleep(0.05 * 2 ** attempt)
            except sqlite3.DatabaseError as err:
                self._rebuild(err)
                return
        self.notes.append(f"index cache not used this time ({busy}); another process holds it")

    def _rebuild(self, err: Exception) -> None:
        """Delete a corrupt cache file and start an empty one."""
        if self.conn is not None:
            try:
                self.conn.close()
            except sqlite3.Error:
                pass
            self.conn = None
        self.notes.append(f"index cache {self.path} was unreadable ({err}); rebuilt it")
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(str(self.path) + suffix)
            except FileNotFoundError:
                pass
            except OSError:
                pass
        try:
            self.conn = self._connect()
        except sqlite3.Error as again:
            self.notes.append(f"index cache disabled: {again}")
            self.conn = None

    def load(self, root: str) -> dict[str, CachedFile]:
        """Every cached file under ``root`` (empty when the cache is off or broken)."""
        if self.conn is None:
            return {}
        try:
            rows = self.conn.execute(
                "SELECT path, size, mtime_ns, digest, data, skip FROM files WHERE root = ?",
                (root,)).fetchall()
        except sqlite3.OperationalError as err:  # busy or locked: never a reason to delete a shared file
            self.notes.append(f"index cache not read ({err}); it will be next time")
            return {}
        except sqlite3.DatabaseError as err:
            self._rebuild(err)
            return {}
        out: dict[str, CachedFile] = {}
        for path, size, mtime_ns, digest, data, skip in rows:
            try:
                record = marshal.loads(data) if data is not None else None
            except (ValueError, EOFError, TypeError):
                continue  # a damaged row: treat as not cached
            if record is not None and (not isinstance(record, tuple) or len(record) != RECORD_FIELDS):
                continue
            out[path] = CachedFile(size, mtime_ns, digest, record, skip)
        return out

    def store(self, root: str, rows: Iterable[tuple[str, CachedFile]]) -> None:
        """Upsert ``rows`` in one transaction (waits for a concurrent writer)."""
        if self.conn is None:
            return
        payload = [(root, path, c.size, c.mtime_ns, c.digest,
                    marshal.dumps(c.record) if c.record is not None else None, c.skip)
                   for path, c in rows]
        if not payload:
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR REPLACE INTO files (root, path, size, mtime_ns, digest, data, skip)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", payload)
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as err:
            self._rollback()
            self.notes.append(f"index cache not updated ({err}); it will be next time")
        except sqlite3.DatabaseError as err:
            self._rollback()
            self._rebuild(err)

    def forget(self, root: str, paths: Iterable[str]) -> None:
        """Drop rows of files that no longer exist."""
        if self.conn is None:
            return
        try:
            self.conn.executemany("DELETE FROM files WHERE root = ? AND path = ?",
                                  [(root, p) for p in paths])
        except sqlite3.Error:
            pass

    def _rollback(self) -> None:
        try:
            if self.conn is not None and self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
