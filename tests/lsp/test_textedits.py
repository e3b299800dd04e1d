"""Pure LSP text arithmetic: minimal line edits always reproduce the new text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from amigo_lsp.commands import parse_diagnostics, parse_edit
from amigo_lsp.settings import EditorSettings, parse_settings
from amigo_lsp.textedits import apply_line_edits, char_len, line_edits, offset_at, selection_lines
from amigo_lsp.textedits import split_lsp_lines as split_lines
from amigo.config import Config
from amigo.errors import ConfigError

import pytest
from pygls.exceptions import JsonRpcInvalidParams

lines = st.lists(st.sampled_from(["a\n", "b\n", "\n", "x = 1\r\n", "\u00e9\U0001f600\n", "c", "\r", "tab\tend\n"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(old=lines, new=lines, encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_line_edits_turn_old_into_new(old: list[str], new: list[str], encoding: str) -> None:
    a, b = "".join(old), "".join(new)
    assert apply_line_edits(a, line_edits(a, b, encoding), encoding) == b


def test_lines_split_only_at_lsp_line_ends() -> None:
    assert split_lines("a\u2028b\x0cc\r\nd\re\n") == ["a\u2028b\x0cc\r\n", "d\r", "e\n"]
    assert char_len("\U0001f600", "utf-16") == 2 and char_len("\U0001f600", "utf-8") == 4


def test_edit_at_the_end_of_a_file_without_final_newline_uses_the_encoding() -> None:
    [edit] = line_edits("a\n\U0001f600", "a\nb\n", "utf-16")
    assert (edit.start.line, edit.start.character, edit.end.line, edit.end.character) == (1, 0, 1, 2)


def test_selection_lines() -> None:
    assert selection_lines(16, 0, 18, 0) == (17, 18)
    assert selection_lines(3, 2, 3, 2) is None
    assert selection_lines(5, 4, 2, 0) == (3, 6)


def test_settings_map_and_refuse_bad_values() -> None:
    parsed = parse_settings({"endpoint": "http://h:1/v1", "maxTokens": 5, "model": None, "review": "client"})
    assert parsed.review == "client"
    config = parsed.apply(Config())
    assert (config.endpoint, config.max_tokens) == ("http://h:1/v1", 5)
    assert parse_settings({"max_tokens": 7}).apply(Config()).max_tokens == 7
    with pytest.raises(ConfigError, match="maxTokens' must be an integer"):
        parse_settings({"maxTokens": "5"})
    with pytest.raises(ConfigError, match="unknown setting 'amigo.colour'"):
        parse_settings({"colour": 1})
    with pytest.raises(ConfigError, match="edit_format"):
        parse_settings({"editFormat": "poem"}).apply(Config())
    assert parse_settings(None, EditorSettings(review="client")).review == "client"


def test_command_arguments_are_checked() -> None:
    args = parse_edit("amigo.fix", [{"uri": "file:///r/a.py", "diagnostics": [
        {"range": {"start": {"line": 4, "character": 0}, "end": {"line": 5, "character": 1}}, "message": "boom", "severity": 2}]}])
    assert args.instruction == "Fix this bug"
    assert (args.diagnostics[0].start_line, args.diagnostics[0].end_line, args.diagnostics[0].severity) == (5, 6, "warning")
    with pytest.raises(JsonRpcInvalidParams, match="needs an instruction"):
        parse_edit("amigo.edit", [{"uri": "file:///r/a.py"}])
    with pytest.raises(JsonRpcInvalidParams, match="file: URI"):
        parse_edit("amigo.edit", [{"uri": "http://x", "instruction": "y"}])
    with pytest.raises(JsonRpcInvalidParams, match=r"diagnostics\[0\]"):
        parse_diagnostics([{"message": 3}])


def test_offset_at_counts_in_the_negotiated_encoding() -> None:
    text = "a\U0001f600b\r\nxy\n"
    assert offset_at(text, 0, 3) == 2, "the emoji is two UTF-16 units"
    assert offset_at(text, 0, 3, "utf-32") == 3
    assert offset_at(text, 0, 99) == 3, "clamped to the end of the line, before its CRLF"
    assert offset_at(text, 1, 1) == text.index("y")
    assert offset_at(text, 9, 0) == len(text)


def test_completion_settings_nest_under_completion() -> None:
    settings = parse_settings({"completion": {"debounceMs": 40, "inStrings": True}})
    config = settings.apply(Config())
    assert (config.completion.debounce_ms, config.completion.in_strings) == (40, True)
    with pytest.raises(ConfigError, match="amigo.completion.debounce"):
        parse_settings({"completion": {"debounce": 1}})
    with pytest.raises(ConfigError, match="true or false"):
        parse_settings({"completion": {"inStrings": "yes"}})
