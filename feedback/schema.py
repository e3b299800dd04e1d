"""The feedback database's schema, one numbered migration per version.

``PRAGMA user_version`` holds the version. Opening an older database
upgrades it in place inside one ``BEGIN IMMEDIATE`` transaction (so two
processes opening it at once cannot both migrate); a newer one is refused.

v1: proposals and the events that happened to them.
v2: follow-ups - the retention measured after an accept and the correction
    captured after a reject; existing accepts/rejects are backfilled as
    pending follow-ups so old data gains the signal too.
v3: inline completions (amigo.complete) and what happened to them: shown,
    accepted (whole or partly), rejected (typed over, dismissed, timed out).
    New tables only; proposals, events and followups keep their meaning.
v4: what ``amigo feedback push`` has sent: a ``pushed`` flag per row (a
    follow-up that changes after it was sent is flagged again, and its
    ``rev`` counts the changes, so the team store keeps the newest); which
    redaction rules a proposal or event was stored under (a push redacts
    rows kept under other rules again); and a ``meta`` table with this
    database's opaque machine and person ids.
v5: inline completions are pushed too: ``pushed`` flags and redaction stamps
    on ``completions`` and ``completion_events``. ``pushed`` is 0 (not sent),
    1 (sent) or 2 (covered by a purge of the team store: never sent; see
    :mod:`feedback.push`), for proposals and completions alike.

The team store (PostgreSQL, :mod:`feedback.team`) has its own numbered
migrations, ``PG_MIGRATIONS``: the same tables in PostgreSQL's types, plus
who sent each row (machine and person, opaque ids) and when.

PG v1: proposals, events, follow-ups.
PG v2: inline completions and their events; ``purges``, the tombstones of
    ``amigo feedback purge`` (by repository id and/or person id), which every
    later push reads so that rows a purge covers never arrive from any machine.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

V1 = """
CREATE TABLE proposals (
    id                TEXT PRIMARY KEY,          -- the request id
    parent_id         TEXT,                      -- the proposal this one retried
    created_at        REAL NOT NULL,
    recorded_at       REAL NOT NULL,
    repo_id           TEXT NOT NULL,             -- hash of root commit / remote, never a path
    path              TEXT NOT NULL,
    language          TEXT NOT NULL,
    instruction       TEXT NOT NULL,
    edit_format       TEXT NOT NULL,
    selection_start   INTEGER,
    selection_end     INTEGER,
    file_text         TEXT NOT NULL,
    messages          TEXT NOT NULL,             -- JSON: the exact rendered prompt
    context_digest    TEXT NOT NULL,
    model             TEXT NOT NULL,
    adapter           TEXT,
    answer            TEXT NOT NULL,             -- raw model answer
    changes           TEXT NOT NULL,             -- JSON: parsed edit, per file
    diff              TEXT NOT NULL,
    errors            TEXT NOT NULL,             -- JSON list
    latency_s         REAL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    decoding          TEXT NOT NULL
);
CREATE INDEX proposals_repo_time ON proposals(repo_id, created_at);
CREATE INDEX proposals_time ON proposals(created_at);
CREATE INDEX proposals_parent ON proposals(parent_id);
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    proposal_id TEXT REFERENCES proposals(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN
                ('accepted', 'rejected', 'retried', 'undone', 'stale', 'error')),
    at          REAL NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}'   -- JSON: hunks, commit, final texts, reason, new id
);
CREATE INDEX events_proposal ON events(proposal_id, kind);
CREATE INDEX events_time ON events(at);
"""

V2 = """
CREATE TABLE followups (
    proposal_id       TEXT NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('retention', 'correction')),
    started_at        REAL NOT NULL,             -- when the accept / reject happened
    due_at            REAL NOT NULL,             -- retention: measure then; correction: window end
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'done', 'undone', 'none', 'missing')),
    checked_at        REAL,
    retention         REAL,                      -- 0..1 of the accepted change still there
    trigger           TEXT,                      -- 'delay' or 'commit'
    correction_texts  TEXT,                      -- JSON {path: corrected file text}
    PRIMARY KEY (proposal_id, kind)
);
CREATE INDEX followups_pending ON followups(status, kind, due_at);
-- backfill: every accept / reject already recorded gets its follow-up
INSERT OR IGNORE INTO followups (proposal_id, kind, started_at, due_at)
    SELECT proposal_id, 'retention', MAX(at), MAX(at) + 86400 FROM events
    WHERE kind = 'accepted' AND proposal_id IS NOT NULL GROUP BY proposal_id;
INSERT OR IGNORE INTO followups (proposal_id, kind, started_at, due_at)
    SELECT proposal_id, 'correction', MAX(at), MAX(at) + 3600 FROM events
    WHERE kind = 'rejected' AND proposal_id IS NOT NULL GROUP BY proposal_id;
UPDATE followups SET status = 'undone', checked_at = started_at, retention = 0.0
    WHERE kind = 'retention' AND EXISTS (
        SELECT 1 FROM events e WHERE e.proposal_id = followups.proposal_id
        AND e.kind = 'undone' AND e.at >= followups.started_at);
"""

V3 = """
CREATE TABLE completions (
    id                TEXT PRIMARY KEY,          -- the suggestion id
    created_at        REAL NOT NULL,
    recorded_at       REAL NOT NULL,
    repo_id           TEXT NOT NULL,
    path              TEXT NOT NULL,
    language          TEXT NOT NULL,
    prefix            TEXT NOT NULL,             -- text before the cursor the model saw (redacted)
    suffix            TEXT NOT NULL,             -- text after it
    suggestion        TEXT NOT NULL,
    mode              TEXT NOT NULL,             -- line | block
    route             TEXT NOT NULL,             -- fim:<template> | infill | chat
    prompt            TEXT NOT NULL,             -- exactly what was sent (redacted)
    model             TEXT NOT NULL,
    adapter           TEXT,
    first_token_s     REAL,
    latency_s         REAL
);
CREATE INDEX completions_repo_time ON completions(repo_id, created_at);
CREATE INDEX completions_time ON completions(created_at);
CREATE TABLE completion_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    completion_id TEXT NOT NULL REFERENCES completions(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('shown', 'accepted', 'rejected')),
    at            REAL NOT NULL,
    data          TEXT NOT NULL DEFAULT '{}'   -- JSON: accepted text, reason, what was typed instead
);
CREATE INDEX completion_events_completion ON completion_events(completion_id, kind);
"""

V4 = """
ALTER TABLE proposals ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE followups ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE followups ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
-- the redaction rules a row was stored under (feedback.redact.RULES; NULL: older rules, redact again)
ALTER TABLE proposals ADD COLUMN redaction TEXT;
ALTER TABLE events ADD COLUMN redaction TEXT;
CREATE INDEX proposals_unpushed ON proposals(pushed) WHERE pushed = 0;
CREATE INDEX events_unpushed ON events(pushed) WHERE pushed = 0;
CREATE INDEX followups_unpushed ON followups(pushed) WHERE pushed = 0;
-- a follow-up measured or restarted after it was pushed must be sent again
CREATE TRIGGER followups_changed AFTER UPDATE OF started_at, due_at, status, checked_at, retention, trigger,
    correction_texts ON followups
BEGIN
    UPDATE followups SET pushed = 0, rev = OLD.rev + 1 WHERE proposal_id = NEW.proposal_id AND kind = NEW.kind;
END;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('machine_id', 'm' || lower(hex(randomblob(8))));
INSERT INTO meta (key, value) VALUES ('person_id', 'u' || lower(hex(randomblob(8))));
"""

V5 = """
ALTER TABLE completions ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE completion_events ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE completions ADD COLUMN redaction TEXT;
ALTER TABLE completion_events ADD COLUMN redaction TEXT;
CREATE INDEX completions_unpushed ON completions(pushed) WHERE pushed = 0;
CREATE INDEX completion_events_unpushed ON completion_events(pushed) WHERE pushed = 0;
"""

Migration = Callable[[sqlite3.Connection], None]


def _script(sql: str) -> Migration:
    def run(conn: sqlite3.Connection) -> None:
        for statement in _statements(sql):
            conn.execute(statement)
    return run


def _statements(sql: str) -> list[str]:
    """Split a script into statements (executescript would COMMIT our transaction)."""
    out, current = [], []
    for line in sql.splitlines():
        current.append(line)
        joined = "\n".join(current)
        if line.rstrip().endswith(";") and sqlite3.complete_statement(joined):
            out.append(joined.strip())
            current = []
    if "\n".join(current).strip():
        out.append("\n".join(current).strip())
    return out


MIGRATIONS: dict[int, Migration] = {1: _script(V1), 2: _script(V2), 3: _script(V3), 4: _script(V4), 5: _script(V5)}
LATEST = max(MIGRATIONS)

# -- the team store (PostgreSQL) ------------------------------------------------------------
# Texts and JSON stay TEXT, so that stats and export read both back ends with the same code.

PG_V1 = """
CREATE TABLE amigo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO amigo_meta (key, value) VALUES ('store_id', gen_random_uuid()::text);
CREATE TABLE proposals (
    id                TEXT PRIMARY KEY,
    parent_id         TEXT,
    created_at        DOUBLE PRECISION NOT NULL,
    recorded_at       DOUBLE PRECISION NOT NULL,
    repo_id           TEXT NOT NULL,
    path              TEXT NOT NULL,
    language          TEXT NOT NULL,
    instruction       TEXT NOT NULL,
    edit_format       TEXT NOT NULL,
    selection_start   INTEGER,
    selection_end     INTEGER,
    file_text         TEXT NOT NULL,
    messages          TEXT NOT NULL,
    context_digest    TEXT NOT NULL,
    model             TEXT NOT NULL,
    adapter           TEXT,
    answer            TEXT NOT NULL,
    changes           TEXT NOT NULL,
    diff              TEXT NOT NULL,
    errors            TEXT NOT NULL,
    latency_s         DOUBLE PRECISION,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    decoding          TEXT NOT NULL,
    machine_id        TEXT NOT NULL,             -- opaque: which machine sent it
    person_id         TEXT NOT NULL,             -- opaque: whose feedback it is
    pushed_at         DOUBLE PRECISION NOT NULL
);
CREATE INDEX proposals_repo_time ON proposals(repo_id, created_at);
CREATE INDEX proposals_time ON proposals(created_at);
CREATE INDEX proposals_parent ON proposals(parent_id);
CREATE INDEX proposals_person ON proposals(person_id);
CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    machine_id  TEXT NOT NULL,
    local_id    BIGINT NOT NULL,                 -- the event's id on the machine that sent it
    proposal_id TEXT REFERENCES proposals(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN
                ('accepted', 'rejected', 'retried', 'undone', 'stale', 'error')),
    at          DOUBLE PRECISION NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    person_id   TEXT NOT NULL,
    pushed_at   DOUBLE PRECISION NOT NULL,
    UNIQUE (machine_id, local_id)                -- a push sent twice stores each event once
);
CREATE INDEX events_proposal ON events(proposal_id, kind);
CREATE INDEX events_time ON events(at);
CREATE INDEX events_person ON events(person_id);
CREATE TABLE followups (
    proposal_id       TEXT NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('retention', 'correction')),
    started_at        DOUBLE PRECISION NOT NULL,
    due_at            DOUBLE PRECISION NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'done', 'undone', 'none', 'missing')),
    checked_at        DOUBLE PRECISION,
    retention         DOUBLE PRECISION,
    trigger           TEXT,
    correction_texts  TEXT,
    rev               INTEGER NOT NULL,          -- the sender's change count: an older copy never wins
    machine_id        TEXT NOT NULL,
    person_id         TEXT NOT NULL,
    pushed_at         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (proposal_id, kind)
);
CREATE INDEX followups_pending ON followups(status, kind, due_at);
"""

PG_V2 = """
CREATE TABLE completions (
    id                TEXT PRIMARY KEY,
    created_at        DOUBLE PRECISION NOT NULL,
    recorded_at       DOUBLE PRECISION NOT NULL,
    repo_id           TEXT NOT NULL,
    path              TEXT NOT NULL,
    language          TEXT NOT NULL,
    prefix            TEXT NOT NULL,
    suffix            TEXT NOT NULL,
    suggestion        TEXT NOT NULL,
    mode              TEXT NOT NULL,
    route             TEXT NOT NULL,
    prompt            TEXT NOT NULL,
    model             TEXT NOT NULL,
    adapter           TEXT,
    first_token_s     DOUBLE PRECISION,
    latency_s         DOUBLE PRECISION,
    machine_id        TEXT NOT NULL,
    person_id         TEXT NOT NULL,
    pushed_at         DOUBLE PRECISION NOT NULL
);
CREATE INDEX completions_repo_time ON completions(repo_id, created_at);
CREATE INDEX completions_time ON completions(created_at);
CREATE INDEX completions_person ON completions(person_id);
CREATE TABLE completion_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    machine_id    TEXT NOT NULL,
    local_id      BIGINT NOT NULL,
    completion_id TEXT NOT NULL REFERENCES completions(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('shown', 'accepted', 'rejected')),
    at            DOUBLE PRECISION NOT NULL,
    data          TEXT NOT NULL DEFAULT '{}',
    person_id     TEXT NOT NULL,
    pushed_at     DOUBLE PRECISION NOT NULL,
    UNIQUE (machine_id, local_id)
);
CREATE INDEX completion_events_completion ON completion_events(completion_id, kind);
CREATE TABLE purges (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id     TEXT,                            -- NULL: any repository
    person_id   TEXT,                            -- NULL: anyone
    purged_at   DOUBLE PRECISION NOT NULL,       -- rows made up to then are covered (the server's clock)
    CHECK (repo_id IS NOT NULL OR person_id IS NOT NULL)
);
"""

PG_MIGRATIONS: dict[int, str] = {1: PG_V1, 2: PG_V2}
PG_LATEST = max(PG_MIGRATIONS)
