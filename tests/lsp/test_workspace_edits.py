"""The language server's pure parts on their own: WorkspaceEdit building, code action listing, registration."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.protocol import default_converter

from amigo.errors import InputError
from amigo_lsp import code_actions, commands
from amigo_lsp.textedits import LineEdit, Pos, apply_line_edits
from amigo_lsp.workspace_edits import ANNOTATION_ID, Confirmation, FileChange, workspace_edit

TO_JSON = default_converter().unstructure
OLD = "def f():\n    return 1\n"
NEW = "def f():\n    \"\"\"One.\"\"\"\n    return 1\n"


def _applied(text: str, edits: list) -> str:
    return apply_line_edits(text, [LineEdit(Pos(e.range.start.line, e.range.start.character),
                                            Pos(e.range.end.line, e.range.end.character), e.new_text) for e in edits])


def test_a_confirmed_edit_is_versioned_annotated_and_turns_old_into_new() -> None:
    edit = workspace_edit([FileChange("file:///r/f.py", OLD, NEW, version=7)], "utf-16", document_changes=True,
                          confirm=Confirmation("Amigo: add a docstring", "proposal p1"))
    (change,) = edit.document_changes or []
    assert isinstance(change, types.TextDocumentEdit)
    assert change.text_document.uri == "file:///r/f.py" and change.text_document.version == 7
    assert all(isinstance(e, types.AnnotatedTextEdit) and e.annotation_id == ANNOTATION_ID for e in change.edits)
    annotation = (edit.change_annotations or {})[ANNOTATION_ID]
    assert annotation.needs_confirmation is True and annotation.label == "Amigo: add a docstring"
    assert _applied(OLD, list(change.edits)) == NEW


def test_a_new_file_is_created_first_and_refused_to_clients_without_document_changes() -> None:
    created = FileChange("file:///r/new.py", "", "x = 1\n", created=True)
    edit = workspace_edit([created], "utf-16", document_changes=True)
    kinds = [type(op) for op in edit.document_changes or []]
    assert kinds == [types.CreateFile, types.TextDocumentEdit] and edit.change_annotations is None
    with pytest.raises(InputError, match="creates a file"):
        workspace_edit([created], "utf-16", document_changes=False)
    plain = workspace_edit([FileChange("file:///r/f.py", OLD, NEW)], "utf-16", document_changes=False)
    assert _applied(OLD, (plain.changes or {})["file:///r/f.py"]) == NEW


def _params(rng: types.Range, diagnostics: list[types.Diagnostic], only: list[str] | None = None,
            uri: str = "file:///r/f.py") -> types.CodeActionParams:
    return types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri), range=rng,
                                  context=types.CodeActionContext(diagnostics=diagnostics, only=only))


def test_code_actions_offer_edit_and_a_fix_over_the_diagnostics_at_a_cursor() -> None:
    cursor = types.Range(types.Position(3, 4), types.Position(3, 4))
    problem = types.Diagnostic(range=types.Range(types.Position(2, 0), types.Position(4, 1)), message="boom")
    edit, fix = code_actions.code_actions(_params(cursor, [problem]), True, TO_JSON)
    assert edit.command is not None and edit.command.command == commands.EDIT
    assert fix.command is not None and fix.command.command == commands.FIX
    assert fix.data["range"] == {"start": {"line": 2, "character": 0}, "end": {"line": 4, "character": 1}}
    assert fix.data["diagnostics"][0]["message"] == "boom"
    lazy = code_actions.code_actions(_params(cursor, [problem], only=[types.CodeActionKind.QuickFix]), False, TO_JSON)
    assert [a.title for a in lazy] == [code_actions.FIX_TITLE] and lazy[0].command is None
    assert code_actions.resolve(lazy[0]).command == fix.command
    assert code_actions.code_actions(_params(cursor, [], uri="untitled:1"), True, TO_JSON) == []


def test_every_command_and_handler_is_registered_from_module_level_functions() -> None:
    from amigo_lsp import features

    server = features.build_server()
    assert set(commands.ALL) <= set(server.protocol.fm.commands)
    assert {method for method, _, _ in features.FEATURES} <= set(server.protocol.fm.features)
    assert features.build_server() is not server  # handlers are not tied to one server instance
