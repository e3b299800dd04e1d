"""End-to-end LSP flow over real stdio with pytest-lsp: list, edit, review, accept, undo, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from lsp_editor import Editor, execute, wait_until
from helpers import SAMPLE_USERS, RecordedModelServer

pytestmark = pytest.mark.asyncio

EXPECTED = SAMPLE_USERS.replace(
    "def oldest(users):\n",
    'def oldest(users):\n    """The oldest user (the first one on a tie)."""\n')


def _range(l1: int, c1: int, l2: int, c2: int) -> dict:
    return {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}


async def test_code_actions_list_edit_and_fix_without_the_model(nvim_editor: Editor, repo: Path,
                                                                model: RecordedModelServer) -> None:
    editor = nvim_editor
    uri = editor.open(repo / "users.py")
    diag = types.Diagnostic(range=types.Range(types.Position(17, 4), types.Position(17, 10)),
                            message="max() arg is an empty sequence", severity=types.DiagnosticSeverity.Error)
    actions = await editor.client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(types.Position(16, 0), types.Position(18, 0)),
        context=types.CodeActionContext(diagnostics=[diag])))
    kinds = {a.kind: a for a in actions}
    assert set(kinds) == {types.CodeActionKind.RefactorRewrite, types.CodeActionKind.QuickFix}
    fix = kinds[types.CodeActionKind.QuickFix]
    assert fix.diagnostics and fix.diagnostics[0].message == "max() arg is an empty sequence"
    assert not model.requests, "listing must not call the model"
    assert fix.command is None and fix.data["amigo"] == "fix", "the command is resolved lazily"
    resolved = await editor.client.code_action_resolve_async(fix)
    assert resolved.command.command == "amigo.fix"
    assert resolved.command.arguments[0]["diagnostics"][0]["message"] == "max() arg is an empty sequence"
    only = await editor.client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.QuickFix])))
    assert list(only) == []


async def test_edit_streams_progress_and_applies_a_versioned_edit_on_accept(editor: Editor, repo: Path,
                                                                             model: RecordedModelServer) -> None:
    unsaved = SAMPLE_USERS.replace("A tiny user registry.", "A tiny user registry (unsaved).")
    uri = editor.open(repo / "users.py", text=unsaved)
    result = await execute(editor, "amigo.edit", {"uri": uri, "range": _range(16, 0, 18, 0),
                                                  "instruction": "add a docstring"}, token="edit-1")
    assert result["ok"] is True and result["applied"] is True, result
    # the server edits what the editor holds (the unsaved buffer), never the file on disk
    assert editor.text(uri) == EXPECTED.replace("A tiny user registry.", "A tiny user registry (unsaved).")
    assert (repo / "users.py").read_text() == SAMPLE_USERS
    assert "(unsaved)" in model.requests[0]["messages"][-1]["content"]
    [params] = editor.apply_requests
    [doc_edit] = params.edit.document_changes
    assert doc_edit.text_document.version == 1
    annotation = params.edit.change_annotations[doc_edit.edits[0].annotation_id]
    assert annotation.needs_confirmation is True
    kinds = [type(r).__name__ for r in editor.client.progress_reports["edit-1"]]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
    assert "WorkDoneProgressReport" in kinds
    assert "diff" in result and "+    \"\"\"The oldest user" in result["diff"]
    # undo sends the reverse edit against the current version
    undone = await execute(editor, "amigo.undo")
    assert undone["applied"] is True
    assert editor.text(uri) == unsaved
    assert editor.apply_requests[-1].edit.document_changes[0].text_document.version == 2


async def test_declined_review_is_a_reject_and_retry_gives_a_new_candidate(editor: Editor, repo: Path) -> None:
    uri = editor.open(repo / "users.py")
    editor.decline = True
    first = await execute(editor, "amigo.edit", {"uri": uri, "range": _range(16, 0, 18, 0), "instruction": "doc"})
    assert first["applied"] is False and "declined" in first["reason"]
    assert editor.text(uri) == SAMPLE_USERS
    editor.decline = False
    second = await execute(editor, "amigo.retry", {"id": first["id"]})
    assert second["applied"] is True and second["id"] != first["id"]
    assert editor.text(uri) == EXPECTED
    # the verdicts reach the feedback store through the recorder the server attached
    feedback = pytest.importorskip("feedback")
    import sqlite3

    db = feedback.db_path(None)
    await wait_until(lambda: db.exists())
    with sqlite3.connect(db) as conn:
        kinds = [row[0] for row in conn.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds == ["rejected", "retried", "accepted"], kinds


async def test_stale_version_is_refused_never_overwritten(editor: Editor, repo: Path, model: RecordedModelServer) -> None:
    import asyncio

    # 1. the buffer changes while the model streams: the server refuses to send the edit at all
    model.delay_s = 0.05
    uri = editor.open(repo / "users.py")
    task = asyncio.ensure_future(execute(editor, "amigo.edit", {"uri": uri, "range": _range(16, 0, 18, 0), "instruction": "doc"}))
    await wait_until(lambda: model.requests)
    editor.type_text(uri, SAMPLE_USERS + "# more\n")
    result = await task
    assert result.get("stale") is True and not editor.apply_requests
    assert editor.text(uri) == SAMPLE_USERS + "# more\n"
    # 2. the buffer changes between the server's applyEdit and the editor applying it: the editor refuses
    #    the stale version and the server reports it as stale, not as the person's reject
    model.delay_s = 0.0
    uri = editor.open(repo / "users.py")
    typed = SAMPLE_USERS + "\n# typed while Amigo was thinking\n"
    editor.edit_before_apply = typed
    result = await execute(editor, "amigo.edit", {"uri": uri, "range": _range(16, 0, 18, 0), "instruction": "doc"})
    assert result["applied"] is False and result.get("stale") is True, result
    assert editor.text(uri) == typed
    assert any("changed" in m.message for m in editor.client.messages)


async def test_cancel_mid_stream_through_work_done_progress(editor: Editor, repo: Path, model: RecordedModelServer) -> None:
    import asyncio

    model.delay_s = 0.2
    uri = editor.open(repo / "users.py")
    task = asyncio.ensure_future(execute(editor, "amigo.edit", {"uri": uri, "range": _range(16, 0, 18, 0),
                                                                "instruction": "doc"}, token="cancel-me"))
    await wait_until(lambda: any(type(r).__name__ == "WorkDoneProgressReport"
                                 for r in editor.client.progress_reports.get("cancel-me", [])))
    editor.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token="cancel-me"))
    result = await asyncio.wait_for(task, timeout=10)
    assert result == {"ok": False, "cancelled": True}
    assert not editor.apply_requests and editor.text(uri) == SAMPLE_USERS
    assert type(editor.client.progress_reports["cancel-me"][-1]).__name__ == "WorkDoneProgressEnd"


async def test_cancel_request_stops_the_generation(editor: Editor, repo: Path, model: RecordedModelServer) -> None:
    import asyncio

    model.delay_s = 0.2
    uri = editor.open(repo / "users.py")
    future = editor.client.protocol.send_request(types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(
        command="amigo.edit", arguments=[{"uri": uri, "range": _range(16, 0, 18, 0), "instruction": "doc"}]))
    await wait_until(lambda: model.requests)
    msg_id = next(k for k, v in editor.client.protocol._request_futures.items() if v is future)
    editor.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(Exception) as err:
        await asyncio.wait_for(asyncio.wrap_future(future), timeout=10)
    assert "cancel" in str(err.value).lower()
    await wait_until(lambda: model.streams_aborted == 1)
    assert not editor.apply_requests


async def test_model_server_down_and_bad_params_get_answers_and_the_server_keeps_serving(editor: Editor, repo: Path) -> None:
    uri = editor.open(repo / "users.py")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"amigo": {"endpoint": "http://127.0.0.1:9/v1"}}))
    result = await execute(editor, "amigo.edit", {"uri": uri, "range": _range(16, 0, 18, 0), "instruction": "doc"})
    assert result["ok"] is False and "amigo serve" in result["error"]
    assert any("cannot reach the model server" in m.message for m in editor.client.messages)
    actions = await editor.client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(types.Position(0, 0), types.Position(0, 1)),
        context=types.CodeActionContext(diagnostics=[])))
    assert actions
    # bad params get an error response (never silence)
    from pygls.exceptions import JsonRpcException

    with pytest.raises(JsonRpcException) as err:
        await execute(editor, "amigo.edit", {"uri": "file:///x.py", "range": {"start": 1}})
    assert "range.start" in str(err.value)
    with pytest.raises(JsonRpcException):
        await execute(editor, "amigo.accept", {"id": 42})
    with pytest.raises(JsonRpcException):
        await execute(editor, "amigo.nope")
    bad_settings = await execute(editor, "amigo.reject", {"id": "unknown"})
    assert bad_settings["ok"] is False


async def test_fix_sends_the_diagnostics_to_the_model(editor: Editor, repo: Path, model: RecordedModelServer) -> None:
    uri = editor.open(repo / "users.py")
    diag = {"range": _range(17, 11, 17, 14), "message": "max() arg is an empty sequence", "severity": 1, "source": "pytest"}
    result = await execute(editor, "amigo.fix", {"uri": uri, "range": _range(17, 0, 17, 0), "diagnostics": [diag]})
    assert result["applied"] is True and editor.text(uri) == EXPECTED
    prompt = "\n".join(m["content"] for m in model.requests[0]["messages"])
    assert "max() arg is an empty sequence" in prompt and "Fix this bug" in prompt


async def test_client_review_mode_accept_and_reject(repo: Path, model: RecordedModelServer) -> None:
    import os

    from lsp_answers import options_for
    from lsp_editor import start_editor

    ed = await start_editor(repo, options_for(model.base_url, review="client"), env=dict(os.environ))
    try:
        uri = ed.open(repo / "users.py")
        first = await execute(ed, "amigo.edit", {"uri": uri, "range": _range(16, 0, 18, 0), "instruction": "doc"})
        assert first["ok"] and "applied" not in first and first["edit"]["documentChanges"][0]["textDocument"]["version"] == 1
        assert not ed.apply_requests and ed.text(uri) == SAMPLE_USERS, "nothing applies before amigo.accept"
        assert (await execute(ed, "amigo.reject", {"id": first["id"]}))["ok"] is True
        assert (await execute(ed, "amigo.accept", {"id": first["id"]}))["ok"] is False, "a rejected proposal stays rejected"
        second = await execute(ed, "amigo.edit", {"uri": uri, "range": _range(16, 0, 18, 0), "instruction": "doc"})
        accepted = await execute(ed, "amigo.accept", {"id": second["id"]})
        assert accepted["applied"] is True and ed.text(uri) == EXPECTED
    finally:
        await ed.client.shutdown_session()
        await ed.client.stop()


async def test_a_change_that_fails_its_checks_says_so_in_the_label_and_a_message(editor: Editor, repo: Path,
                                                                                  model: RecordedModelServer) -> None:
    model.answer = ("users.py\n<<<<<<< SEARCH\n    return max(users, key=lambda u: u.age)\n=======\n"
                    "    return max(users, key=lambda u: u.age))\n>>>>>>> REPLACE\n")
    uri = editor.open(repo / "users.py")
    editor.decline = True
    result = await execute(editor, "amigo.edit", {"uri": uri, "range": _range(16, 0, 18, 0),
                                                  "instruction": "return None for no users"})
    assert len(model.requests) == 3  # the first answer and two repairs, each told the problem
    assert "introduces a syntax error" in model.requests[1]["messages"][-1]["content"]
    assert result["findings"] and "line 18" in result["findings"][0]
    [params] = editor.apply_requests
    assert params.label.startswith("Amigo: return None for no users (CHECKS FAILED: introduces a syntax error")
    assert any("fails its checks" in m.message for m in editor.client.messages)
    assert editor.text(uri) == SAMPLE_USERS  # declined: nothing written
