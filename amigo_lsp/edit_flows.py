"""``amigo.edit``, ``amigo.fix`` and ``amigo.retry``: generate in the background, then hand the proposal to review.

The document's text is what the editor holds (unsaved changes included) and
the version it had is kept with the proposal, so review can tell when the
buffer moved on. Failures reach the person as a message and the command's
result says why; nothing raises out of a flow but a cancelled request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Callable

from amigo.client import Cancelled
from amigo.errors import AmigoError, InputError
from amigo.events import Proposal
from amigo_lsp import review
from amigo_lsp.commands import EditArgs
from amigo_lsp.jobs import Job
from amigo_lsp.textedits import selection_lines

if TYPE_CHECKING:
    from amigo_lsp.server import AmigoServer

log = logging.getLogger(__name__)


def _selection(args: EditArgs) -> tuple[int, int] | None:
    """The engine's line span: the selected range, else the lines of the diagnostics (a fix), else none
    (the whole file)."""
    rng = args.range
    selection = selection_lines(rng.start_line, rng.start_char, rng.end_line, rng.end_char) if rng else None
    if selection is None and args.diagnostics:
        return (min(d.start_line for d in args.diagnostics), max(d.end_line or d.start_line for d in args.diagnostics))
    return selection


async def run_edit(server: AmigoServer, args: EditArgs, title: str) -> dict[str, Any]:
    """amigo.edit / amigo.fix on the document ``args.uri``."""
    try:
        path, text, version = server.document(args.uri)
    except AmigoError as exc:
        return server.fail(exc)
    selection = _selection(args)
    job = server.jobs.new(args.uri, version, title)

    def work() -> Proposal:
        # Building the session (config, git, feedback store) is I/O: keep it off the loop.
        session = job.session = server.sessions.session_for(path)
        request = session.make_request(args.instruction or "", path, selection=selection,
                                       diagnostics=args.diagnostics, file_text=text)
        return session.propose(request, cancel=job.cancel, request_id=job.id)

    return await _generate_and_review(server, job, work)


async def run_retry(server: AmigoServer, proposal_id: str, instruction: str | None) -> dict[str, Any]:
    """amigo.retry: another answer for a proposal (optionally with a new instruction)."""
    known = server.proposals.known.get(proposal_id)
    if known is None:
        return server.fail(InputError(f"no proposal {proposal_id!r} in this session; run Amigo: Edit again"))
    try:
        proposal = known.session.get(proposal_id)
    except AmigoError as exc:
        return server.fail(exc)
    server.proposals.pending.discard(proposal_id)
    title = f"Amigo: retrying \u201c{proposal.request.instruction[:40]}\u201d"
    job = server.jobs.new(known.uri, known.version, title, session=known.session)
    return await _generate_and_review(
        server, job, lambda: known.session.retry(proposal, instruction, cancel=job.cancel, request_id=job.id))


async def _generate_and_review(server: AmigoServer, job: Job, work: Callable[[], Proposal]) -> dict[str, Any]:
    try:
        await server.jobs.begin(job)
        proposal = await server.jobs.run(job, work)
    except asyncio.CancelledError:
        server.jobs.end(job, "cancelled")
        raise
    except Cancelled:
        server.jobs.end(job, "cancelled")
        return {"ok": False, "cancelled": True}
    except AmigoError as exc:
        server.jobs.end(job, "failed")
        return server.fail(exc)
    except Exception as exc:  # noqa: BLE001 - a bug must not kill the server
        log.exception("generation failed")
        server.jobs.end(job, "failed")
        return server.fail(AmigoError(f"Amigo failed unexpectedly ({type(exc).__name__}: {exc}); see the server log"))
    server.jobs.end(job, "proposal ready" if proposal.ok else "the answer did not apply")
    assert job.session is not None
    server.proposals.remember(proposal.id, review.Known(job.session, job.uri, job.version))
    return await review.review(server, proposal, result_json(proposal, job.uri, job.version))


def result_json(proposal: Proposal, uri: str, version: int | None) -> dict[str, Any]:
    """What an edit command answers: the proposal's id, diff, problems and the model's explanation."""
    return {"ok": proposal.ok, "id": proposal.id, "uri": uri, "version": version, "diff": proposal.diff,
            "errors": list(proposal.errors), "findings": [str(f) for f in proposal.findings],
            "explanation": proposal.prose[:2000]}
