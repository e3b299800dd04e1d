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

Inline completions and their events go the same way (after the proposals,
their events and follow-ups), with the same redaction, idempotence and
exclusions.

Proposals of repositories in ``exclude_repos`` are never sent, nor their
events and follow-ups (they stay unsent, on this machine only). Events that
belong to no proposal (errors before a proposal existed) carry no repository
and are diagnostics of this machine: they are not sent either.

Purges reach rows no push has sent yet: ``amigo feedback purge`` leaves a
tombstone in the team store (``purges``: a repository id and/or a person id,
and the time), and each push first reads them and flags this machine's rows
that one covers (made up to the purge, of that repository, by that person) as
``pushed = 2``: they stay on this machine and are never sent, nor their
events and follow-ups, and the push says how many it held back. Each batch
checks, under a share lock on ``purges`` that a purge's exclusive lock waits
for, that no purge came since; if one did, the marks are made again first.
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
from feedback.settings import FeedbackSettings
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
COMPLETION_COLUMNS = (
    "id", "created_at", "recorded_at", "repo_id", "path", "language", "prefix", "suffix", "suggestion", "mode",
    "route", "prompt", "model", "adapter", "first_token_s", "latency_s",
)
SENDER_COLUMNS = ("machine_id", "person_id", "pushed_at")
SENT, PURGED = 1, 2  # values of a row's ``pushed`` flag besides 0 (not sent yet)


@dataclass
class PushResult:
    proposals: int = 0
    events: int = 0
    followups: int = 0
    completions: int = 0
    completion_events: int = 0
    withheld: int = 0  # proposals of excluded repositories, kept on this machine
    withheld_completions: int = 0
    purged: int = 0  # unsent proposals a purge of the team store covers: never sent
    purged_completions: int = 0
    machine_id: str = ""
    person_id: str = ""
    target: str = ""
    seconds: float = 0.0

    @staticmethod
    def _and(completions: int) -> str:
        return f" and {completions} inline completions" if completions else ""

    def __str__(self) -> str:
        text = (f"pushed {self.proposals} proposals, {self.events} events and {self.followups} follow-ups, "
                f"{self.completions} inline completions and {self.completion_events} of their events to "
                f"{self.target} in {self.seconds:.2f} s (machine {self.machine_id}, person {self.person_id})")
        if self.withheld or self.withheld_completions:
            text += (f"; {self.withheld} proposals{self._and(self.withheld_completions)} of excluded repositories "
                     "stay on this machine")
        if self.purged or self.purged_completions:
            text += (f"; {self.purged} proposals{self._and(self.purged_completions)} were not sent: a purge of the "
                     "team store covers them (they stay on this machine)")
        return text


def identity(store: Store, settings: FeedbackSettings | None) -> tuple[str, str]:
    """(machine id, person id): opaque ids made with the database; ``feedback.person_id`` overrides the person
    (so one person's several machines can share it)."""
    meta = {r["key"]: r["value"] for r in store.query("SELECT key, value FROM meta")}
    person = ((settings.person_id if settings else None) or "").strip() or meta["person_id"]
    return meta["machine_id"], person


def excluded_repo_ids(settings: FeedbackSettings | None) -> set[str]:
    """Repository ids that ``exclude_repos`` names: ids as given, folders (globs allowed) as their repository's id.

    Recording already skips excluded repositories; this catches what was
    recorded before an exclusion was added. A remote URL entry, or a folder
    above several repositories, cannot be matched to stored ids here (the
    store keeps neither paths nor remotes): name those repositories by id or
    folder, or purge them (``amigo feedback purge --repo``)."""
    out: set[str] = set()
    for raw in (settings.exclude_repos if settings else []):
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


def redact_completion(row: dict[str, Any], redactor: Redactor = redact) -> dict[str, Any]:
    """A stored completion row with its texts redacted again, unless stored under today's rules."""
    out = dict(row)
    if redactor is redact and row.get("redaction") == RULES:
        return out
    for key in ("prefix", "suffix", "suggestion", "prompt"):
        out[key] = redactor(row[key])
    return out


def _match_target(store: Store, store_id: str) -> None:
    """A different (or recreated) team store lacks everything: flag every row unsent again."""
    rows = store.query("SELECT value FROM meta WHERE key = 'pushed_to'")
    if rows and rows[0][0] == store_id:
        return
    with store.transaction() as conn:
        for table in ("proposals", "events", "followups", "completions", "completion_events"):
            conn.execute(f"UPDATE {table} SET pushed = 0 WHERE pushed != 0")
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('pushed_to', ?)", (store_id,))


class PurgesChanged(Exception):
    """A purge of the team store committed while this push ran: mark what it covers before sending more."""


class Purges:
    """The team store's purge tombstones as this push last applied them (see the module docstring)."""

    def __init__(self, person_id: str) -> None:
        self.person_id = person_id
        self.seen = -1  # the highest tombstone id applied; -1: none read yet

    def apply(self, store: Store, team: TeamStore) -> tuple[int, int]:
        """Flag this machine's rows that a tombstone covers as never to be sent; returns how many
        (proposals, completions) were still unsent."""
        tombstones = team.query("SELECT id, repo_id, person_id, purged_at FROM purges ORDER BY id")
        self.seen = max((int(t["id"]) for t in tombstones), default=0)
        unsent = [0, 0]
        with store.transaction() as conn:
            for t in tombstones:
                if t["person_id"] is not None and t["person_id"] != self.person_id:
                    continue  # another person's rows are never on this machine's pushes
                where, params = "created_at <= ?", [t["purged_at"]]
                if t["repo_id"] is not None:
                    where, params = where + " AND repo_id = ?", params + [t["repo_id"]]
                for i, table in enumerate(("proposals", "completions")):
                    unsent[i] += conn.execute(f"UPDATE {table} SET pushed = {PURGED} WHERE pushed = 0 AND {where}",
                                              params).rowcount
                    conn.execute(f"UPDATE {table} SET pushed = {PURGED} WHERE pushed = {SENT} AND {where}", params)
        return unsent[0], unsent[1]

    def check(self, conn: Any) -> None:
        """Inside a batch's transaction: hold off purges until it commits, and stop if one came since."""
        conn.execute("LOCK TABLE purges IN SHARE MODE")
        latest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM purges").fetchone()[0]
        if int(latest) != self.seen:
            raise PurgesChanged()


def _not_excluded(excluded: list[str], column: str = "p.repo_id") -> str:
    return f" AND {column} NOT IN ({', '.join('?' * len(excluded))})" if excluded else ""


def _send(team: TeamStore, purges: Purges, sql: str, rows: list[tuple[Any, ...]]) -> None:
    with team.transaction() as conn, conn.cursor() as cur:
        purges.check(conn)
        cur.executemany(sql, rows)


def _push_rows(store: Store, team: TeamStore, purges: Purges, sender: tuple[str, str, float], table: str,
               columns: tuple[str, ...], redact_row: Callable[[dict, Redactor], dict], repo_column: str,
               excluded: list[str], batch: int, redactor: Redactor) -> int:
    """One batch of ``table``'s unsent rows (proposals or inline completions), redacted, stored once by id."""
    rows = store.query(
        f"SELECT {', '.join(columns)}, redaction FROM {table} WHERE pushed = 0"
        f"{_not_excluded(excluded, repo_column)} ORDER BY rowid LIMIT ?", (*excluded, batch))
    if not rows:
        return 0
    sent = columns + SENDER_COLUMNS
    values = [tuple(row[c] for c in columns) + sender for row in (redact_row(dict(r), redactor) for r in rows)]
    _send(team, purges, f"INSERT INTO {table} ({', '.join(sent)}) VALUES ({', '.join(['%s'] * len(sent))}) "
                        "ON CONFLICT (id) DO NOTHING", values)
    with store.transaction() as conn:
        conn.executemany(f"UPDATE {table} SET pushed = {SENT} WHERE id = ?", [(r["id"],) for r in rows])
    return len(rows)


def _push_proposals(store: Store, team: TeamStore, purges: Purges, sender: tuple[str, str, float],
                    excluded: list[str], batch: int, redactor: Redactor) -> int:
    return _push_rows(store, team, purges, sender, "proposals", PROPOSAL_COLUMNS, redact_proposal, "repo_id",
                      excluded, batch, redactor)


def _push_event_rows(store: Store, team: TeamStore, purges: Purges, sender: tuple[str, str, float], table: str,
                     parent: str, parent_column: str, batch: int, redactor: Redactor) -> int:
    """One batch of ``table``'s unsent events whose parent row (a proposal or a suggestion) the team store
    already has (excluded and purged ones never are), stored once by (machine, local id)."""
    rows = store.query(
        f"SELECT e.id, e.{parent_column}, e.kind, e.at, e.data, e.redaction FROM {table} e "
        f"JOIN {parent} p ON p.id = e.{parent_column} WHERE e.pushed = 0 AND p.pushed = {SENT} "
        "ORDER BY e.id LIMIT ?", (batch,))
    if not rows:
        return 0
    machine, person, at = sender
    values = [(machine, r["id"], r[parent_column], r["kind"], r["at"], _event_data(r, redactor), person, at)
              for r in rows]
    _send(team, purges, f"INSERT INTO {table} (machine_id, local_id, {parent_column}, kind, at, data, person_id, "
                        "pushed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (machine_id, local_id) DO NOTHING", values)
    with store.transaction() as conn:
        conn.executemany(f"UPDATE {table} SET pushed = {SENT} WHERE id = ?", [(r["id"],) for r in rows])
    return len(rows)


def _push_events(store: Store, team: TeamStore, purges: Purges, sender: tuple[str, str, float], batch: int,
                 redactor: Redactor) -> int:
    return _push_event_rows(store, team, purges, sender, "events", "proposals", "proposal_id", batch, redactor)


def _push_followups(store: Store, team: TeamStore, purges: Purges, sender: tuple[str, str, float], batch: int,
                    redactor: Redactor) -> int:
    rows = store.query(
        f"SELECT {', '.join('f.' + c for c in FOLLOWUP_COLUMNS)} FROM followups f "
        f"JOIN proposals p ON p.id = f.proposal_id WHERE f.pushed = 0 AND p.pushed = {SENT} LIMIT ?", (batch,))
    if not rows:
        return 0
    columns = FOLLOWUP_COLUMNS + SENDER_COLUMNS
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[2:])
    values = [tuple(_redact_json(r[c], redactor) if c == "correction_texts" else r[c] for c in FOLLOWUP_COLUMNS)
              + sender for r in rows]
    _send(team, purges, f"INSERT INTO followups ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                f"ON CONFLICT (proposal_id, kind) DO UPDATE SET {updates} WHERE followups.rev <= EXCLUDED.rev",
          values)
    with store.transaction() as conn:  # a follow-up changed meanwhile has a higher rev: it stays unsent
        conn.executemany(f"UPDATE followups SET pushed = {SENT} WHERE proposal_id = ? AND kind = ? AND rev = ?",
                         [(r["proposal_id"], r["kind"], r["rev"]) for r in rows])
    return len(rows)


def _push_completions(store: Store, team: TeamStore, purges: Purges, sender: tuple[str, str, float],
                      excluded: list[str], batch: int, redactor: Redactor) -> int:
    return _push_rows(store, team, purges, sender, "completions", COMPLETION_COLUMNS, redact_completion,
                      "repo_id", excluded, batch, redactor)


def _push_completion_events(store: Store, team: TeamStore, purges: Purges, sender: tuple[str, str, float],
                            batch: int, redactor: Redactor) -> int:
    return _push_event_rows(store, team, purges, sender, "completion_events", "completions", "completion_id",
                            batch, redactor)


def push(store: Store, team: TeamStore, settings: FeedbackSettings | None = None, batch: int = BATCH,
         redactor: Redactor = redact, progress: Progress | None = None) -> PushResult:
    """Send ``team`` every proposal, event, follow-up and inline completion of ``store`` it lacks, except what
    an exclusion or a purge of the team store covers; see the module docstring."""
    started = time.perf_counter()
    machine, person = identity(store, settings)
    excluded = sorted(excluded_repo_ids(settings))
    result = PushResult(machine_id=machine, person_id=person, target=public_url(team.url))
    purges = Purges(person)
    steps: tuple[tuple[str, Callable[[tuple[str, str, float]], int]], ...] = (
        ("proposals", lambda s: _push_proposals(store, team, purges, s, excluded, batch, redactor)),
        ("events", lambda s: _push_events(store, team, purges, s, batch, redactor)),
        ("followups", lambda s: _push_followups(store, team, purges, s, batch, redactor)),
        ("completions", lambda s: _push_completions(store, team, purges, s, excluded, batch, redactor)),
        ("completion_events", lambda s: _push_completion_events(store, team, purges, s, batch, redactor)),
    )
    with team.machine_lock(machine):
        _match_target(store, team.store_id)
        step_index = 0
        while step_index < len(steps):
            if purges.seen < 0:
                covered = purges.apply(store, team)
                result.purged += covered[0]
                result.purged_completions += covered[1]
            name, step = steps[step_index]
            try:
                sent = step((machine, person, time.time()))
            except PurgesChanged:
                purges.seen = -1  # a purge came meanwhile: mark what it covers, then go on where this stopped
                continue
            if not sent:
                step_index += 1
                continue
            setattr(result, name, getattr(result, name) + sent)
            if progress is not None:
                progress(name, getattr(result, name))
    if excluded:
        marks = ", ".join("?" * len(excluded))
        result.withheld = store.query(
            f"SELECT COUNT(*) FROM proposals WHERE pushed = 0 AND repo_id IN ({marks})", tuple(excluded))[0][0]
        result.withheld_completions = store.query(
            f"SELECT COUNT(*) FROM completions WHERE pushed = 0 AND repo_id IN ({marks})", tuple(excluded))[0][0]
    result.seconds = time.perf_counter() - started
    return result
