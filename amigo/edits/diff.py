"""Unified diffs and per-hunk acceptance of an (old, new) pair."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from amigo.edits.lines import split_lines
from amigo.edits.sequence import grouped, opcodes

NO_EOL = "\\ No newline at end of file\n"


@dataclass(frozen=True)
class Hunk:
    """One hunk of ``unified_diff(old, new, context=3)``, without its context lines.

    ``old_start``/``new_start`` are 1-based (for an empty side, the line after
    which the change sits, as in git); ``old_lines``/``new_lines`` are the raw
    lines (with endings) from the first to the last changed line of the hunk.
    """

    index: int
    old_start: int
    old_lines: list[str]
    new_start: int
    new_lines: list[str]

    @property
    def header(self) -> str:
        return f"@@ -{self.old_start},{len(self.old_lines)} +{self.new_start},{len(self.new_lines)} @@"


def _grouped(olines: list[str], nlines: list[str], context: int) -> list[list[tuple[str, int, int, int, int]]]:
    return grouped(opcodes(olines, nlines), context)


def _line(prefix: str, raw: str) -> str:
    return prefix + raw if raw.endswith("\n") else prefix + raw + "\n" + NO_EOL


def _range(start: int, count: int) -> str:
    if count == 1:
        return str(start + 1)
    return f"{start + 1 if count else start},{count}"


def unified_diff(path: str, old: str, new: str, context: int = 3) -> str:
    """A git-style diff (``--- a/path``, ``+++ b/path``, ``/dev/null`` for a new file)."""
    if old == new:
        return ""
    olines, nlines = split_lines(old), split_lines(new)
    out = [f"--- {'a/' + path if old else '/dev/null'}\n", f"+++ b/{path}\n"]
    for group in _grouped(olines, nlines, context):
        a1, a2 = group[0][1], group[-1][2]
        b1, b2 = group[0][3], group[-1][4]
        out.append(f"@@ -{_range(a1, a2 - a1)} +{_range(b1, b2 - b1)} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_line(" ", raw) for raw in olines[i1:i2])
                continue
            out.extend(_line("-", raw) for raw in olines[i1:i2])
            out.extend(_line("+", raw) for raw in nlines[j1:j2])
    return "".join(out)


def _spans(olines: list[str], nlines: list[str]) -> list[tuple[int, int, int, int]]:
    spans = []
    for group in _grouped(olines, nlines, 3):
        changes = [op for op in group if op[0] != "equal"]
        spans.append((changes[0][1], changes[-1][2], changes[0][3], changes[-1][4]))
    return spans


def hunks(old: str, new: str) -> list[Hunk]:
    """The hunks of ``unified_diff(path, old, new)``, numbered from 0 in file order."""
    olines, nlines = split_lines(old), split_lines(new)
    return [
        Hunk(i, a1 + 1 if a2 > a1 else a1, olines[a1:a2], b1 + 1 if b2 > b1 else b1, nlines[b1:b2])
        for i, (a1, a2, b1, b2) in enumerate(_spans(olines, nlines))
    ]


def apply_hunks(old: str, new: str, accepted: Iterable[int]) -> str:
    """``old`` with only the ``accepted`` hunks of old -> new applied."""
    keep = set(accepted)
    olines, nlines = split_lines(old), split_lines(new)
    spans = _spans(olines, nlines)
    unknown = keep - set(range(len(spans)))
    if unknown:
        raise ValueError(f"no hunk numbered {sorted(unknown)}; this change has {len(spans)} hunks")
    out: list[str] = []
    pos = 0
    for i, (a1, a2, b1, b2) in enumerate(spans):
        out.extend(olines[pos:a1])
        out.extend(nlines[b1:b2] if i in keep else olines[a1:a2])
        pos = a2
    out.extend(olines[pos:])
    for i in range(len(out) - 1):  # a last line moved inside gets its newline back
        if not out[i].endswith("\n"):
            out[i] += "\r\n" if out[i + 1].endswith("\r\n") else "\n"
    return "".join(out)
