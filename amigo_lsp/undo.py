"""``amigo.undo``: reverse the last proposal the editor applied, while its text is still exactly Amigo's.

Each accepted proposal pushes what it changed (per document: the text before
and after); undo sends the reverse edit through ``workspace/applyEdit`` and
records the undo with the engine. A document edited since then is left
alone: the person's own work wins, and their editor's undo is the way back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from amigo.engine import EditSession
from amigo.errors import InputError
from amigo.events import Proposal
from amigo_lsp.workspace_edits import FileChange, workspace_edit

if TYPE_CHECKING:
    from amigo_lsp.server import AmigoServer

LABEL = "Amigo: undo"


@dataclass
class AppliedEdit:
    """An accepted proposal the editor applied, kept for ``amigo.undo``."""

    proposal: Proposal
    session: EditSession
    texts: tuple[tuple[str, str, str], ...]  # (uri, text before, text after)


def reverse_changes(entry: AppliedEdit, versions: dict[str, int | None]) -> list[FileChange]:
    """The changes that put each document (now at ``versions[uri]``) back to its text before ``entry``."""
    return [FileChange(uri, after, before, version=versions.get(uri)) for uri, before, after in entry.texts]


async def undo_last(server: AmigoServer) -> dict[str, Any]:
    """Reverse Amigo's last applied edit in the editor, if the text is still exactly what it wrote."""
    stack = server.undo_stack
    if not stack:
        server.show(types.MessageType.Info, "Amigo: nothing to undo in this editor session")
        return {"ok": False, "error": "nothing to undo"}
    entry = stack[-1]
    for uri, _, after in entry.texts:
        if server.text_of(uri) != after:
            stack.pop()
            name = Path(to_fs_path(uri) or uri).name
            return server.fail(InputError(f"{name} was edited after Amigo's change; use your editor's undo instead"))
    versions = {uri: server.workspace.get_text_document(uri).version for uri, _, _ in entry.texts}
    edit = workspace_edit(reverse_changes(entry, versions), server.encoding, server.supports_document_changes())
    response = await server.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=LABEL))
    if not response.applied:
        return {"ok": False, "applied": False, "reason": response.failure_reason or "declined in the editor"}
    stack.pop()
    entry.session.mark_undone(entry.proposal, tuple(change.path for change in entry.proposal.changes))
    return {"ok": True, "applied": True, "id": entry.proposal.id}
