"""Inline completion over real stdio: advertised, debounced, cancelled on typing, cached, and every verdict recorded.

The model is a recorded-answer HTTP server (real SSE, real sockets), so the
suggestions can be asserted exactly; the feedback is read back from the real
SQLite store the server wrote.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
from lsprotocol import types

from helpers import RecordedModelServer
from lsp_answers import options_for
from lsp_editor import Editor, execute, start_editor, wait_until

pytestmark = pytest.mark.asyncio

LINE = "    return max(users, key=lambda u: u.age)"
CURSOR_LINE = 17  # zero-based: the body line of oldest()
TYPED_SO_FAR = "    return max("
FIM_ANSWER = "users, key=lambda u: u.age)\n\nprint('never shown: the line ends at the line break')"


def _text_with(repo: Path, line: str) -> str:
    """users.py with oldest()'s body line replaced by ``line`` (what the person has typed so far)."""
    return (repo / "users.py").read_text().replace(LINE, line)


@pytest.fixture
def fim_model() -> Iterator[RecordedModelServer]:
    with RecordedModelServer(FIM_ANSWER) as server:
        yield server


async def _start(repo: Path, model: RecordedModelServer, **completion: Any) -> Editor:
    # whole suggestions unless a test is about the words shown early (a loaded machine is slow enough for them)
    settings = {"fim": "starcoder", "debounceMs": 0, "contextBudget": 0, "latencyMs": 0, **completion}
    return await start_editor(repo, options_for(model.base_url, completion=settings), env=dict(os.environ))


@pytest_asyncio.fixture
async def fim_editor(repo: Path, fim_model: RecordedModelServer) -> AsyncIterator[Editor]:
    editor = await _start(repo, fim_model)
    yield editor
    await editor.client.shutdown_session()
    await editor.client.stop()


def _params(uri: str, line: int, character: int, invoked: bool = False) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    return types.InlineCompletionParams(context=types.InlineCompletionContext(trigger_kind=kind),
                                        text_document=types.TextDocumentIdentifier(uri=uri),
                                        position=types.Position(line=line, character=character))


async def _ask(editor: Editor, uri: str, line: int, character: int, invoked: bool = False) -> Any:
    return await editor.client.text_document_inline_completion_async(_params(uri, line, character, invoked))


def _feedback() -> list[tuple[str, str, dict]]:
    """(suggestion, event kind, event data) rows from the store the server wrote."""
    from feedback.settings import db_path
    from feedback.store import Store

    with Store(db_path(None)) as store:
        rows = store.query("SELECT c.suggestion, e.kind, e.data FROM completion_events e "
                           "JOIN completions c ON c.id = e.completion_id ORDER BY e.id")
        return [(r[0], r[1], json.loads(r[2])) for r in rows]


async def _wait_feedback(count: int) -> list[tuple[str, str, dict]]:
    rows: list = []

    def enough() -> bool:
        nonlocal rows
        try:
            rows = _feedback()
        except Exception:  # noqa: BLE001 - the database may not exist yet
            return False
        return len(rows) >= count

    await wait_until(enough)
    return rows


async def test_advertised_fim_line_suggestion_and_accept_recorded(fim_editor: Editor, repo: Path,
                                                                  fim_model: RecordedModelServer) -> None:
    editor = fim_editor
    caps = editor.init.capabilities
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is None, "classic completion items are off by default"
    assert "amigo.completionAccepted" in caps.execute_command_provider.commands
    uri = editor.open(repo / "users.py", _text_with(repo, TYPED_SO_FAR))
    result = await _ask(editor, uri, CURSOR_LINE, len(TYPED_SO_FAR))
    [item] = result.items
    assert item.insert_text == "users, key=lambda u: u.age)"  # one line: the cursor is inside an expression
    assert item.range.start == types.Position(CURSOR_LINE, len(TYPED_SO_FAR))
    [request] = fim_model.requests
    assert request["prompt"].startswith("<file_sep>users.py\n<fim_prefix>")
    assert request["prompt"].endswith("<fim_middle>") and "<fim_suffix>" in request["prompt"]
    assert "\n" in request["stop"] and request["max_tokens"] == 64
    # the client inserts the text, then runs the item's command
    editor.type_text(uri, _text_with(repo, LINE))
    assert (await execute(editor, item.command.command, *item.command.arguments))["ok"] is True
    rows = await _wait_feedback(2)
    assert [(kind, data.get("accepted")) for _, kind, data in rows] == [
        ("shown", None), ("accepted", "users, key=lambda u: u.age)")]


async def test_nothing_inside_strings_or_comments_unless_asked(fim_editor: Editor, repo: Path,
                                                               fim_model: RecordedModelServer) -> None:
    text = (repo / "users.py").read_text()
    uri = fim_editor.open(repo / "users.py", text)
    # inside the docstring of load_users (zero-based line 12, after 'Build')
    assert await _ask(fim_editor, uri, 12, 13) is None
    assert not fim_model.requests, "the model is not asked inside a string"
    asked = await _ask(fim_editor, uri, 12, 13, invoked=True)
    assert asked.items and len(fim_model.requests) == 1, "an explicit request completes anywhere"


async def test_debounce_asks_once_for_a_burst_of_keystrokes(repo: Path, fim_model: RecordedModelServer) -> None:
    editor = await _start(repo, fim_model, debounceMs=300)
    try:
        uri = editor.open(repo / "users.py", _text_with(repo, "    return m"))
        assert (await _ask(editor, uri, CURSOR_LINE, len("    return m"))).items  # the place's first: at once
        fim_model.requests.clear()
        burst = []
        for typed in ("    return ma", "    return max", "    return max("):
            editor.type_text(uri, _text_with(repo, typed))
            burst.append(asyncio.ensure_future(_ask(editor, uri, CURSOR_LINE, len(typed))))
            await asyncio.sleep(0.05)
        results = await asyncio.gather(*burst)
        assert results[:2] == [None, None], "superseded keystrokes answer nothing"
        assert results[2].items[0].insert_text == "users, key=lambda u: u.age)"
        assert len(fim_model.requests) == 1, "only the last keystroke of the burst reaches the model"
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()


async def test_the_first_keystroke_at_a_new_place_asks_at_once_typing_on_is_debounced(
        repo: Path, fim_model: RecordedModelServer) -> None:
    """A new place's prompt is new to the model server: evaluating it while the person types on is
    what makes their last keystroke quick, so it is not debounced; the keystrokes after it are."""
    editor = await _start(repo, fim_model, debounceMs=3000)
    try:
        users = editor.open(repo / "users.py", _text_with(repo, TYPED_SO_FAR))
        assert (await _ask(editor, users, CURSOR_LINE, len(TYPED_SO_FAR))).items
        (repo / "more.py").write_text("def youngest(users):\n    return m\n")
        other = editor.open(repo / "more.py", "def youngest(users):\n    return m\n")
        burst = []
        for n, typed in enumerate(("    return mi", "    return min", "    return min(")):
            editor.type_text(other, f"def youngest(users):\n{typed}\n")
            burst.append(asyncio.ensure_future(_ask(editor, other, 1, len(typed))))
            if n == 0:  # well within the debounce: only a request not debounced gets there
                await wait_until(lambda: len(fim_model.requests) == 2, timeout=2.0)
        await asyncio.gather(*burst)
        prompts = [body["prompt"] for body in fim_model.requests]
        assert len(prompts) == 3, "users.py, more.py's first keystroke (at once), its last (debounced)"
        assert "    return mi<fim_suffix>" in prompts[1] and "    return min(<fim_suffix>" in prompts[2]
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()


async def test_typing_on_cancels_the_stream_and_cancel_request_too(repo: Path) -> None:
    with RecordedModelServer("users, key=lambda u: u.age)\n", delay_s=0.15, chunk_chars=4) as slow:
        editor = await _start(repo, slow)
        try:
            uri = editor.open(repo / "users.py", _text_with(repo, "    return max"))
            first = asyncio.ensure_future(_ask(editor, uri, CURSOR_LINE, len("    return max")))
            await wait_until(lambda: len(slow.requests) == 1)
            editor.type_text(uri, _text_with(repo, TYPED_SO_FAR))
            second = await _ask(editor, uri, CURSOR_LINE, len(TYPED_SO_FAR))
            assert await first is None, "the request for the old text answers nothing"
            assert second.items[0].insert_text == "users, key=lambda u: u.age)"
            await wait_until(lambda: slow.disconnected.is_set())
            assert slow.streams_aborted == 1, "the old generation's HTTP stream was closed"
            # $/cancelRequest for a request that is generating closes its stream as well
            slow.disconnected = threading.Event()
            editor.type_text(uri, _text_with(repo, "    return max(x"))  # not what was suggested: ask again
            msg_id = str(uuid.uuid4())
            future = editor.client.protocol.send_request(
                types.TEXT_DOCUMENT_INLINE_COMPLETION, _params(uri, CURSOR_LINE, len("    return max(x")), msg_id=msg_id)
            await wait_until(lambda: len(slow.requests) == 3)
            editor.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
            await wait_until(lambda: slow.disconnected.is_set())
            assert slow.streams_aborted == 2
            try:  # pygls answers a cancelled request with a RequestCancelled error
                assert await asyncio.wait_for(asyncio.wrap_future(future), 5) is None
            except Exception as exc:  # noqa: BLE001
                assert "cancel" in str(exc).lower()
        finally:
            await editor.client.shutdown_session()
            await editor.client.stop()


async def test_keystrokes_while_the_model_is_busy_ask_it_once_it_is_free(repo: Path) -> None:
    """A local server computes one request at a time: the keystrokes typed while it works are not
    queued behind it; only the newest asks, once the cancelled request has ended."""
    with RecordedModelServer("users, key=lambda u: u.age)\n", delay_s=0.15, chunk_chars=4) as slow:
        editor = await _start(repo, slow)  # no debounce: every keystroke would ask at once
        try:
            uri = editor.open(repo / "users.py", _text_with(repo, "    return m"))
            asked = [asyncio.ensure_future(_ask(editor, uri, CURSOR_LINE, len("    return m")))]
            await wait_until(lambda: len(slow.requests) == 1)
            for typed in ("    return ma", "    return max", TYPED_SO_FAR):
                editor.type_text(uri, _text_with(repo, typed))
                asked.append(asyncio.ensure_future(_ask(editor, uri, CURSOR_LINE, len(typed))))
                await asyncio.sleep(0.02)
            results = await asyncio.gather(*asked)
            assert results[:3] == [None, None, None]
            assert results[3].items[0].insert_text == "users, key=lambda u: u.age)"
            assert len(slow.requests) == 2, "the keystrokes in between never reached the model"
            assert f"{TYPED_SO_FAR}<fim_suffix>" in slow.requests[1]["prompt"]
            assert slow.streams_aborted == 1
        finally:
            await editor.client.shutdown_session()
            await editor.client.stop()


async def test_typing_the_suggestion_uses_the_cache_then_counts_as_accepted(fim_editor: Editor, repo: Path,
                                                                           fim_model: RecordedModelServer) -> None:
    uri = fim_editor.open(repo / "users.py", _text_with(repo, TYPED_SO_FAR))
    await _ask(fim_editor, uri, CURSOR_LINE, len(TYPED_SO_FAR))
    typed = TYPED_SO_FAR + "users, "
    fim_editor.type_text(uri, _text_with(repo, typed))
    rest = await _ask(fim_editor, uri, CURSOR_LINE, len(typed))
    assert rest.items[0].insert_text == "key=lambda u: u.age)"
    assert len(fim_model.requests) == 1, "typing what was suggested does not ask again"
    fim_editor.type_text(uri, _text_with(repo, LINE))
    await _ask(fim_editor, uri, CURSOR_LINE, len(LINE))  # the next keystroke settles it
    rows = await _wait_feedback(2)
    assert [(kind, data.get("accepted")) for _, kind, data in rows][:2] == [
        ("shown", None), ("accepted", "users, key=lambda u: u.age)")]


async def test_typed_over_is_a_reject_with_what_was_written_and_exports_a_pair(
        fim_editor: Editor, repo: Path, tmp_path: Path) -> None:
    uri = fim_editor.open(repo / "users.py", _text_with(repo, TYPED_SO_FAR))
    await _ask(fim_editor, uri, CURSOR_LINE, len(TYPED_SO_FAR))
    mine = "    return max(users, key=lambda u: (u.age, u.name))"
    fim_editor.type_text(uri, _text_with(repo, mine + "\n    "))  # the person wrote their own line and went on
    await _ask(fim_editor, uri, CURSOR_LINE + 1, 4)
    rows = await _wait_feedback(2)
    shown, rejected = rows[0], rows[1]
    assert shown[1] == "shown"
    assert rejected[1] == "rejected" and rejected[2]["reason"] == "typed-over"
    assert rejected[2]["typed"] == "users, key=lambda u: (u.age, u.name))"

    from feedback.export import export
    from feedback.settings import db_path
    from feedback.store import Store

    with Store(db_path(None)) as store:
        result = export(store, "dpo-completions", tmp_path / "dpo", test_fraction=0.0)
    [pair] = [json.loads(line) for line in (tmp_path / "dpo" / "jsonl" / "train.jsonl").read_text().splitlines()]
    assert result.manifest["counts"]["by_source"] == {"completion-typed": 1}
    assert pair["chosen"][0]["content"] == "users, key=lambda u: (u.age, u.name))"
    assert pair["rejected"][0]["content"] == "users, key=lambda u: u.age)"
    assert "<|cursor|>" in pair["prompt"][-1]["content"]


WHOLE = "users, key=lambda u: u.age)"


def _early(result: Any) -> str:
    """The words of a suggestion answered before it was whole (its command says ``more``)."""
    [item] = result.items
    args = item.command.arguments[0]
    assert args["more"] is True and args["accepted"] == item.insert_text, "accepting it takes just these words"
    assert item.insert_text and item.insert_text != WHOLE and WHOLE.startswith(item.insert_text)
    return item.insert_text


async def test_a_slow_models_first_words_come_early_and_the_rest_when_asked_again(repo: Path) -> None:
    """Past ``latencyMs`` the words ready are answered; the generation goes on, and the editor's
    next request at that place (Amigo's clients ask again at once) gets the whole suggestion
    without a second model request. The feedback records it once, whole."""
    with RecordedModelServer(WHOLE + "\n", delay_s=0.08, chunk_chars=4) as slow:  # ~0.6 s for the line
        editor = await _start(repo, slow, latencyMs=150)
        try:
            uri = editor.open(repo / "users.py", _text_with(repo, TYPED_SO_FAR))
            _early(await _ask(editor, uri, CURSOR_LINE, len(TYPED_SO_FAR)))
            rest = await _ask(editor, uri, CURSOR_LINE, len(TYPED_SO_FAR))
            assert rest.items[0].insert_text == WHOLE
            assert rest.items[0].command.arguments[0] == {"id": rest.items[0].command.arguments[0]["id"]}
            assert len(slow.requests) == 1 and slow.streams_aborted == 0
            editor.type_text(uri, _text_with(repo, LINE))
            await _ask(editor, uri, CURSOR_LINE, len(LINE))  # the next keystroke settles it
            rows = await _wait_feedback(2)
            assert [(text, kind, data.get("accepted")) for text, kind, data in rows][:2] == [
                (WHOLE, "shown", None), (WHOLE, "accepted", WHOLE)]
        finally:
            await editor.client.shutdown_session()
            await editor.client.stop()


async def test_typing_the_early_words_waits_for_the_rest_typing_else_stops_it(repo: Path) -> None:
    with RecordedModelServer(WHOLE + "\n", delay_s=0.08, chunk_chars=4) as slow:
        editor = await _start(repo, slow, latencyMs=150)
        try:
            uri = editor.open(repo / "users.py", _text_with(repo, TYPED_SO_FAR))
            _early(await _ask(editor, uri, CURSOR_LINE, len(TYPED_SO_FAR)))
            typed = TYPED_SO_FAR + "u"  # the first letter of what is shown
            editor.type_text(uri, _text_with(repo, typed))
            rest = await _ask(editor, uri, CURSOR_LINE, len(typed))
            assert rest.items[0].insert_text == WHOLE[1:]
            assert len(slow.requests) == 1 and slow.streams_aborted == 0, "the generation under way was kept"
            # elsewhere, words shown early whose rest is still coming: a keystroke typing something else stops it
            editor.type_text(uri, _text_with(repo, "    return min("))
            _early(await _ask(editor, uri, CURSOR_LINE, len("    return min(")))
            editor.type_text(uri, _text_with(repo, "    return min(x"))
            asked = asyncio.ensure_future(_ask(editor, uri, CURSOR_LINE, len("    return min(x")))
            await wait_until(lambda: slow.streams_aborted == 1)
            await asked
            assert len(slow.requests) == 3
        finally:
            await editor.client.shutdown_session()
            await editor.client.stop()


async def test_a_suggestion_left_alone_times_out_as_rejected(repo: Path, fim_model: RecordedModelServer) -> None:
    editor = await _start(repo, fim_model, rejectAfterS=0.3)
    try:
        uri = editor.open(repo / "users.py", _text_with(repo, TYPED_SO_FAR))
        assert (await _ask(editor, uri, CURSOR_LINE, len(TYPED_SO_FAR))).items
        rows = await _wait_feedback(2)
        assert [(kind, data.get("reason")) for _, kind, data in rows] == [("shown", None), ("rejected", "timeout")]
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()


async def test_chat_fallback_block_after_a_colon_and_classic_items_when_asked(repo: Path) -> None:
    answer = "```python\n    if not users:\n        return None\n    return users[0]\n\ndef other():\n```"
    with RecordedModelServer(answer) as chat:
        editor = await _start(repo, chat, fim="none", classicItems=True)
        try:
            assert editor.init.capabilities.completion_provider is not None
            text = _text_with(repo, "").replace("def oldest(users):\n\n", "def oldest(users):\n")
            uri = editor.open(repo / "users.py", text)
            line = text.splitlines().index("def oldest(users):")
            result = await _ask(editor, uri, line, len("def oldest(users):"))
            assert result.items[0].insert_text == "\n    if not users:\n        return None\n    return users[0]"
            assert "messages" in chat.requests[0] and "<|cursor|>" in chat.requests[0]["messages"][-1]["content"]
            items = await editor.client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=len("def oldest(users):"))))
            [item] = items if isinstance(items, list) else items.items
            assert item.insert_text.endswith("return users[0]") and item.detail == "Amigo"
        finally:
            await editor.client.shutdown_session()
            await editor.client.stop()


async def test_classic_items_wait_for_the_whole_suggestion(repo: Path) -> None:
    """A menu item is inserted as it is and no client asks again for its rest: never the words early."""
    with RecordedModelServer(WHOLE + "\n", delay_s=0.08, chunk_chars=4) as slow:
        editor = await _start(repo, slow, classicItems=True, latencyMs=150)
        try:
            uri = editor.open(repo / "users.py", _text_with(repo, TYPED_SO_FAR))
            items = await editor.client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=CURSOR_LINE, character=len(TYPED_SO_FAR))))
            [item] = items if isinstance(items, list) else items.items
            assert item.insert_text == WHOLE and "more" not in item.command.arguments[0]
        finally:
            await editor.client.shutdown_session()
            await editor.client.stop()
