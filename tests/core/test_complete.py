"""amigo.complete: the shape of a suggestion from the syntax tree, stop rules, prompts, cache, and the real HTTP path."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from amigo.client import Cancelled, ChatClient
from amigo.complete import (
    FIM_TEMPLATES, Completer, SuggestionCache, Timing, analyse, clean_chat_answer, cut, render_fim, route_for, whole_lines,
    window, words_ready,
)
from amigo.config import CompletionSettings, Config
from amigo.events import CompletionAcceptedEvent, CompletionRejectedEvent, CompletionShownEvent, EventBus
from helpers import RecordedModelServer, git

PY = '''def total(items):
    """Sum the prices."""
    # skip free ones
    result = sum(i.price for i in items if i.price)
    return result
'''
JS = '''function total(items) {
  const label = "sum of prices";
  // skip free ones
  return items.reduce((a, i) => a + i.price, 0);
}
'''


def at(text: str, marker: str, after: bool = True) -> int:
    return text.index(marker) + (len(marker) if after else 0)


@pytest.mark.parametrize("text, path, marker, mode", [
    (PY, "a.py", '"""Sum the', "none"),            # inside a docstring
    (PY, "a.py", "# skip", "none"),                 # inside a comment
    (PY, "a.py", "result = sum(", "line"),          # inside an expression: finish the line
    (PY, "a.py", "def total(items):", "block"),     # after a colon: the block
    (JS, "a.js", '"sum of', "none"),
    (JS, "a.js", "// skip", "none"),
    (JS, "a.js", "function total(items) {", "block"),  # after a brace
    (JS, "a.js", "items.reduce(", "line"),
])
def test_shape_comes_from_the_syntax_tree(text: str, path: str, marker: str, mode: str) -> None:
    assert analyse(text, at(text, marker), path).mode == mode


def test_asked_for_it_completes_inside_strings_and_an_empty_line_is_a_block() -> None:
    assert analyse(PY, at(PY, '"""Sum the'), "a.py", in_strings=True).mode == "line"
    text = "def f():\n    x = 1\n    \n"
    shape = analyse(text, at(text, "x = 1\n    "), "a.py")
    assert (shape.mode, shape.indent) == ("block", 4)
    assert analyse("plain words", 5, "notes.txt").mode == "line", "no grammar: no string detection, still a line"


def test_stop_rules_cut_the_stream() -> None:
    line = analyse(PY, at(PY, "result = sum("), "a.py")
    assert cut("i.price for i in items)\nprint()", line) == ("i.price for i in items)", True)
    assert cut("i.price for", line) == ("i.price for", False)
    block = analyse(PY, at(PY, "def total(items):"), "a.py")
    # the block ends where a line leaves it, or where the model repeats the file's next line
    assert cut("\n    n = 0\n    return n\ndef other():", block) == ("\n    n = 0\n    return n", True)
    assert cut("\n    n = 0\n    \"\"\"Sum the prices.\"\"\"\n", block, next_line='    """Sum the prices."""') == (
        "\n    n = 0", True)
    assert cut("\n    a\n\n\n    b", block)[1] is True, "two blank lines end a block"
    assert cut("\n" + "    x\n" * 20, block, max_lines=3) == ("\n    x\n    x", True)


def test_no_second_indentation_after_the_cursors() -> None:
    from amigo.complete import finish

    text = "def f():\n    x = 1\n    \n"
    shape = analyse(text, at(text, "x = 1\n    "), "a.py")
    assert finish(" return x", shape) == "return x", "the model repeated the space before the cursor"
    opener = analyse(PY, at(PY, "def total(items):"), "a.py")
    assert finish("\n    return 0", opener) == "\n    return 0"


def test_chat_answers_lose_fences_and_echoes() -> None:
    assert clean_chat_answer("```python\n    return x\n```", "", opens=False) == "    return x"
    assert clean_chat_answer("```pyth", "") == "", "a fence still arriving shows nothing yet"
    assert clean_chat_answer("result = sum(i.price)", "    result = ") == "sum(i.price)"
    assert clean_chat_answer("    n = 0", "def f():", opens=True) == "\n    n = 0"


def test_routes_and_templates() -> None:
    assert route_for(CompletionSettings(), "smollm2-135m-instruct").kind == "prefix"
    assert route_for(CompletionSettings(), "some-chat-model").kind == "chat"
    assert route_for(CompletionSettings(), "Qwen2.5-Coder-1.5B").label == "fim:qwen"
    assert route_for(CompletionSettings(), "bigcode/starcoder2-3b").label == "fim:starcoder"
    assert route_for(CompletionSettings(fim="codellama"), "anything").label == "fim:codellama"
    assert route_for(CompletionSettings(fim="infill"), "x").label == "infill"
    assert render_fim(FIM_TEMPLATES["qwen"], "a.py", "def f(", "):\n", "ctx") == (
        "<|file_sep|>repository context\nctx\n<|file_sep|>a.py\n<|fim_prefix|>def f(<|fim_suffix|>):\n<|fim_middle|>")
    assert render_fim(FIM_TEMPLATES["codellama"], "a.py", "a", "b", "ignored") == "<PRE> a <SUF>b <MID>"


def test_window_cuts_at_line_boundaries_within_token_budgets() -> None:
    text = "one\ntwo\nthree\nfour\nfive\n"
    assert window(text, at(text, "thr"), prefix_tokens=1, suffix_tokens=1) == ("thr", "ee\n")
    assert window(text, at(text, "thr"), prefix_tokens=100, suffix_tokens=2) == ("one\ntwo\nthr", "ee\nfour\n")
    assert window(text, 0, 10, 1000) == ("", text)
    long_line = "x = " + " + ".join(f"value_{i}" for i in range(200))
    prefix, _ = window(long_line, len(long_line), prefix_tokens=20, suffix_tokens=0)
    assert long_line.endswith(prefix) and 0 < len(prefix) < 200, "a line longer than the budget: its end"


def test_consecutive_keystrokes_send_the_same_prompt_start() -> None:
    """The model server reuses the prompt it evaluated for the last keystroke only up to the first
    difference: the window's start, the context and the layout must not move while the person types."""
    from amigo.complete import CURSOR, WINDOW_STEP, chat_messages, render_prefix

    body = "".join(f"def f{i}(a, b):\n    return a + b * {i}\n\n" for i in range(60))
    text = body + "total = f1(2, 3)\n" + body
    cursor = at(text, "total = f1(")
    shape = analyse(text, cursor, "a.py")
    first, _ = window(text, cursor, prefix_tokens=200, suffix_tokens=16)
    assert text[:cursor - len(first)].count("\n") % WINDOW_STEP == 0, "the window starts at a multiple of the step"
    previous: tuple[str, str, str] | None = None
    for typed in range(0, 30):  # the person types on, key by key
        now = text[:cursor] + "x" * typed + text[cursor:]
        prefix, suffix = window(now, cursor + typed, prefix_tokens=200, suffix_tokens=16)
        assert prefix.startswith(first), "the window's start stays put while the person types"
        prompts = (render_fim(FIM_TEMPLATES["starcoder"], "a.py", prefix, suffix, "ctx"),
                   render_prefix(prefix, "ctx"),
                   chat_messages("a.py", prefix, suffix, shape, "ctx")[-1]["content"])
        if previous is not None:
            fim, plain, chat = previous
            assert prompts[0].startswith(fim[:fim.index("<fim_suffix>")])
            assert prompts[1].startswith(plain), "the prefix route only appends"
            assert prompts[2].startswith(chat[:chat.index(CURSOR, chat.index("## File: a.py"))]), \
                "the chat prompt differs only from the cursor on"
        previous = prompts


def test_cache_serves_the_rest_while_the_suggestion_is_typed() -> None:
    from amigo.events import Suggestion

    cache = SuggestionCache(size=2)
    s = Suggestion("id1", "a.py", "python", "x = ", "", "compute(1)", "line", "chat", "[]", "m")
    cache.put("a.py", "x = ", "", s)
    assert cache.get("a.py", "x = comp") == (s, "ute(1)")
    assert cache.get("a.py", "x = cop") is None, "typed something else"
    assert cache.get("b.py", "x = comp") is None
    assert cache.get("a.py", "x = compute(1)") is None, "all typed: nothing left to suggest"
    for i in range(2):
        cache.put("a.py", f"y{i}", "", s)
    assert cache.get("a.py", "x = comp") is None, "least recently used goes first"


def _completer(url: str, repo: Path | None = None, **settings: object) -> tuple[Completer, list]:
    config = Config(endpoint=url, model="recorded", completion=CompletionSettings(**{"context_budget": 0, **settings}))  # type: ignore[arg-type]
    events: list = []
    bus = EventBus()
    bus.subscribe(events.append)
    return Completer(config, ChatClient.from_config(config), bus, repo), events


def test_fim_over_real_http_stops_the_stream_when_the_line_is_done() -> None:
    with RecordedModelServer("i.price for i in items)\n" + "x" * 400, chunk_chars=4, delay_s=0.002) as server:
        completer, events = _completer(server.base_url, fim="starcoder")
        timing = Timing()
        suggestion = completer.complete("a.py", PY, at(PY, "result = sum("), timing=timing)
        assert suggestion is not None and suggestion.text == "i.price for i in items)"
        assert suggestion.route == "fim:starcoder" and suggestion.prompt.startswith("<file_sep>a.py\n<fim_prefix>")
        [body] = server.requests
        assert body["stop"][-1] == "\n" and body["max_tokens"] == 64 and body["stream"] is True
        assert timing.first_token_s is not None and timing.tokens < 20, "the rest of the answer was never read"
        # typing the suggestion: answered from the cache, no new request
        typed = PY.replace("sum(i.price", "sum(i.pr")
        again = completer.complete("a.py", typed, at(typed, "sum(i.pr"), timing=(t2 := Timing()))
        assert again is not None and again.text == "ice for i in items)" and t2.cached and len(server.requests) == 1
        completer.shown(suggestion)
        completer.accepted(suggestion, "i.price")
        completer.rejected(suggestion, "typed-over", "x")
        assert [type(e) for e in events] == [CompletionShownEvent, CompletionAcceptedEvent, CompletionRejectedEvent]
        assert events[1].accepted == "i.price"


def test_chat_fallback_and_cancel_over_real_http() -> None:
    answer = "```python\n    n = len(items)\n    return n\n```"
    with RecordedModelServer(answer) as server:
        completer, _ = _completer(server.base_url)
        suggestion = completer.complete("a.py", PY, at(PY, "def total(items):"))
        assert suggestion is not None and suggestion.text == "\n    n = len(items)\n    return n"
        assert suggestion.route == "chat" and "<|cursor|>" in json.loads(suggestion.prompt)[-1]["content"]
        assert completer.complete("a.py", PY, at(PY, "# skip")) is None and len(server.requests) == 1
    with RecordedModelServer("a" * 200, chunk_chars=1, delay_s=0.05) as slow:
        completer, _ = _completer(slow.base_url)
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        with pytest.raises(Cancelled):
            completer.complete("a.py", PY, at(PY, "result = sum("), cancel=cancel)
        assert slow.disconnected.wait(5), "cancelling closed the HTTP stream"


def test_whole_lines_keeps_only_finished_lines_with_text() -> None:
    assert whole_lines("n = len(items)\n    ret") == ("n = len(items)", True)
    assert whole_lines("\n    n = 1\n    m = 2\n") == ("\n    n = 1\n    m = 2", True)
    assert whole_lines("n = len(ite") == ("n = len(ite", False), "no line finished yet: keep streaming"
    assert whole_lines("\n    n = le") == ("\n    n = le", False), "only the line break after the header"


BLOCK = "    n = len(items)\n    total = sum(i.price for i in items)\n    return total / n\n"


@pytest.mark.parametrize("latency_ms, shown", [
    (150, "n = len(items)"),  # over budget once the first line is done: show it now
    (0, "n = len(items)\n    total = sum(i.price for i in items)\n    return total / n"),  # no limit: the block
])
def test_a_block_suggestion_ends_at_a_whole_line_once_the_latency_budget_is_spent(latency_ms: int,
                                                                                  shown: str) -> None:
    text = "def mean(items):\n    \n"
    # ~50 ms a chunk of 4 characters: the first line is done after ~0.25 s, the block after ~0.8 s
    with RecordedModelServer(BLOCK, chunk_chars=4, delay_s=0.05) as server:
        completer, _ = _completer(server.base_url, fim="prefix", latency_ms=latency_ms)
        timing = Timing()
        suggestion = completer.complete("a.py", text, at(text, "items):\n    "), timing=timing)
        assert suggestion is not None and suggestion.mode == "block" and suggestion.text == shown
        if latency_ms:
            assert server.disconnected.wait(5), "the rest of the block was not generated"


def test_words_ready_leave_out_the_name_still_being_written() -> None:
    assert words_ready("return self._val") == "return self."
    assert words_ready("users, key=lambda u") == "users, key=lambda "
    assert words_ready("max(") == "max("
    assert words_ready("users") == "", "no whole word yet: nothing to show"


LINE_ANSWER = "users, key=lambda u: u.age)\n"


def test_a_slow_answers_words_are_handed_over_at_the_budget_and_the_whole_is_cached() -> None:
    text = "def oldest(users):\n    return max(\n"
    # 7 chunks of 4 characters, 60 ms apart: the line is whole after ~0.4 s, the budget is 0.12 s
    with RecordedModelServer(LINE_ANSWER, chunk_chars=4, delay_s=0.06) as server:
        completer, events = _completer(server.base_url, fim="prefix", latency_ms=120)
        early: list = []
        timing = Timing()
        whole = completer.complete("a.py", text, at(text, "max("), early=early.append, timing=timing)
        assert whole is not None and whole.text == "users, key=lambda u: u.age)"
        [partial] = early
        assert partial.id == whole.id, "the words shown early and the whole are one suggestion"
        assert partial.text and partial.text != whole.text and whole.text.startswith(partial.text)
        cut_at = whole.text[len(partial.text) - 1:len(partial.text) + 1]
        assert not (cut_at[0].isalnum() and cut_at[1].isalnum()), f"{partial.text!r} ends inside a name"
        assert timing.shown_s is not None and timing.shown_s < timing.total_s
        assert completer._pending is None, "nothing left pending once the generation ended"
        again = completer.complete("a.py", text, at(text, "max("))
        assert again is not None and again.text == whole.text and len(server.requests) == 1
        assert events == [], "what was shown is for the front end to say (it knows what reached the screen)"


def test_without_a_taker_for_early_words_a_line_is_whole_and_a_block_ends_at_a_whole_line() -> None:
    text = "def oldest(users):\n    return max(\n"
    with RecordedModelServer(LINE_ANSWER, chunk_chars=4, delay_s=0.06) as server:
        completer, _ = _completer(server.base_url, fim="prefix", latency_ms=120)
        whole = completer.complete("a.py", text, at(text, "max("))
        assert whole is not None and whole.text == "users, key=lambda u: u.age)"


def test_repository_context_is_built_once_per_file_so_every_prompt_there_starts_alike(repo: Path) -> None:
    """The context heads the prompt: one context for the whole file lets the model server reuse its
    evaluation from one place of the file to the next, where only the window is new."""
    (repo / "ages.py").write_text("def age_of(user):\n    \"\"\"The user's age in years.\"\"\"\n    return user.age\n")
    git(repo, "add", "ages.py")
    git(repo, "commit", "-q", "-m", "ages")
    text = "from ages import age_of\n" + (repo / "users.py").read_text() + "".join(
        f"\ndef f{i}(users):\n    return age_of(users[0]) + {i}\n" for i in range(40))
    with RecordedModelServer("users)\n") as server:
        completer, _ = _completer(server.base_url, repo, fim="prefix", context_budget=256)
        for marker in ("def f1(users):\n    return age_of(", "def f38(users):\n    return age_of("):
            completer.complete("users.py", text, at(text, marker))
        first, last = (body["prompt"] for body in server.requests)
        assert "def age_of(user)" in first and "Enclosing scope" not in first, "the file's context, not a place's"
        shared = os.path.commonprefix([first, last])
        assert shared.startswith("# Definitions of names this file uses") and "def age_of(user):" in shared, \
            "both places start with the same context"


def test_completion_feedback_is_redacted_and_exported(tmp_path: Path) -> None:
    from amigo.events import Suggestion
    from feedback.export import export
    from feedback.recorder import Recorder
    from feedback.settings import FeedbackSettings
    from feedback.store import Store

    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    store = Store(tmp_path / "fb.db")
    bus = EventBus()
    Recorder(store, "crepo", FeedbackSettings()).subscribe(bus)
    s = Suggestion("s1", "a.py", "python", f'TOKEN = "{secret}"\nx = ', "\n", "compute(1)", "line", "fim:qwen",
                   f'<|fim_prefix|>TOKEN = "{secret}"', "qwen")
    bus.publish(CompletionShownEvent(s))
    bus.publish(CompletionAcceptedEvent(s, "compute("))
    row = store.query("SELECT prefix, prompt FROM completions")[0]
    assert secret not in row["prefix"] and secret not in row["prompt"]
    result = export(store, "sft-completions", tmp_path / "sft", test_fraction=0.0)
    [record] = [json.loads(x) for x in (tmp_path / "sft" / "jsonl" / "train.jsonl").read_text().splitlines()]
    assert record["completion"] == [{"role": "assistant", "content": "compute("}]
    assert "<|cursor|>" in record["prompt"][-1]["content"] and secret not in json.dumps(record)
    assert result.manifest["counts"]["by_source"] == {"completion-accepted": 1}
    from feedback.purge import purge

    purge(store, repo_id="crepo")
    assert not store.query("SELECT * FROM completions") and not store.query("SELECT * FROM completion_events")
    store.close()
