"""Inline completion against the real embedded model (llama.cpp + SmolLM2-135M), over real stdio.

A 135M model's words cannot be asserted exactly (the recorded-answer tests do
that); this checks the real path: the model server is asked through
/v1/completions (the text before the cursor, left to right) and through the
chat fallback, a suggestion comes back shaped by the stop rules (one line
inside an expression), and the shown and accepted events reach the store.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lsprotocol import types

from lsp_editor import execute, start_editor, wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.model, pytest.mark.slow]

TYPED = "    return max(users, key="


@pytest.mark.parametrize("fim", ["prefix", "none"])
async def test_inline_suggestion_from_the_embedded_model(repo: Path, model_server: str, fim: str) -> None:
    options = {"endpoint": model_server, "contextBudget": 0,
               "completion": {"fim": fim, "debounceMs": 0, "maxTokens": 24, "contextBudget": 64}}
    editor = await start_editor(repo, options, env=dict(os.environ))
    try:
        text = (repo / "users.py").read_text().replace("    return max(users, key=lambda u: u.age)", TYPED)
        uri = editor.open(repo / "users.py", text)
        result = await editor.client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(17, len(TYPED))))
        if fim == "none" and (result is None or not result.items):
            pytest.skip("the 135M chat model suggested nothing here (its chat answers vary; the prefix route must answer)")
        assert result is not None and result.items, "the text before the cursor, continued, gives a suggestion"
        [item] = result.items
        assert "\n" not in item.insert_text, "inside an expression the suggestion is one line"
        assert item.insert_text.strip()
        assert (await execute(editor, item.command.command, *item.command.arguments))["ok"] is True

        from feedback.settings import db_path
        from feedback.store import Store

        def recorded() -> list[tuple[str, str]]:
            with Store(db_path(None)) as store:
                return [(r[0], r[1]) for r in store.query(
                    "SELECT e.kind, c.route FROM completion_events e JOIN completions c ON c.id = e.completion_id "
                    "ORDER BY e.id")]

        await wait_until(lambda: len(recorded()) == 2)
        route = "prefix" if fim == "prefix" else "chat"
        assert recorded() == [("shown", route), ("accepted", route)]
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()


async def test_the_embedded_models_first_words_then_the_whole_suggestion(repo: Path, model_server: str) -> None:
    """A latency budget of 1 ms: the real model's first words are answered as soon as a word is whole
    (``more``), and asking again at the place gets the whole line, which starts with them."""
    options = {"endpoint": model_server, "contextBudget": 0,
               "completion": {"fim": "prefix", "debounceMs": 0, "maxTokens": 24, "contextBudget": 64, "latencyMs": 1}}
    editor = await start_editor(repo, options, env=dict(os.environ))
    try:
        text = (repo / "users.py").read_text().replace("    return max(users, key=lambda u: u.age)", TYPED)
        uri = editor.open(repo / "users.py", text)
        params = types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(17, len(TYPED)))
        first = await editor.client.text_document_inline_completion_async(params)
        assert first is not None and first.items, "the text before the cursor, continued, gives a suggestion"
        args = first.items[0].command.arguments[0]
        if not args.get("more"):
            pytest.skip("the model's line was whole with its first word (nothing left to come)")
        again = await editor.client.text_document_inline_completion_async(params)
        assert again is not None and again.items
        whole = again.items[0].insert_text
        assert whole.startswith(first.items[0].insert_text) and whole != first.items[0].insert_text
        assert "\n" not in whole and again.items[0].command.arguments[0]["id"] == args["id"]
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()
