"""``amigo feedback push``: send the team store what it lacks, from the local store.

Local first: the recorder only ever writes the local SQLite store, so no edit
waits on the network. A push then reads rows not yet sent (``pushed = 0``),
redacts again every row kept under other redaction rules than today's (a
record kept under older rules gains the newer ones before it leaves the
machine; a row stamped with today's ``RULES`` was redacted by them already),
sends a batch in one PostgreSQL transaction, and only after that commit flags
the batch as sent locally. Follow-ups' correction texts are always redacted
again (they carry no stamp).

Why that is safe to interrupt anywhere and to run from many machines at once:

* every insert is idempotent: a proposal by its id, an event by (machine id,
  its local id), a follow-up by (proposal, kind) keeping the copy with the
  highest change count (``rev``); a push killed between the team commit and
  the local flag resends that batch, and the team store keeps one copy;
* pushes from one machine take turns on a PostgreSQL advisory lock (the
  server drops it when a killed push's connection goes), so two of them never
  interleave; pushes from different machines touch different rows;
* a follow-up measured while a push runs is flagged sent only if its ``rev``
  is still the one sent, so the newer state goes with the next push.

Proposals of repositories in ``exclude_repos`` are never sent, nor their
events and follow-ups (they stay unsent, on this machine only). Events that
belong to no proposal (errors before a proposal existed) carry no repository
and are diagnostics of this machine: they are not sent either.
"""

from __future__ import annotations

import glob
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from feedback.records import dumps
from feedback.redact import RULES, redact, redact_value
from feedback.repoid import UNKNOWN, identify
from feedback.settings import SettingsLike
from feedback.store import Store
from feedback.team import TeamStore, public_url

BATCH = 500
Redactor = Callable[[str], str]
Progress = Callable[[str, int], None]

PROPOSAL_COLUMNS = (
    "id", "parent_id", "created_at", "recorded_at", "repo_id", "path", "language", "instruction",
    "edit_format", "selection_start", "selection_end", "file_text", "messages", "context_digest", "model",
    "adapter", "answer", "changes", "diff", "errors", "latency_s", "prompt_tokens", "completion_tokens",
    "decoding",
)
FOLLOWUP_COLUMNS = ("proposal_id", "kind", "started_at", "due_at", "status", "checked_at", "retention", "trigger",
                    "correction_texts", "rev")
SENDER_COLUMNS = ("machine_id", "person_id", "pushed_at")


@dataclass
class PushResult:
    proposals: int = 0
    events: int = 0
    followups: int = 0
    withheld: int = 0  # proposals of excluded repositories, kept on this machine
    machine_id: str = ""
    person_id: str = ""
    target: str = ""
    seconds: float = 0.0

    def __str__(self) -> str:
        text = (f"pushed {self.proposals} proposals, {self.events} events and {self.followups} follow-ups to "
                f"{self.target} in {self.seconds:.2f} s (machine {self.machine_id}, person {self.person_id})")
        if self.withheld:
            text += f"; {self.withheld} proposals of excluded repositories stay on this machine"
        return text


def identity(store: Store, settings: SettingsLike | None) -> tuple[str, str]:
    """(machine id, person id): opaque ids made with the database; ``feedback.person_id`` overrides the person
    (so one person's several machines can share it)."""
    meta = {r["key"]: r["value"] for r in store.query("SELECT key, value FROM meta")}
    person = (getattr(settings, "person_id", None) or "").strip() or meta["person_id"]
    return meta["machine_id"], person


def excluded_repo_ids(settings: SettingsLike | None) -> set[str]:
    """Repository ids that ``exclude_repos`` names: ids as given, folders (globs allowed) as their repository's id.

    Recording already skips excluded repositories; this catches what was
    recorded before an exclusion was added. A remote URL entry, or a folder
    above several repositories, cannot be matched to stored ids here (the
    store keeps neither paths nor remotes): name those repositories by id or
    folder, or purge them (``amigo feedback purge --repo``)."""
    out: set[str] = set()
    for raw in getattr(settings, "exclude_repos", None) or []:
        entry = str(raw).strip()
        if not entry:
            continue
        out.add(entry)
        for folder in glob.glob(os.path.expandvars(os.path.expanduser(entry))):
            if Path(folder).is_dir():
                found = identify(Path(folder).resolve()).id
                if found != UNKNOWN:
                    out.add(found)
    return out


def _redact_json(text: str | None, redactor: Redactor) -> str | None:
    return None if text is None else dumps(redact_value(json.loads(text), redactor))


def redact_proposal(row: dict[str, Any], redactor: Redactor = redact) -> dict[str, Any]:
    """A stored proposal row with every text redacted again (the same fields the recorder redacts),
    unless it was stored under today's rules (redacting again would change nothing, at a real cost)."""
    out = dict(row)
    if redactor is redact and row.get("redaction") == RULES:
        return out
    for key in ("instruction", "file_text", "answer", "diff"):
        out[key] = redactor(row[key])
    for key in ("messages", "changes", "errors"):
        out[key] = _redact_json(row[key], redactor)
    return out


def _event_data(row: Any, redactor: Redactor) -> str | None:
    """An event's data as it may leave: redacted again unless stored under today's rules."""
    if redactor is redact and row["redaction"] == RULES:
        return row["data"]
    return _redact_json(row["data"], redactor)


def _match_target(store: Store, store_id: str) -> None:
    """A different (or recreated) team store lacks everything: flag every row unsent again."""
    rows = store.query("SELECT value FROM meta WHERE key = 'pushed_to'")
    if rows and rows[0][0] == store_id:
        return
    with store.transaction() as conn:
        for table in ("proposals", "events", "followups"):
            conn.execute(f"UPDATE {table} SET pushed = 0 WHERE pushed != 0")
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('pushed_to', ?)", (store_id,))


def _not_excluded(excluded: list[str], column: str = "p.repo_id") -> str:
    return f" AND {column} NOT IN ({', '.join('?' * len(excluded))})" if excluded else ""


def _send(team: TeamStore, sql: str, rows: list[tuple[Any, ...]]) -> None:
    with team.transaction() as conn, conn.cursor() as cur:
        cur.executemany(sql, rows)


def _push_proposals(store: Store, team: TeamStore, sender: tuple[str, str, float], excluded: list[str],
                    batch: int, redactor: Redactor) -> int:
    rows = store.query(
        f"SELECT {', '.join(PROPOSAL_COLUMNS)}, redaction FROM proposals p WHERE pushed = 0{_not_excluded(excluded)} "
        "ORDER BY rowid LIMIT ?", (*excluded, batch))
    if not rows:
        return 0
    columns = PROPOSAL_COLUMNS + SENDER_COLUMNS
    redacted = [redact_proposal(dict(r), redactor) for r in rows]
    values = [tuple(row[c] for c in PROPOSAL_COLUMNS) + sender for row in redacted]
    _send(team, f"INSERT INTO proposals ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                "ON CONFLICT (id) DO NOTHING", values)
    with store.transaction() as conn:
        conn.executemany("UPDATE proposals SET pushed = 1 WHERE id = ?", [(r["id"],) for r in rows])
    return len(rows)


def _push_events(store: Store, team: TeamStore, sender: tuple[str, str, float], batch: int,
                 redactor: Redactor) -> int:
    # only events whose proposal the team store already has (excluded ones never are)
    rows = store.query(
        "SELECT e.id, e.proposal_id, e.kind, e.at, e.data, e.redaction FROM events e "
        "JOIN proposals p ON p.id = e.proposal_id "
        "WHERE e.pushed = 0 AND p.pushed = 1 ORDER BY e.id LIMIT ?", (batch,))
    if not rows:
        return 0
    machine, person, at = sender
    values = [(machine, r["id"], r["proposal_id"], r["kind"], r["at"], _event_data(r, redactor), person, at)
              for r in rows]
    _send(team, "INSERT INTO events (machine_id, local_id, proposal_id, kind, at, data, person_id, pushed_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (machine_id, local_id) DO NOTHING", values)
    with store.transaction() as conn:
        conn.executemany("UPDATE events SET pushed = 1 WHERE id = ?", [(r["id"],) for r in rows])
    return len(rows)


def _push_followups(store: Store, team: TeamStore, sender: tuple[str, str, float], batch: int,
                    redactor: Redactor) -> int:
    rows = store.query(
        f"SELECT {', '.join('f.' + c for c in FOLLOWUP_COLUMNS)} FROM followups f "
        "JOIN proposals p ON p.id = f.proposal_id WHERE f.pushed = 0 AND p.pushed = 1 LIMIT ?", (batch,))
    if not rows:
        return 0
    columns = FOLLOWUP_COLUMNS + SENDER_COLUMNS
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[2:])
    values = [tuple(_redact_json(r[c], redactor) if c == "correction_texts" else r[c] for c in FOLLOWUP_COLUMNS)
              + sender for r in rows]
    _send(team, f"INSERT INTO followups ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                f"ON CONFLICT (proposal_id, kind) DO UPDATE SET {updates} WHERE followups.rev <= EXCLUDED.rev",
          values)
    with store.transaction() as conn:  # a follow-up changed meanwhile has a higher rev: it stays unsent
        conn.executemany("UPDATE followups SET pushed = 1 WHERE proposal_id = ? AND kind = ? AND rev = ?",
                         [(r["proposal_id"], r["kind"], r["rev"]) for r in rows])
    return len(rows)


def push(store: Store, team: TeamStore, settings: SettingsLike | None = None, batch: int = BATCH,
         redactor: Redactor = redact, progress: Progress | None = None) -> PushResult:
    """Send ``team`` every proposal, event and follow-up of ``store`` it lacks; see the module docstring."""
    started = time.perf_counter()
    machine, person = identity(store, settings)
    excluded = sorted(excluded_repo_ids(settings))
    result = PushResult(machine_id=machine, person_id=person, target=public_url(team.url))
    steps: tuple[tuple[str, Callable[[tuple[str, str, float]], int]], ...] = (
        ("proposals", lambda s: _push_proposals(store, team, s, excluded, batch, redactor)),
        ("events", lambda s: _push_events(store, team, s, batch, redactor)),
        ("followups", lambda s: _push_followups(store, team, s, batch, redactor)),
    )
    with team.machine_lock(machine):
        _match_target(store, team.store_id)
        for name, step in steps:
            while sent := step((machine, person, time.time())):
                setattr(result, name, getattr(result, name) + sent)
                if progress is not None:
                    progress(name, getattr(result, name))
    if excluded:
        result.withheld = store.query(
            f"SELECT COUNT(*) FROM proposals WHERE pushed = 0 AND repo_id IN ({', '.join('?' * len(excluded))})",
            tuple(excluded))[0][0]
    result.seconds = time.perf_counter() - started
    return result
