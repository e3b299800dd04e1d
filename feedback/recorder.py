"""The recorder: subscribes to an engine's EventBus and keeps what happened.

A front end attaches it with one call where it builds its session::

    recorder = feedback.attach(session.events, repo_root, config.feedback)

Each event is written in its own short transaction, with every text redacted
first. A failure is logged and swallowed (the bus does that too): a broken
database must never cost the person their edit.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from amigo.errors import AmigoError
from amigo.events import (
    AcceptedEvent, AttemptFailedEvent, CompletionAcceptedEvent, CompletionRejectedEvent, CompletionShownEvent,
    ErrorEvent, Event, EventBus, Proposal, ProposalEvent, RejectedEvent, RetriedEvent,
    StaleEvent, UndoneEvent,
)
from amigo.xdg import state_dir
from feedback import records
from feedback.redact import redact
from feedback.repoid import identify
from feedback.settings import FeedbackSettings, db_path, is_excluded
from feedback.store import Store

if TYPE_CHECKING:
    from feedback.followup import FollowUpReport

log = logging.getLogger(__name__)

FOLLOW_UP_EVERY_S = 60.0  # at most this often on new proposals, besides at attach
ROW_CACHE = 64  # redacted proposal rows kept (an accept follows its proposal)


class Recorder:
    """Writes the events of one bus to one store, for one repository."""

    def __init__(self, store: Store, repo_id: str, settings: FeedbackSettings, repo_root: Path | None = None,
                 redactor: Callable[[str], str] = redact) -> None:
        self.store = store
        self.repo_id = repo_id
        self.repo_root = repo_root
        self.settings = settings
        self.redactor = redactor
        self._unsubscribe: Callable[[], None] | None = None
        self._last_follow_up = 0.0
        self._follow_lock = threading.Lock()
        self._rows: dict[int, tuple[Proposal, dict[str, Any]]] = {}

    # -- wiring --------------------------------------------------------------------
    def subscribe(self, bus: EventBus) -> "Recorder":
        self._unsubscribe = bus.subscribe(self.handle)
        return self

    def close(self) -> None:
        """Stop listening and close the database."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.store.close()

    # -- events --------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """Record one event (tokens and done markers are not kept).

        Rows are built and redacted before the transaction starts, so the
        write lock is held only for the inserts themselves.
        """
        if isinstance(event, ProposalEvent):
            row = self._row(event.proposal)
            with self.store.transaction() as conn:
                records.write_proposal(conn, row)
            self._maybe_follow_up()
        elif isinstance(event, AcceptedEvent):
            self._accepted(event)
        elif isinstance(event, RejectedEvent):
            row = self._row(event.proposal)
            reason = self.redactor(event.reason) if event.reason else None
            window = float(self.settings.correction_window_s)
            now = time.time()
            with self.store.transaction() as conn:
                records.write_proposal(conn, row)
                records.write_event(conn, event.proposal.id, "rejected", {"reason": reason}, now)
                records.open_followup(conn, event.proposal.id, "correction", now, now + window)
        elif isinstance(event, AttemptFailedEvent):
            self._attempt_failed(event)
        elif isinstance(event, RetriedEvent):
            rows = [self._row(event.proposal), self._row(event.new_proposal)]
            with self.store.transaction() as conn:
                for row in rows:
                    records.write_proposal(conn, row)
                records.write_event(conn, event.proposal.id, "retried",
                                    {"new_proposal_id": event.new_proposal.id})
        elif isinstance(event, UndoneEvent):
            self._undone(event)
        elif isinstance(event, StaleEvent):
            row = self._row(event.proposal)
            with self.store.transaction() as conn:
                records.write_proposal(conn, row)
                records.write_event(conn, event.proposal.id, "stale", {"path": event.path})
        elif isinstance(event, (CompletionShownEvent, CompletionAcceptedEvent, CompletionRejectedEvent)):
            self._completion(event)
        elif isinstance(event, ErrorEvent):
            if event.kind == "cancelled":
                return
            message = self.redactor(event.message)
            with self.store.transaction() as conn:
                known = records.proposal_exists(conn, event.request_id)
                records.write_event(conn, event.request_id if known else None, "error", {
                    "request_id": event.request_id, "kind": event.kind, "message": message,
                })

    def _row(self, proposal: Proposal) -> dict[str, Any]:
        """The redacted row of ``proposal``; proposals are immutable, so recent rows are cached."""
        key = id(proposal)
        cached = self._rows.get(key)
        if cached is not None and cached[0] is proposal:
            return dict(cached[1], recorded_at=time.time())
        row = records.proposal_row(proposal, self.repo_id, self.redactor)
        if len(self._rows) >= ROW_CACHE:
            self._rows.pop(next(iter(self._rows)))
        self._rows[key] = (proposal, row)
        return row

    def _accepted(self, event: AcceptedEvent) -> None:
        row = self._row(event.proposal)
        final = {path: self.redactor(text) for path, text in event.final_texts}
        data = {"hunks": list(event.hunks) if event.hunks is not None else None,
                "commit": event.commit, "final_texts": final}
        delay = float(self.settings.retention_delay_s)
        now = time.time()
        with self.store.transaction() as conn:
            records.write_proposal(conn, row)
            records.write_event(conn, event.proposal.id, "accepted", data, now)
            records.open_followup(conn, event.proposal.id, "retention", now, now + delay)

    def _completion(self, event: CompletionShownEvent | CompletionAcceptedEvent | CompletionRejectedEvent) -> None:
        """A suggestion shown, taken or turned down; its texts pass the same redaction as edits."""
        row = records.completion_row(event.suggestion, self.repo_id, self.redactor)
        if isinstance(event, CompletionShownEvent):
            kind, data = "shown", {}
        elif isinstance(event, CompletionAcceptedEvent):
            kind, data = "accepted", {"accepted": self.redactor(event.accepted),
                                      "partial": event.accepted != event.suggestion.text}
        else:
            typed = self.redactor(event.typed) if event.typed is not None else None
            kind, data = "rejected", {"reason": event.reason, "typed": typed}
        with self.store.transaction() as conn:
            records.write_completion(conn, row, kind, data)

    def _attempt_failed(self, event: AttemptFailedEvent) -> None:
        """An answer the engine turned down itself: an automatic rejection, linked to the
        answer shown instead, so that an accept of that one makes a preference pair. No
        correction is awaited: the person never saw it."""
        row = self._row(event.proposal)
        data = {"reason": self.redactor(event.problem), "automatic": True}
        with self.store.transaction() as conn:
            records.write_proposal(conn, row)
            records.write_event(conn, event.proposal.id, "rejected", data)
            if event.successor_id:
                records.write_event(conn, event.proposal.id, "retried",
                                    {"new_proposal_id": event.successor_id, "automatic": True})

    def _undone(self, event: UndoneEvent) -> None:
        with self.store.transaction() as conn:
            pid = event.proposal_id
            known = pid is not None and records.proposal_exists(conn, pid)
            records.write_event(conn, pid if known else None, "undone",
                                {"proposal_id": pid, "paths": list(event.paths)})
            if known:
                records.close_retention_undone(conn, pid, time.time())

    # -- follow-ups ----------------------------------------------------------------
    def follow_up(self) -> "FollowUpReport | None":
        """Check this repository's due follow-ups now (see :mod:`feedback.followup`)."""
        if self.repo_root is None:
            return None
        from feedback.followup import follow_up_store

        with self._follow_lock:
            self._last_follow_up = time.time()
            return follow_up_store(self.store, self.repo_root, self.repo_id, self.settings, self.redactor)

    def _maybe_follow_up(self) -> None:
        if time.time() - self._last_follow_up >= FOLLOW_UP_EVERY_S:
            try:
                self.follow_up()
            except Exception:  # noqa: BLE001 - best effort, never in the person's way
                log.exception("feedback follow-up failed")


def attach(bus: EventBus, repo_root: Path | None, settings: FeedbackSettings | None = None) -> Recorder | None:
    """Record the events of ``bus`` for work in ``repo_root``; the one call a front end makes.

    Returns None (and touches no file) when feedback is disabled or the
    repository is excluded. ``settings`` defaults to the ``[feedback]`` table of
    the configuration for ``repo_root``. Due follow-ups of this repository
    (retention, corrections) are checked once here, at start.
    """
    if settings is None:
        from amigo.config import load_config

        settings = load_config(repo_root).feedback
    if not settings.enabled:
        return None
    root = Path(repo_root).resolve() if repo_root is not None else None
    identity = identify(root)
    if is_excluded(settings, root, identity.id, identity.remote):
        return None
    try:
        store = Store(db_path(settings))
    except AmigoError as exc:
        log.warning("feedback is off for this session: %s", exc)
        return None
    recorder = Recorder(store, identity.id, settings, root).subscribe(bus)
    try:
        recorder.follow_up()
    except Exception:  # noqa: BLE001
        log.exception("feedback follow-up failed at start")
    if settings.url:
        push_after_session(db_path(settings), str(settings.url))
    return recorder


_PUSHES: set[tuple[str, str]] = set()


def push_after_session(db: Path, url: str) -> None:
    """When this process ends, start ``amigo feedback push`` for ``db`` in the background (once per database).

    The session's end never waits on the network: the push is a detached process whose output goes to
    ``$XDG_STATE_HOME/amigo/push.log``; if it fails, the rows stay unsent and the next push sends them."""
    key = (str(db), url)
    if key in _PUSHES:
        return
    _PUSHES.add(key)
    state = state_dir()
    env = {**os.environ, "AMIGO_FEEDBACK__URL": url}

    def start() -> None:
        try:
            state.mkdir(parents=True, exist_ok=True)
            with open(state / "push.log", "ab") as out:
                subprocess.Popen([sys.executable, "-m", "feedback.cli", "--db", str(db), "push", "--quiet"],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
        except OSError:
            log.warning("could not start the feedback push after the session; run amigo feedback push")

    atexit.register(start)
