"""Review of a proposal in the editor: staleness, ``workspace/applyEdit``, accept and reject.

A proposal reaches the editor as a ``workspace/applyEdit`` naming the
document version it was computed from, with a change annotation that needs
confirmation. ``applied: true`` records an accept (the editor wrote its
buffer), ``applied: false`` a reject, unless the buffer moved on meanwhile
(then it is stale, not a verdict). Clients that show the diff themselves set
``review: "client"`` and call ``amigo.accept`` / ``amigo.reject``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from amigo.engine import EditSession
from amigo.errors import AmigoError, InputError
from amigo.events import Proposal
from amigo_lsp import undo
from amigo_lsp.workspace_edits import Confirmation, FileChange, proposal_label, workspace_edit

if TYPE_CHECKING:
    from amigo_lsp.server import AmigoServer

MAX_KNOWN_PROPOSALS = 200


@dataclass
class Known:
    """Where a proposal came from: its session, document and the version it was computed from."""

    session: EditSession
    uri: str
    version: int | None


class Proposals:
    """The proposals this server made (the newest few hundred) and those waiting for amigo.accept / reject."""

    def __init__(self) -> None:
        self.known: dict[str, Known] = {}
        self.pending: set[str] = set()

    def remember(self, proposal_id: str, known: Known) -> None:
        """Keep where a new proposal came from (forgetting the oldest beyond MAX_KNOWN_PROPOSALS)."""
        self.known[proposal_id] = known
        while len(self.known) > MAX_KNOWN_PROPOSALS:
            self.known.pop(next(iter(self.known)))

    def waiting(self, proposal_id: str) -> Known | None:
        """Where a proposal waiting for the client's verdict came from (None when none waits under that id)."""
        return self.known.get(proposal_id) if proposal_id in self.pending else None


def file_uri(session: EditSession, rel_path: str) -> str:
    """The ``file:`` URI of a path relative to the session's repository."""
    return from_fs_path(str(session.repo_root / rel_path)) or ""


def stale_reason(server: AmigoServer, proposal: Proposal) -> str | None:
    """Why the proposal no longer fits the editor's documents (None when it still does)."""
    known = server.proposals.known.get(proposal.id)
    if known is None:
        return "Amigo no longer knows where this proposal came from; run the command again"
    doc = server.workspace.get_text_document(known.uri)
    if known.version is not None and doc.version != known.version:
        return (f"{Path(to_fs_path(known.uri) or known.uri).name} changed while Amigo was working "
                f"(version {known.version} -> {doc.version}); nothing was overwritten. Run the command again.")
    for change in proposal.changes:
        expected = None if change.created else change.old_text
        if server.text_of(file_uri(known.session, change.path)) != expected:
            return f"{change.path} changed since the proposal was made; nothing was overwritten. Run the command again."
    return None


def edit_for(server: AmigoServer, proposal: Proposal, confirm: bool) -> types.WorkspaceEdit:
    """The proposal as a versioned WorkspaceEdit (raises InputError when it is stale)."""
    stale = stale_reason(server, proposal)
    if stale:
        raise InputError(stale)
    known = server.proposals.known[proposal.id]
    changes = []
    for change in proposal.changes:
        uri = file_uri(known.session, change.path)
        version = None if change.created else server.workspace.get_text_document(uri).version
        changes.append(FileChange(uri, "" if change.created else change.old_text, change.new_text, change.created,
                                  known.version if uri == known.uri else version))
    asks = confirm and server.capability("workspace", "workspace_edit", "change_annotation_support") is not None
    confirmation = Confirmation(proposal_label(proposal), f"proposal {proposal.id}") if asks else None
    return workspace_edit(changes, server.encoding, server.supports_document_changes(), confirmation)


async def review(server: AmigoServer, proposal: Proposal, result: dict[str, Any]) -> dict[str, Any]:
    """Hand a finished proposal to the person: warnings first, then applyEdit or the client's own review."""
    if not proposal.ok:
        server.show(types.MessageType.Warning,
                    "Amigo: the model's answer could not be applied (" + "; ".join(proposal.errors)[:300]
                    + "). Run 'Amigo: Retry' for another answer, or rephrase the instruction.")
        return result
    if proposal.broken:
        server.show(types.MessageType.Warning,
                    "Amigo: the change fails its checks (" + "; ".join(str(f) for f in proposal.findings)[:300]
                    + "). Review it closely before accepting, or run 'Amigo: Retry'.")
    if server.sessions.settings.review == "client":
        server.proposals.pending.add(proposal.id)
        try:
            result["edit"] = server.to_json(edit_for(server, proposal, confirm=False))
        except AmigoError as exc:
            result["stale"] = str(exc)
        return result
    result.update(await apply(server, proposal, confirm=True))
    return result


async def apply(server: AmigoServer, proposal: Proposal, confirm: bool) -> dict[str, Any]:
    """Send the proposal as applyEdit; applied -> accepted, declined -> rejected, moved on -> stale."""
    known = server.proposals.known[proposal.id]
    try:
        edit = edit_for(server, proposal, confirm)
    except AmigoError as exc:
        server.show(types.MessageType.Warning, f"Amigo: {exc}")
        return {"applied": False, "stale": True, "reason": str(exc)}
    response = await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=edit, label=proposal_label(proposal)))
    server.proposals.pending.discard(proposal.id)
    if response.applied:
        known.session.mark_accepted(proposal)
        texts = tuple((file_uri(known.session, c.path), "" if c.created else c.old_text, c.new_text)
                      for c in proposal.changes)
        server.undo_stack.append(undo.AppliedEdit(proposal, known.session, texts))
        return {"applied": True}
    reason = response.failure_reason or "declined in the editor"
    stale = stale_reason(server, proposal)
    if stale:
        server.show(types.MessageType.Warning, f"Amigo: {stale}")
        return {"applied": False, "stale": True, "reason": stale}
    known.session.reject(proposal, reason=reason)
    return {"applied": False, "reason": reason}


async def accept(server: AmigoServer, proposal_id: str) -> dict[str, Any]:
    """``amigo.accept``: the client's reviewer said yes; apply the proposal through the editor."""
    known = server.proposals.waiting(proposal_id)
    if known is None:
        return server.fail(InputError(f"no proposal {proposal_id!r} is waiting for review; run Amigo: Edit again"))
    proposal = known.session.get(proposal_id)
    return {"ok": True, "id": proposal_id, **await apply(server, proposal, confirm=False)}


def reject(server: AmigoServer, proposal_id: str, reason: str | None) -> dict[str, Any]:
    """``amigo.reject``: the client's reviewer said no."""
    known = server.proposals.waiting(proposal_id)
    if known is None:
        return server.fail(InputError(f"no proposal {proposal_id!r} is waiting for review"))
    server.proposals.pending.discard(proposal_id)
    known.session.reject(known.session.get(proposal_id), reason=reason)
    return {"ok": True, "id": proposal_id}
