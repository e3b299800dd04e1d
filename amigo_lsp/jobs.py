"""Generations in flight: their threads, work-done progress and cancellation.

Threading: pygls runs an asyncio loop; bookkeeping happens on it and never
blocks. Building a request (repository context) and generating run in one
thread per job (:func:`amigo_lsp.threads.run_in_thread`); the engine's token
events arrive on that thread and are handed to the loop, the only thread that
writes to the client. A job stops when the client cancels its request
(``$/cancelRequest``), its progress (``window/workDoneProgress/cancel``) or
the server shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from lsprotocol import types

from amigo.engine import EditSession
from amigo.events import Proposal, TokenEvent
from amigo_lsp.protocol import current_command
from amigo_lsp.threads import run_in_thread

if TYPE_CHECKING:
    from amigo_lsp.server import AmigoServer

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1  # at most ten progress reports a second per job


@dataclass
class Job:
    """One generation in flight (edit, fix or retry)."""

    id: str
    uri: str
    version: int | None
    title: str
    cancel: threading.Event = field(default_factory=threading.Event)
    token: types.ProgressToken | None = None
    request_id: Any = None
    session: EditSession | None = None
    tokens: int = 0
    last_report: float = 0.0
    started: float = field(default_factory=time.monotonic)


class Jobs:
    """The server's jobs by id (the engine streams each generation under its job's id)."""

    def __init__(self, server: AmigoServer) -> None:
        self.server = server
        self.running: dict[str, Job] = {}

    def new(self, uri: str, version: int | None, title: str, session: EditSession | None = None) -> Job:
        """A job for the request being handled (so that cancelling that request stops it)."""
        job = Job(id=uuid.uuid4().hex[:12], uri=uri, version=version, title=title,
                  request_id=self.server.protocol.msg_id, session=session)
        self.running[job.id] = job
        return job

    def busy_sessions(self) -> list[EditSession]:
        """The sessions a generation is using right now."""
        return [job.session for job in self.running.values() if job.session is not None]

    # -- progress -----------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        """Engine events arrive on the generating thread: count tokens, report progress."""
        if not isinstance(event, TokenEvent):
            return
        job = self.running.get(event.request_id)
        if job is None:
            return
        job.tokens += 1
        now = time.monotonic()
        if job.token is not None and (job.tokens == 1 or now - job.last_report >= PROGRESS_INTERVAL_S):
            job.last_report = now
            self.server.on_loop(self._report, job.token, f"{job.tokens} tokens")

    def _report(self, token: types.ProgressToken, message: str) -> None:
        self.server.work_done_progress.report(token, types.WorkDoneProgressReport(message=message, cancellable=True))

    async def begin(self, job: Job) -> None:
        """Start the job's progress: the command's own token, else one the server creates (when allowed)."""
        params = current_command.get()
        token = params.work_done_token if params is not None else None
        progress = self.server.work_done_progress
        if token is None and self.server.capability("window", "work_done_progress"):
            token = f"amigo-{job.id}"
            try:
                await asyncio.wait_for(progress.create_async(token), timeout=10)
            except Exception:  # noqa: BLE001 - progress is a courtesy, not a requirement
                log.warning("the client refused window/workDoneProgress/create; continuing without progress")
                progress.tokens.pop(token, None)
                token = None
        job.token = token
        if token is not None:
            progress.begin(token, types.WorkDoneProgressBegin(title=job.title, cancellable=True,
                                                               message="building context"))

    def end(self, job: Job, message: str) -> None:
        """Forget the job and close its progress with ``message``."""
        self.running.pop(job.id, None)
        if job.token is not None:
            self.server.work_done_progress.end(job.token, types.WorkDoneProgressEnd(message=message))
            self.server.work_done_progress.tokens.pop(job.token, None)

    async def run(self, job: Job, work: Callable[[], Proposal]) -> Proposal:
        """Run ``work`` on the job's own thread (never the reader's pool); cancel it if we are cancelled."""
        return await run_in_thread(work, job.cancel, f"amigo-job-{job.id}")

    # -- cancellation -------------------------------------------------------------

    def cancel_request(self, msg_id: Any) -> None:
        """``$/cancelRequest`` for a command that is generating: stop the generation."""
        for job in list(self.running.values()):
            if job.request_id is not None and job.request_id == msg_id:
                job.cancel.set()

    def cancel_progress(self, token: types.ProgressToken) -> None:
        """``window/workDoneProgress/cancel``: stop the generation that reports to ``token``."""
        for job in list(self.running.values()):
            if job.token is not None and job.token == token:
                job.cancel.set()

    def cancel_all(self) -> None:
        """Stop every generation (at shutdown)."""
        for job in list(self.running.values()):
            job.cancel.set()
