"""The team store: one PostgreSQL database that every developer's machine pushes to.

Nothing writes here while a person works: the recorder writes the local
SQLite store, and ``amigo feedback push`` (:mod:`feedback.push`) sends what
this store lacks. ``stats`` and ``export`` read it through :meth:`TeamStore.query`,
which takes the same SQL (``?`` placeholders) and gives rows that index like
``sqlite3.Row`` (by name and by position), so both back ends share one reader.
That is why this is psycopg 3 and not SQLAlchemy: the readers already share
their SQL, and the writers differ on purpose (the local one queues on a flock
for one short transaction per event; the team one sends batches).

``feedback.url`` names the server (``postgresql://user@host:5432/db``); the
password comes from the environment only (``AMIGO_FEEDBACK_PASSWORD``, else
libpq's own ``PGPASSWORD``): a URL holding one is refused, like an API key in
a file, because configuration files get committed.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from amigo import install_hint
from amigo.config import TEAM_PASSWORD_ENV as PASSWORD_ENV, team_url_problem
from amigo.errors import ConfigError
from feedback.schema import PG_LATEST, PG_MIGRATIONS

# one lock id for schema changes; pushes lock per machine (see machine_lock)
MIGRATE_LOCK = "amigo-feedback-migrate"
# the tables of pushed feedback (a purge deletes from them; purges, its tombstones, stay)
TABLES = ("proposals", "events", "followups", "completions", "completion_events")


class Row(tuple):
    """A result row readable as ``row["name"]`` and ``row[0]``, like ``sqlite3.Row``."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> "Row":
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


def to_pg(sql: str) -> str:
    """SQLite-style ``?`` placeholders as psycopg's ``%s`` (quoted text left alone; ``%`` escaped)."""
    out, quoted = [], False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


def check_url(url: str) -> str:
    """``url`` when it is a PostgreSQL URL without a password; else a ConfigError saying what to do."""
    problem = team_url_problem(url) if url else "is not set: give postgresql://user@host:port/database"
    if problem:
        raise ConfigError(f"feedback.url ({public_url(url)}) {problem}")
    return url


def public_url(url: str) -> str:
    """The URL as it may be printed: any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return "(an unreadable URL)"
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class TeamStore:
    """An open connection to the team's PostgreSQL feedback database, migrated to the latest schema."""

    def __init__(self, url: str, connect_timeout: float = 10.0, target_version: int = PG_LATEST) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise ConfigError("feedback.url names a PostgreSQL team store, but psycopg is not installed: "
                              f"{install_hint('team')}") from exc
        self.url = check_url(url)
        password = os.environ.get(PASSWORD_ENV)
        try:
            self.conn = psycopg.connect(
                url, autocommit=True, connect_timeout=max(1, int(connect_timeout)), application_name="amigo",
                row_factory=_row_factory, **({"password": password} if password else {}),
            )
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"cannot reach the team feedback store {public_url(url)}: {reason}; check feedback.url and "
                f"{PASSWORD_ENV} (or PGPASSWORD). Your feedback stays in the local database until a push "
                "succeeds") from None
        self.migrate(target_version)

    # -- schema --------------------------------------------------------------------
    @property
    def version(self) -> int:
        exists = self.conn.execute("SELECT to_regclass('amigo_schema') IS NOT NULL").fetchone()[0]
        if not exists:
            return 0
        row = self.conn.execute("SELECT version FROM amigo_schema").fetchone()
        return int(row[0]) if row else 0

    def migrate(self, target: int = PG_LATEST) -> int:
        """Upgrade to ``target`` in one transaction, under a lock (two first pushes cannot both create)."""
        if self.version > PG_LATEST:
            raise ConfigError(f"the team feedback store {public_url(self.url)} has schema version {self.version}, "
                              f"newer than this Amigo knows ({PG_LATEST}): upgrade Amigo on this machine")
        if self.version >= target:
            return self.version
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (MIGRATE_LOCK,))
            self.conn.execute("CREATE TABLE IF NOT EXISTS amigo_schema (version INTEGER NOT NULL)")
            current = self.version  # re-read under the lock
            if current == 0 and not self.conn.execute("SELECT 1 FROM amigo_schema").fetchone():
                self.conn.execute("INSERT INTO amigo_schema (version) VALUES (0)")
            for version in range(current + 1, target + 1):
                self.conn.execute(PG_MIGRATIONS[version])
                self.conn.execute("UPDATE amigo_schema SET version = %s", (version,))
        return self.version

    @property
    def store_id(self) -> str:
        """A random id made when the store was created: a machine notices a different (recreated) store."""
        return str(self.conn.execute("SELECT value FROM amigo_meta WHERE key = 'store_id'").fetchone()[0])

    # -- reading and writing -------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run SQLite-style SQL (``?`` placeholders) and return every row."""
        return self.conn.execute(to_pg(sql), tuple(params)).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One PostgreSQL transaction (rolled back on any error); yields the connection."""
        with self.conn.transaction():
            yield self.conn

    @contextmanager
    def machine_lock(self, machine_id: str) -> Iterator[None]:
        """Pushes from one machine take turns (pushes from different machines run side by side).

        A session-level advisory lock: a push killed with ``kill -9`` loses its
        connection, and the server drops the lock with it."""
        key = f"amigo-push:{machine_id}"
        self.conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            yield
        finally:
            if not self.conn.closed:
                self.conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))

    def vacuum(self, tables: Sequence[str] = TABLES) -> None:
        """VACUUM after a purge, so PostgreSQL reuses the space of the deleted rows."""
        for table in tables:
            self.conn.execute(f"VACUUM {table}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "TeamStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
