"""Turning engine events into rows: everything passes through redaction here.

Pure functions build the rows; the ``write_*`` functions run inside one
transaction of the caller's :class:`~feedback.store.Store`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from typing import Any, Callable

from amigo.events import Proposal, Suggestion
from feedback.redact import RULES, redact, redact_value

Redactor = Callable[[str], str]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def context_digest(proposal: Proposal, redactor: Redactor = redact) -> str:
    """SHA-256 of the (redacted) repository context the prompt was built from."""
    sections = [[s.kind, s.title, redactor(s.text)] for s in proposal.request.context]
    return hashlib.sha256(dumps(sections).encode()).hexdigest()


def proposal_row(proposal: Proposal, repo_id: str, redactor: Redactor = redact) -> dict[str, Any]:
    """The ``proposals`` row for ``proposal``, with every text redacted."""
    request = proposal.request
    file_text = redactor(request.file_text)
    changes = []
    for change in proposal.changes:
        old = redactor(change.old_text)
        changes.append({
            "path": change.path,
            # the old text of the request's own file is file_text: not stored twice
            "old_text": None if change.path == request.path and old == file_text else old,
            "new_text": redactor(change.new_text),
            "base_sha256": change.base_sha256,
        })
    selection = request.selection or (None, None)
    return {
        "id": proposal.id,
        "parent_id": proposal.parent_id,
        "created_at": proposal.created_at,
        "recorded_at": time.time(),
        "repo_id": repo_id,
        "path": request.path,
        "language": request.language,
        "instruction": redactor(request.instruction),
        "edit_format": request.edit_format,
        "selection_start": selection[0],
        "selection_end": selection[1],
        "file_text": file_text,
        "messages": dumps(redact_value(list(proposal.messages), redactor)),
        "context_digest": context_digest(proposal, redactor),
        "model": proposal.model,
        "adapter": proposal.adapter,
        "answer": redactor(proposal.answer),
        "changes": dumps(changes),
        "diff": redactor(proposal.diff),
        "errors": dumps([redactor(e) for e in proposal.errors]),
        "latency_s": proposal.latency_s,
        "prompt_tokens": proposal.prompt_tokens,
        "completion_tokens": proposal.completion_tokens,
        "decoding": proposal.decoding,
        "redaction": RULES if redactor is redact else None,  # another redactor: a push redacts it again
    }




def write_proposal(conn: sqlite3.Connection, row: dict[str, Any]) -> bool:
    """Insert ``row`` unless that proposal is already stored; True when inserted."""
    columns = ", ".join(row)
    marks = ", ".join(f":{k}" for k in row)
    cur = conn.execute(f"INSERT OR IGNORE INTO proposals ({columns}) VALUES ({marks})", row)
    return cur.rowcount > 0


def write_event(conn: sqlite3.Connection, proposal_id: str | None, kind: str, data: dict[str, Any],
                at: float | None = None, redacted: bool = True) -> int:
    """Insert one event whose texts the caller redacted with :func:`redact` (else ``redacted=False``);
    returns its row id."""
    cur = conn.execute(
        "INSERT INTO events (proposal_id, kind, at, data, redaction) VALUES (?, ?, ?, ?, ?)",
        (proposal_id, kind, time.time() if at is None else at, dumps(data), RULES if redacted else None),
    )
    return int(cur.lastrowid or 0)


def open_followup(conn: sqlite3.Connection, proposal_id: str, kind: str, started: float, due: float) -> None:
    """Start (or restart) the retention / correction follow-up of a proposal."""
    conn.execute(
        "INSERT INTO followups (proposal_id, kind, started_at, due_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(proposal_id, kind) DO UPDATE SET started_at = excluded.started_at, "
        "due_at = excluded.due_at, status = 'pending', checked_at = NULL, retention = NULL, "
        "trigger = NULL, correction_texts = NULL",
        (proposal_id, kind, started, due),
    )


def close_retention_undone(conn: sqlite3.Connection, proposal_id: str, at: float) -> None:
    """An accepted edit was undone: its pending retention follow-up ends now with nothing kept."""
    conn.execute(
        "UPDATE followups SET status = 'undone', retention = 0.0, checked_at = ? "
        "WHERE proposal_id = ? AND kind = 'retention' AND status = 'pending'",
        (at, proposal_id),
    )


def completion_row(suggestion: Suggestion, repo_id: str, redactor: Redactor = redact) -> dict[str, Any]:
    """The ``completions`` row for ``suggestion``, with every text redacted."""
    return {
        "id": suggestion.id, "created_at": suggestion.created_at, "recorded_at": time.time(),
        "repo_id": repo_id, "path": suggestion.path, "language": suggestion.language,
        "prefix": redactor(suggestion.prefix), "suffix": redactor(suggestion.suffix),
        "suggestion": redactor(suggestion.text), "mode": suggestion.mode, "route": suggestion.route,
        "prompt": redactor(suggestion.prompt), "model": suggestion.model, "adapter": suggestion.adapter,
        "first_token_s": suggestion.first_token_s, "latency_s": suggestion.latency_s,
        "redaction": RULES if redactor is redact else None,  # another redactor: a push redacts it again
    }


def write_completion(conn: sqlite3.Connection, row: dict[str, Any], kind: str, data: dict[str, Any],
                     at: float | None = None) -> None:
    """Insert the suggestion (once) and one of its events (shown, accepted, rejected); the event's texts
    were redacted like the row's (its ``redaction`` stamp)."""
    columns = ", ".join(row)
    marks = ", ".join(f":{k}" for k in row)
    conn.execute(f"INSERT OR IGNORE INTO completions ({columns}) VALUES ({marks})", row)
    conn.execute("INSERT INTO completion_events (completion_id, kind, at, data, redaction) VALUES (?, ?, ?, ?, ?)",
                 (row["id"], kind, time.time() if at is None else at, dumps(data), row.get("redaction")))


def proposal_exists(conn: sqlite3.Connection, proposal_id: str) -> bool:
    return conn.execute("SELECT 1 FROM proposals WHERE id = ?", (proposal_id,)).fetchone() is not None
