"""A proposal's hunks as lines to draw (pure; no widgets).

Hunks are numbered exactly as :meth:`amigo.engine.EditSession.hunks` numbers
them, so the indices the person toggles are the ones ``accept(hunks=...)``
takes. Each hunk's lines come from applying that hunk alone
(``amigo.edits.apply_hunks``) and diffing against the old text, so what is
shown is exactly what accepting it would write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from amigo.edits.lines import keys_of
from amigo.edits.sequence import grouped, opcodes
from amigo.events import FileChange

CONTEXT_LINES = 3


@dataclass(frozen=True)
class DiffLine:
    tag: str  # " " context, "-" removed, "+" added
    old_no: int | None
    new_no: int | None
    text: str


@dataclass(frozen=True)
class HunkView:
    index: int  # global, across the proposal's files
    path: str
    header: str  # "@@ -a,b +c,d @@"
    lines: tuple[DiffLine, ...]

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.tag == "+")

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.tag == "-")


def diff_lines(old: str, new: str, context: int = CONTEXT_LINES) -> tuple[str, tuple[DiffLine, ...]]:
    """The unified-diff header and lines of ``old`` -> ``new`` (all groups joined)."""
    a, b = keys_of(old), keys_of(new)  # lines as the engine numbers its hunks
    out: list[DiffLine] = []
    header = ""
    for group in grouped(opcodes(a, b), context):
        if not header:
            i1, j1 = group[0][1], group[0][3]
            i2, j2 = group[-1][2], group[-1][4]
            header = f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(DiffLine(" ", i + 1, j1 + (i - i1) + 1, a[i]) for i in range(i1, i2))
                continue
            if tag in ("replace", "delete"):
                out.extend(DiffLine("-", i + 1, None, a[i]) for i in range(i1, i2))
            if tag in ("replace", "insert"):
                out.extend(DiffLine("+", None, j + 1, b[j]) for j in range(j1, j2))
    if not header and old != new:  # only a trailing newline or line ending changed
        header = "@@ line endings @@"
        out.append(DiffLine("~", None, None, "(whitespace at the end of the file changes)"))
    return header, tuple(out)


def hunk_views(changes: Sequence[FileChange],
               count_hunks: Callable[[str, str], int],
               apply_hunks: Callable[[str, str, list[int]], str]) -> list[HunkView]:
    """One view per hunk, in the engine's global order."""
    views: list[HunkView] = []
    for change in changes:
        count = count_hunks(change.old_text, change.new_text)
        for local in range(count):
            partial = apply_hunks(change.old_text, change.new_text, [local])
            header, lines = diff_lines(change.old_text, partial)
            views.append(HunkView(len(views), change.path, header, lines))
    return views


def side_by_side(lines: Sequence[DiffLine]) -> list[tuple[DiffLine | None, DiffLine | None]]:
    """Pair removed with added lines of each change block; context appears on both sides."""
    rows: list[tuple[DiffLine | None, DiffLine | None]] = []
    removed: list[DiffLine] = []
    added: list[DiffLine] = []

    def flush() -> None:
        for k in range(max(len(removed), len(added))):
            rows.append((removed[k] if k < len(removed) else None, added[k] if k < len(added) else None))
        removed.clear()
        added.clear()

    for line in lines:
        if line.tag == "-":
            removed.append(line)
        elif line.tag == "+":
            added.append(line)
        else:
            flush()
            rows.append((line, line))
    flush()
    return rows
