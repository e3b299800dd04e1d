"""The whole LSP flow against the real embedded model (llama.cpp + SmolLM2-135M).

A 135M model's answer cannot be asserted word for word (the recorded-answer
tests do that); this checks the real path end to end: progress streams real
tokens, a proposal comes back, and it either reaches the editor as a
versioned applyEdit that lands (and undoes) or is reported as unusable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lsp_editor import execute, start_editor

pytestmark = [pytest.mark.asyncio, pytest.mark.model, pytest.mark.slow]


async def test_edit_against_the_embedded_model(repo: Path, model_server: str) -> None:
    options = {"endpoint": model_server, "editFormat": "whole", "maxTokens": 160, "contextBudget": 256, "decoding": "free"}
    editor = await start_editor(repo, options, env=dict(os.environ))
    try:
        uri = editor.open(repo / "users.py")
        original = editor.text(uri)
        result = await execute(editor, "amigo.edit", {
            "uri": uri, "range": {"start": {"line": 16, "character": 0}, "end": {"line": 18, "character": 0}},
            "instruction": "add a docstring to oldest"}, token="real-1")
        assert isinstance(result.get("id"), str), result
        reports = editor.client.progress_reports["real-1"]
        assert type(reports[0]).__name__ == "WorkDoneProgressBegin"
        assert any(type(r).__name__ == "WorkDoneProgressReport" and "tokens" in (r.message or "") for r in reports)
        assert type(reports[-1]).__name__ == "WorkDoneProgressEnd"
        if result["ok"]:
            assert result["applied"] is True and editor.apply_requests
            assert editor.text(uri) != original
            assert (await execute(editor, "amigo.undo"))["applied"] is True
            assert editor.text(uri) == original
        else:
            assert result["errors"] and any("Retry" in m.message for m in editor.client.messages)
            assert editor.text(uri) == original
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()
