"""``amigo feedback purge``: delete for real.

Rows are deleted (events and follow-ups go with their proposal through the
foreign keys), then the database is VACUUMed and its WAL truncated, with
``secure_delete`` on, so the text is gone from the bytes on disk, not only
from the tables.

What was pushed to the team store is purged there too, by repository id or
by person (:func:`purge_team`), and a tombstone is left there so that rows
the purge covers which other machines have not pushed yet are never sent
(:mod:`feedback.push` reads the tombstones); PostgreSQL then VACUUMs the tables, which
frees the rows' space for reuse (their bytes stay in the data files, its WAL
and any backups until overwritten: ``VACUUM FULL`` rewrites the tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from feedback.store import Store

if TYPE_CHECKING:
    from feedback.team import TeamStore


@dataclass(frozen=True)
class PurgeResult:
    proposals: int
    events: int
    completions: int = 0  # inline completions (their events go with them)

    def __str__(self) -> str:
        completions = f" and {self.completions} inline completions" if self.completions else ""
        return f"deleted {self.proposals} proposals and {self.events} events{completions}; database compacted"


def purge(store: Store, repo_id: str | None = None, before: float | None = None) -> PurgeResult:
    """Delete proposals of ``repo_id`` and/or made before ``before`` (both None: everything)."""
    where, params = [], []
    if repo_id is not None:
        where.append("repo_id = ?")
        params.append(repo_id)
    if before is not None:
        where.append("created_at < ?")
        params.append(before)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    with store.transaction() as conn:
        events_before = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        proposals = conn.execute(f"DELETE FROM proposals{clause}", params).rowcount
        # inline completions go the same way (their events through the foreign key)
        completions = conn.execute(f"DELETE FROM completions{clause}", params).rowcount
        # events that belong to no proposal (errors, undos of unknown proposals) carry no repository:
        # they go with a purge by date, or with a purge of everything
        if repo_id is None:
            conn.execute("DELETE FROM events WHERE proposal_id IS NULL" + (" AND at < ?" if before else ""),
                         (before,) if before else ())
        events = events_before - conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    store.compact()
    return PurgeResult(proposals, events, completions)


def purge_team(team: "TeamStore", repo_id: str | None = None, person_id: str | None = None) -> PurgeResult:
    """Delete from the team store what was pushed for ``repo_id`` and/or by ``person_id`` (one is required),
    and leave a tombstone, so that what other machines have not pushed yet of it is never sent.

    The exclusive lock on ``purges`` waits for pushes' batches in flight (they hold a share lock on it) and
    holds off new ones until the tombstone is committed: no batch lands after the delete unchecked."""
    if repo_id is None and person_id is None:
        raise ValueError("purge_team needs a repository id or a person id")
    where, params = [], []
    for column, value in (("repo_id", repo_id), ("person_id", person_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    condition = " AND ".join(where)
    with team.transaction():
        team.conn.execute("LOCK TABLE purges IN EXCLUSIVE MODE")
        team.query("INSERT INTO purges (repo_id, person_id, purged_at) "
                   "VALUES (?, ?, EXTRACT(EPOCH FROM clock_timestamp())) RETURNING id", (repo_id, person_id))
        events_before = team.query("SELECT COUNT(*) FROM events")[0][0]
        proposals = team.query(f"WITH gone AS (DELETE FROM proposals WHERE {condition} RETURNING 1) "
                               "SELECT COUNT(*) FROM gone", tuple(params))[0][0]
        completions = team.query(f"WITH gone AS (DELETE FROM completions WHERE {condition} RETURNING 1) "
                                 "SELECT COUNT(*) FROM gone", tuple(params))[0][0]
        events = events_before - team.query("SELECT COUNT(*) FROM events")[0][0]
    team.vacuum()
    return PurgeResult(proposals, events, completions)
