"""Proposals as LSP ``WorkspaceEdit`` objects (pure: no server, no documents, no I/O).

The caller says what each file held and should hold, which version of the
document the change was computed from, what the client supports
(``documentChanges``, change annotations) and whether the person must
confirm; this module turns that into the edit the editor applies. The line
arithmetic is :mod:`amigo_lsp.textedits`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from lsprotocol import types

from amigo.errors import InputError
from amigo.events import Proposal
from amigo_lsp.textedits import line_edits

ANNOTATION_ID = "amigo.proposal"

TextEdits = list[types.TextEdit | types.AnnotatedTextEdit]


@dataclass(frozen=True)
class FileChange:
    """One file of an edit: its text before and after, and the document version it applies to."""

    uri: str
    old_text: str
    new_text: str
    created: bool = False
    version: int | None = None  # None: any version (a file the edit creates has none)


@dataclass(frozen=True)
class Confirmation:
    """The change annotation that asks the person to confirm an edit before the editor applies it."""

    label: str
    description: str


def text_edits(old: str, new: str, encoding: str, annotation: str | None = None) -> TextEdits:
    """Whole-line edits turning ``old`` into ``new``, annotated with ``annotation`` when given."""
    out: TextEdits = []
    for edit in line_edits(old, new, encoding):
        rng = types.Range(types.Position(edit.start.line, edit.start.character),
                          types.Position(edit.end.line, edit.end.character))
        out.append(types.AnnotatedTextEdit(range=rng, new_text=edit.new_text, annotation_id=annotation)
                   if annotation else types.TextEdit(range=rng, new_text=edit.new_text))
    return out


def workspace_edit(changes: Sequence[FileChange], encoding: str, document_changes: bool,
                   confirm: Confirmation | None = None) -> types.WorkspaceEdit:
    """The edit for ``changes``: versioned ``documentChanges`` when the client takes them, else plain ``changes``.

    ``confirm`` adds a change annotation that needs confirmation (only with
    ``documentChanges``: the plain form has no annotations). Raises
    :class:`InputError` for a file creation the client cannot perform.
    """
    if not document_changes:
        if any(change.created for change in changes):
            raise InputError("this proposal creates a file, which your editor cannot do through LSP; "
                             "use `amigo edit` in a terminal")
        return types.WorkspaceEdit(changes={c.uri: text_edits(c.old_text, c.new_text, encoding) for c in changes})
    annotation = ANNOTATION_ID if confirm else None
    operations: list[types.TextDocumentEdit | types.CreateFile] = []
    for change in changes:
        if change.created:
            operations.append(types.CreateFile(uri=change.uri, annotation_id=annotation))
        operations.append(types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=change.uri, version=change.version),
            edits=text_edits(change.old_text, change.new_text, encoding, annotation)))
    annotations = None
    if confirm is not None:
        annotations = {ANNOTATION_ID: types.ChangeAnnotation(
            label=confirm.label, needs_confirmation=True, description=confirm.description)}
    return types.WorkspaceEdit(document_changes=operations, change_annotations=annotations)


def proposal_label(proposal: Proposal) -> str:
    """The applyEdit label: the instruction, and the check stage's verdict when it failed."""
    label = f"Amigo: {proposal.request.instruction.splitlines()[0][:80]}"
    errors = [f.message for f in proposal.findings if f.level == "error"]
    return label + (f" (CHECKS FAILED: {errors[0][:120]})" if errors else "")
