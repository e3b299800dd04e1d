"""Pure text arithmetic for LSP: line splitting, positions and minimal line edits.

LSP lines end at ``\\n``, ``\\r\\n`` or ``\\r`` only (not at the other
characters Python's ``splitlines`` knows), and characters are counted in the
negotiated position encoding (UTF-16 code units unless the client chose
otherwise), so these helpers never use ``str.splitlines`` or ``len`` blindly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from amigo.edits.sequence import opcodes

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Pos:
    """A zero-based LSP position (``character`` in the negotiated encoding)."""

    line: int
    character: int


@dataclass(frozen=True)
class LineEdit:
    """Replace the text between ``start`` and ``end`` by ``new_text``."""

    start: Pos
    end: Pos
    new_text: str


def split_lsp_lines(text: str) -> list[str]:
    """Lines with their terminators, split the way LSP counts lines (at ``\\r`` alone too,
    unlike ``amigo.edits.lines.split_lines``, which splits files at ``\\n`` only)."""
    lines: list[str] = []
    pos = 0
    for match in _EOL.finditer(text):
        lines.append(text[pos:match.end()])
        pos = match.end()
    if pos < len(text):
        lines.append(text[pos:])
    return lines


def char_len(text: str, encoding: str = "utf-16") -> int:
    """Length of ``text`` in the units of an LSP position encoding."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


def line_start(lines: list[str], index: int, encoding: str = "utf-16") -> Pos:
    """Position of the start of line ``index``; past the last line, the end of the text."""
    if index < len(lines):
        return Pos(index, 0)
    if not lines:
        return Pos(0, 0)
    last = lines[-1]
    if _EOL.search(last[-1:] or ""):
        return Pos(len(lines), 0)
    return Pos(len(lines) - 1, char_len(last, encoding))


def line_edits(old: str, new: str, encoding: str = "utf-16") -> list[LineEdit]:
    """Minimal whole-line edits that turn ``old`` into ``new`` (in document order).

    Whole lines keep the edits readable in a preview and make the positions
    independent of the encoding except at the very end of a file with no
    final newline.
    """
    if old == new:
        return []
    a, b = split_lsp_lines(old), split_lsp_lines(new)
    out: list[LineEdit] = []
    for tag, i1, i2, j1, j2 in opcodes(a, b):
        if tag == "equal":
            continue
        out.append(LineEdit(line_start(a, i1, encoding), line_start(a, i2, encoding), "".join(b[j1:j2])))
    return out


def apply_line_edits(text: str, edits: list[LineEdit], encoding: str = "utf-16") -> str:
    """Apply non-overlapping edits (any order) to ``text``; the inverse check for tests and undo."""
    offsets = _line_offsets(text)

    def offset(pos: Pos) -> int:
        if pos.line >= len(offsets):
            return len(text)
        start = offsets[pos.line]
        line_end = offsets[pos.line + 1] if pos.line + 1 < len(offsets) else len(text)
        line = _strip_eol(text[start:line_end])
        return start + _index_of_units(line, pos.character, encoding)

    result = text
    for edit in sorted(edits, key=lambda e: (e.start.line, e.start.character), reverse=True):
        lo, hi = offset(edit.start), offset(edit.end)
        result = result[:lo] + edit.new_text + result[hi:]
    return result


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for match in _EOL.finditer(text):
        offsets.append(match.end())
    return offsets


def _index_of_units(line: str, units: int, encoding: str) -> int:
    """The string index of ``units`` position units into ``line`` (clamped to its end)."""
    count = 0
    for index, ch in enumerate(line):
        if count >= units:
            return index
        count += char_len(ch, encoding)
    return len(line)


def offset_at(text: str, line: int, character: int, encoding: str = "utf-16") -> int:
    """The string index of an LSP position in ``text`` (clamped to the end of its line / the text)."""
    starts = _line_offsets(text)
    if line >= len(starts):
        return len(text)
    begin = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    return begin + _index_of_units(_strip_eol(text[begin:end]), character, encoding)


def selection_lines(start_line: int, start_char: int, end_line: int, end_char: int) -> tuple[int, int] | None:
    """A zero-based LSP range as the engine's 1-based inclusive line span.

    An empty range (a cursor) selects nothing: the request then covers the
    whole file. A range ending at column 0 of a later line does not include
    that line, the way editors select whole lines.
    """
    if (start_line, start_char) == (end_line, end_char):
        return None
    if (end_line, end_char) < (start_line, start_char):
        start_line, start_char, end_line, end_char = end_line, end_char, start_line, start_char
    last = end_line - 1 if end_char == 0 and end_line > start_line else end_line
    return (start_line + 1, last + 1)
