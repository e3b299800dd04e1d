"""What happened after the verdict: retention after an accept, corrections after a reject.

Both are measured against the files on disk, by :func:`follow_up` (``amigo
feedback follow-up``), which :func:`feedback.attach` also runs when a front
end starts and the recorder repeats at most once a minute on new proposals.

* Retention: once ``retention_delay_s`` has passed since the accept, or a
  later commit exists, the share of the accepted change (lines it added that
  are still there, lines it removed that are still gone) is stored, 0..1.
* Correction: within ``correction_window_s`` of a reject, a change the
  person made to the same region of the file (by mtime inside the window,
  overlapping the lines the proposal touched, 3 lines of slack) is stored as
  the corrected file text; the export renders it as SEARCH/REPLACE blocks.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from amigo.edits.lines import split_lines
from amigo.edits.sequence import opcodes
from feedback.redact import redact
from feedback.repoid import UNKNOWN, head_commit, identify
from feedback.records import dumps
from feedback.settings import FeedbackSettings, db_path
from feedback.store import Store

MARGIN_LINES = 3


@dataclass(frozen=True)
class FollowUpReport:
    retention_measured: int = 0
    corrections: int = 0
    closed_without_correction: int = 0
    still_pending: int = 0

    def __str__(self) -> str:
        return (f"retention measured: {self.retention_measured}, corrections captured: {self.corrections}, "
                f"closed without correction: {self.closed_without_correction}, "
                f"still pending: {self.still_pending}")


# -- pure measures --------------------------------------------------------------------

def retention_units(old: str, final: str, current: str | None) -> tuple[int, int]:
    """(units of the accepted change still there, units in the change).

    A unit is a line the change added (kept while it is still in the file) or
    a line it removed (kept while it is still absent). A deleted file keeps
    nothing of what was added.
    """
    o, f = split_lines(old), split_lines(final)
    c = split_lines(current) if current is not None else []
    added: set[int] = set()
    deleted: set[int] = set()
    for tag, i1, i2, j1, j2 in opcodes(o, f):
        if tag != "equal":
            deleted.update(range(i1, i2))
            added.update(range(j1, j2))
    survived = _matched(f, c)
    back = _matched(o, c)
    kept = len(added & survived) + len(deleted - back)
    return kept, len(added) + len(deleted)


def _matched(a: list[str], b: list[str]) -> set[int]:
    """The lines of ``a`` that the diff to ``b`` keeps."""
    return {i for tag, i1, i2, _, _ in opcodes(a, b) if tag == "equal" for i in range(i1, i2)}


def changed_regions(old: str, new: str) -> list[tuple[int, int]]:
    """Line ranges [start, end) of ``old`` that ``new`` changes (inserts are empty ranges)."""
    return [(i1, i2) for tag, i1, i2, _, _ in opcodes(split_lines(old), split_lines(new)) if tag != "equal"]


def correction_text(old: str, current: str, regions: list[tuple[int, int]], margin: int = MARGIN_LINES) -> str | None:
    """``old`` with only the person's changes that touch ``regions`` applied; None when there are none."""
    o, c = split_lines(old), split_lines(current)
    out: list[str] = []
    touched = False
    for tag, i1, i2, j1, j2 in opcodes(o, c):
        if tag == "equal":
            out.extend(o[i1:i2])
            continue
        near = any(i1 - margin <= end and start <= i2 + margin for start, end in regions)
        if near:
            out.extend(c[j1:j2])
            touched = True
        else:
            out.extend(o[i1:i2])
    return "".join(out) if touched else None


# -- against the disk -----------------------------------------------------------------

def _read(root: Path, path: str) -> tuple[str | None, float | None]:
    target = root / path
    try:
        return target.read_text(encoding="utf-8"), target.stat().st_mtime
    except (OSError, UnicodeDecodeError):
        return None, None


def _changes(row: sqlite3.Row) -> list[dict]:
    changes = json.loads(row["changes"])
    for change in changes:
        if change["old_text"] is None:
            change["old_text"] = row["file_text"]
    return changes


def _latest_accept(store: Store, proposal_id: str) -> dict:
    rows = store.query("SELECT data FROM events WHERE proposal_id = ? AND kind = 'accepted' "
                       "ORDER BY at DESC, id DESC LIMIT 1", (proposal_id,))
    return json.loads(rows[0]["data"]) if rows else {}


def _retention(store: Store, root: Path, row: sqlite3.Row, now: float, head: tuple[str, float] | None,
               redactor: Callable[[str], str]) -> bool:
    accept = _latest_accept(store, row["proposal_id"])
    trigger = None
    if now >= row["due_at"]:
        trigger = "delay"
    elif head is not None and head[1] > row["started_at"] and head[0] != accept.get("commit"):
        trigger = "commit"
    if trigger is None:
        return False
    old_by_path = {c["path"]: c["old_text"] for c in _changes(row)}
    finals = accept.get("final_texts") or {}
    if not finals and accept.get("hunks") is None:
        finals = {c["path"]: c["new_text"] for c in _changes(row)}
    kept = total = 0
    for path, final in finals.items():
        current, _ = _read(root, path)
        k, t = retention_units(old_by_path.get(path, ""), final,
                               redactor(current) if current is not None else None)
        kept, total = kept + k, total + t
    value = kept / total if total else 1.0
    with store.transaction() as conn:
        conn.execute("UPDATE followups SET status = 'done', retention = ?, checked_at = ?, trigger = ? "
                     "WHERE proposal_id = ? AND kind = 'retention' AND status = 'pending'",
                     (value, now, trigger, row["proposal_id"]))
    return True


def _correction(store: Store, root: Path, row: sqlite3.Row, now: float, redactor: Callable[[str], str]) -> str:
    """'done', 'none' (window over, nothing found) or 'pending'."""
    changes = _changes(row)
    targets: dict[str, list[tuple[int, int]]] = {
        c["path"]: changed_regions(c["old_text"], c["new_text"]) for c in changes}
    if not targets:  # an answer that did not apply: the selection, else the whole file
        n = len(split_lines(row["file_text"]))
        start, end = row["selection_start"], row["selection_end"]
        targets[row["path"]] = [(start - 1, end)] if start else [(0, n)]
    old_by_path = {c["path"]: c["old_text"] for c in changes} or {row["path"]: row["file_text"]}
    corrected: dict[str, str] = {}
    for path, regions in targets.items():
        current, mtime = _read(root, path)
        if current is None or mtime is None or not (row["started_at"] - 1 <= mtime <= row["due_at"]):
            continue
        text = correction_text(old_by_path[path], redactor(current), regions)
        if text is not None:
            corrected[path] = text
    status = "done" if corrected else ("none" if now > row["due_at"] else "pending")
    if status != "pending":
        with store.transaction() as conn:
            conn.execute("UPDATE followups SET status = ?, checked_at = ?, correction_texts = ? "
                         "WHERE proposal_id = ? AND kind = 'correction' AND status = 'pending'",
                         (status, now, dumps(corrected) if corrected else None, row["proposal_id"]))
    return status


def follow_up_store(store: Store, repo_root: Path, repo_id: str, settings: FeedbackSettings | None = None,
                    redactor: Callable[[str], str] = redact, now: float | None = None) -> FollowUpReport:
    """Check every pending follow-up of ``repo_id`` against the files under ``repo_root``."""
    if repo_id == UNKNOWN:
        return FollowUpReport()
    now = time.time() if now is None else now
    rows = store.query(
        "SELECT f.*, p.changes, p.file_text, p.path, p.selection_start, p.selection_end FROM followups f "
        "JOIN proposals p ON p.id = f.proposal_id WHERE f.status = 'pending' AND p.repo_id = ? "
        "ORDER BY f.started_at", (repo_id,))
    head = head_commit(repo_root)
    measured = corrections = closed = pending = 0
    for row in rows:
        if row["kind"] == "retention":
            if _retention(store, repo_root, row, now, head, redactor):
                measured += 1
            else:
                pending += 1
        else:
            status = _correction(store, repo_root, row, now, redactor)
            corrections += status == "done"
            closed += status == "none"
            pending += status == "pending"
    return FollowUpReport(measured, corrections, closed, pending)


def follow_up(repo_root: Path, settings: FeedbackSettings | None = None, now: float | None = None) -> FollowUpReport:
    """Open the database and check ``repo_root``'s pending follow-ups (a front end may call this on start)."""
    if settings is None:
        from amigo.config import load_config

        settings = load_config(repo_root).feedback
    path = db_path(settings)
    if not settings.enabled or not path.exists():
        return FollowUpReport()
    root = Path(repo_root).resolve()
    with Store(path) as store:
        return follow_up_store(store, root, identify(root).id, settings, now=now)
