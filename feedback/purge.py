"""``amigo feedback purge``: delete for real.

Rows are deleted (events and follow-ups go with their proposal through the
foreign keys), then the database is VACUUMed and its WAL truncated, with
``secure_delete`` on, so the text is gone from the bytes on disk, not only
from the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from feedback.store import Store


@dataclass(frozen=True)
class PurgeResult:
    proposals: int
    events: int

    def __str__(self) -> str:
        return f"deleted {self.proposals} proposals and {self.events} events; database compacted"


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
        conn.execute(f"DELETE FROM completions{clause}", params)
        # events that belong to no proposal (errors, undos of unknown proposals) carry no repository:
        # they go with a purge by date, or with a purge of everything
        if repo_id is None:
            conn.execute("DELETE FROM events WHERE proposal_id IS NULL" + (" AND at < ?" if before else ""),
                         (before,) if before else ())
        events = events_before - conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    store.compact()
    return PurgeResult(proposals, events)
