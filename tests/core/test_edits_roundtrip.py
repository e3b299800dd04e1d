"""Property: applying render(old, new) to old gives new, byte for byte."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amigo import edits
from amigo.edits.apply import apply_blocks_text
from amigo.edits.render import render_planned

LINE_POOL = [
    "", "    ", "x = 1", "    return x", "\treturn y\t", "}", "def f():", "# ünïcødé ✓ 日本",
    "=======", "<<<<<<< SEARCH", ">>>>>>> REPLACE", "...", "    ...", "a\rb", "\x0bform\x0c",
    "\u2028sep", "\\ No newline at end of file", "```", "```python", "x.py", "**x.py**",
]

line_text = st.one_of(st.sampled_from(LINE_POOL), st.text(max_size=12).map(lambda s: s.replace("\n", "")))
ending = st.sampled_from(["\n", "\n", "\n", "\r\n"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.tuples(line_text, ending), max_size=25))
    text = "".join(content + end for content, end in lines)
    if text and draw(st.booleans()):
        text = text[: -2 if text.endswith("\r\n") else -1]  # no final newline
    return text


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str]:
    old = draw(texts())
    if draw(st.integers(0, 4)) == 0:
        return old, draw(texts())
    lines = old.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["ins", "del", "rep"]))
        i = draw(st.integers(0, len(lines)))
        new_line = draw(line_text) + draw(st.sampled_from(["", "\r"]))
        if op == "ins":
            lines.insert(i, new_line)
        elif lines and i < len(lines):
            if op == "del":
                del lines[i]
            else:
                lines[i] = new_line
    return old, "\n".join(lines)


def roundtrip(old: str, new: str) -> None:
    if old.startswith("\ufeff") and not new.startswith("\ufeff"):
        return  # a byte order mark is the file's encoding: blocks keep it, so removing one has no blocks
    planned = render_planned(old, new, "pkg/mod.py")  # render() without its safety net
    assert apply_blocks_text(old, planned) == new, planned
    answer = edits.render(old, new, "pkg/mod.py")
    assert answer == planned
    parsed = edits.parse_blocks(answer)
    assert not parsed.errors and not parsed.prose
    assert all(b.path == "pkg/mod.py" for b in parsed.blocks)
    result = edits.apply_answer(answer, {"pkg/mod.py": old or None}, "pkg/mod.py")
    if old != new:
        assert result.errors == () and result.new_texts == {"pkg/mod.py": new}, result
        assert set(result.tiers) == {"exact"}


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs())
def test_render_roundtrip_property(pair: tuple[str, str]) -> None:
    roundtrip(*pair)


@pytest.mark.parametrize(
    "old,new",
    [
        ("", ""), ("", "a"), ("", "a\n"), ("a", ""), ("a\n", ""), ("a", "a\n"), ("a\n", "a"),
        ("a\r\nb\r\n", "a\r\nc\r\n"), ("a\r\nb", "a\r\nb\r\n"), ("x\r", "y\r"), ("x\r", "x"),
        ("x\n" * 10, "x\n" * 9 + "y\n" + "x\n"), ("\n\n\n", "\n\n"), ("\ta\n", "\t\ta\n"),
        ("=======\n", "=======\n=======\n"), ("a\n", "a\n<<<<<<< SEARCH\n"),
        ("é\u2028\n", "é\u2029\n"), ("a\nb\n", "a\r\nb\n"),
    ],
)
def test_render_roundtrip_edge_cases(old: str, new: str) -> None:
    roundtrip(old, new)


def test_render_of_equal_texts_is_empty() -> None:
    assert edits.render("a\n", "a\n", "x.py") == ""


def test_render_grows_context_until_unique() -> None:
    old = "def a():\n    return 1\n\ndef b():\n    return 1\n"
    new = "def a():\n    return 1\n\ndef b():\n    return 2\n"
    answer = edits.render(old, new, "m.py")
    block = edits.parse_blocks(answer).blocks[0]
    assert block.search == "def b():\n    return 1\n"
    assert block.replace == "def b():\n    return 2\n"


def test_render_is_minimal_for_one_line_change() -> None:
    old = "".join(f"line {i}\n" for i in range(100))
    new = old.replace("line 50\n", "LINE 50\n")
    blocks = edits.parse_blocks(edits.render(old, new, "m.txt")).blocks
    assert [(b.search, b.replace) for b in blocks] == [("line 50\n", "LINE 50\n")]


def _git_file_pairs(limit: int) -> list[tuple[str, str, str]]:
    """(path, old, new) for files changed in this repository's recent history."""
    root = Path(__file__).resolve().parents[2]
    try:
        log = subprocess.run(
            ["git", "-C", str(root), "log", "--format=%H", "-n", "40"],
            capture_output=True, text=True, check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return []
    out: list[tuple[str, str, str]] = []
    for sha in log:
        names = subprocess.run(
            ["git", "-C", str(root), "diff", "--name-only", f"{sha}~1", sha],
            capture_output=True, text=True,
        ).stdout.split()
        for name in names:
            def show(rev: str) -> str | None:
                r = subprocess.run(["git", "-C", str(root), "show", f"{rev}:{name}"], capture_output=True)
                try:
                    return r.stdout.decode("utf-8") if r.returncode == 0 else ""
                except UnicodeDecodeError:
                    return None
            old, new = show(f"{sha}~1"), show(sha)
            if old is not None and new is not None and old != new:
                out.append((name, old, new))
            if len(out) >= limit:
                return out
    return out


def _site_package_pairs(count: int) -> list[tuple[str, str, str]]:
    """Real library files with realistic edits: a renamed name, a deleted and an added line."""
    import difflib
    import email
    import json
    import textwrap

    out = []
    for mod in (difflib, json, textwrap, email):
        path = Path(mod.__file__ or "")
        if not path.is_file():
            continue
        old = path.read_text(encoding="utf-8")
        lines = old.splitlines(keepends=True)
        new_lines = list(lines)
        mid = len(new_lines) // 2
        new_lines.insert(mid, "    # added by the test\n")
        if len(new_lines) > 10:
            del new_lines[len(new_lines) // 3]
        new = "".join(new_lines).replace("return ", "return  ", 1)
        out.append((str(path.name), old, new))
        out.append((str(path.name), old, old.replace("\n", "\r\n")))
        out.append((str(path.name), old, new.rstrip("\n")))
    return out[:count]


def test_render_roundtrip_real_files() -> None:
    pairs_ = _site_package_pairs(12) + _git_file_pairs(30)
    assert len(pairs_) >= 6
    for name, old, new in pairs_:
        answer = edits.render(old, new, name)
        assert apply_blocks_text(old, answer) == new, name
