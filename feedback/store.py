"""The SQLite store: one connection per process, one short transaction per write.

WAL journal (readers never block the writer, a killed process leaves the
database consistent: only committed transactions survive), ``synchronous =
NORMAL`` (durable across a process crash; an OS crash may lose the last
commits, never corrupt), a busy timeout so several processes (LSP server, TUI,
CLI) can write at once, ``BEGIN IMMEDIATE`` so no writer has to upgrade its
lock mid-transaction, foreign keys on.

Writers from several processes also queue on an advisory ``flock`` of
``<db>.lock`` around each write transaction: the kernel wakes the next
writer as soon as the lock is free, where SQLite's busy handler would sleep
in steps of up to 100 ms (with 4 busy writers that cut throughput tenfold
and could starve one past the timeout). A killed process drops its flock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

from amigo.errors import ConfigError
from feedback.schema import LATEST, MIGRATIONS

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's own busy handler only
    fcntl = None  # type: ignore[assignment]

BUSY_TIMEOUT_MS = 30_000


class Reader(Protocol):
    """What stats and export read: this machine's :class:`Store` or the team's
    :class:`feedback.team.TeamStore` (same SQL, ``?`` placeholders; rows index by name and position)."""

    @property
    def version(self) -> int: ...

    def query(self, sql: str, params: Any = ()) -> Sequence[Any]: ...


class Store:
    """An open feedback database. Thread-safe (one lock around the connection)."""

    def __init__(self, path: Path, target_version: int = LATEST) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the feedback database {self.path}: {exc}; "
                "set feedback.db_path to a writable file or feedback.enabled = false"
            ) from exc
        self.lock = threading.RLock()
        self._lock_fd: int | None = None
        if fcntl is not None:
            try:
                self._lock_fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self._lock_fd = None  # read-only folder: SQLite's locking alone still is correct
        self.conn.row_factory = sqlite3.Row
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._use_wal()
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA secure_delete = ON")  # deleted text is overwritten, not left in free pages
        self.migrate(target_version)

    def _use_wal(self) -> None:
        """Switch the file to WAL once (the mode is kept in the file). Switching needs the
        database to itself, and SQLite answers "database is locked" at once, without its busy
        handler, when another process is creating or migrating the same new file (an editor,
        the TUI and the CLI starting together): wait and try again, as the busy timeout would."""
        if str(self.conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    # -- schema --------------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, target: int = LATEST) -> int:
        """Upgrade to ``target`` in place; returns the version now in force."""
        if self.version > LATEST:
            raise ConfigError(
                f"the feedback database {self.path} has schema version {self.version}, newer than this "
                f"Amigo knows ({LATEST}); upgrade Amigo or point feedback.db_path elsewhere"
            )
        if self.version >= target:
            return self.version
        with self.transaction() as conn:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])  # re-read under the lock
            for version in range(current + 1, target + 1):
                MIGRATIONS[version](conn)
                conn.execute(f"PRAGMA user_version = {version}")
        return self.version

    # -- transactions --------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any error)."""
        with self.lock:
            if self._lock_fd is not None:
                self._flock()
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            finally:
                if self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _flock(self) -> None:
        """Take the writers' flock, waiting at most the busy timeout (a stopped process must not hang us)."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = 0.0002
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError(
                        f"database is locked: another Amigo process has held {self.path}.lock for "
                        f"{BUSY_TIMEOUT_MS // 1000} s") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.005)

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def integrity(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a sound database."""
        with self.lock:
            return "; ".join(row[0] for row in self.conn.execute("PRAGMA integrity_check"))

    def compact(self) -> None:
        """VACUUM and truncate the WAL, so deleted rows are gone from every file on disk."""
        with self.lock:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self.lock:
            self.conn.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
