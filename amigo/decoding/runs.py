"""Which runs of a file's lines a SEARCH may copy, and where to look for them.

A SEARCH is only useful when it is a contiguous run of the file's lines that
occurs exactly once (``amigo.edits`` refuses an ambiguous match). For every
start line we compute the shortest run from it that is unique in the whole
file; the grammar then lets the model stop only after that point. Nothing
here knows about grammars: it is plain line arithmetic, shared by the GBNF
and the JSON-schema builders.

A file's lines here are ``amigo.edits.lines.keys_of``: split at ``\n`` only, without
terminators (the model writes LF; ``amigo.edits`` keeps the file's newline style).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from amigo.edits.lines import keys_of

# Work (candidate comparisons) allowed per file when narrowing occurrences; a
# file of thousands of identical lines stops here instead of going quadratic.
UNIQUE_WORK_BUDGET = 4_000_000


@dataclass(frozen=True)
class Window:
    """A 0-based half-open range ``[lo, hi)`` of line indices SEARCH may use."""

    lo: int
    hi: int

    def __len__(self) -> int:
        return max(0, self.hi - self.lo)


def unique_run_ends(lines: list[str], window: Window | None = None) -> dict[int, int]:
    """For each start ``i`` in ``window``: the smallest ``j`` with ``lines[i:j]``
    occurring exactly once in ``lines`` (as whole lines) and ``j <= window.hi``.

    Starts without such a run inside the window are left out. Occurrences may
    overlap; they still count, because a matcher would find both.
    """
    n = len(lines)
    window = window or Window(0, n)
    ids: list[int] = []
    seen: dict[str, int] = {}
    for line in lines:
        ids.append(seen.setdefault(line, len(seen)))
    positions: dict[int, list[int]] = defaultdict(list)
    for k, ident in enumerate(ids):
        positions[ident].append(k)
    ends: dict[int, int] = {}
    budget = UNIQUE_WORK_BUDGET
    for i in range(window.lo, window.hi):
        candidates = positions[ids[i]]
        if len(candidates) == 1:
            ends[i] = i + 1
            continue
        others = [k for k in candidates if k != i]
        length = 1
        while others and i + length < window.hi and budget > 0:
            wanted = ids[i + length]
            budget -= len(others)
            others = [k for k in others if k + length < n and ids[k + length] == wanted]
            length += 1
        if not others:
            ends[i] = i + length
    return ends


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def scope_for(text: str, selection: tuple[int, int] | None, cap_lines: int, margin: int = 20) -> Window:
    """The lines a SEARCH may come from when the file is too big for one grammar.

    ``selection`` is 1-based inclusive (as in ``EditRequest``). We take the
    top-level statement(s) that enclose the selection (by indentation: a
    language-agnostic stand-in for the syntax tree), add ``margin`` lines on
    each side, and clip to ``cap_lines`` around the selection. Without a
    selection, a file within the cap is taken whole, and a bigger one is cut
    to its first ``cap_lines`` lines (the caller should rather send a
    selection).
    """
    if cap_lines < 1:
        raise ValueError("cap_lines must be at least 1")
    lines = keys_of(text)
    n = len(lines)
    if n <= cap_lines:
        return Window(0, n)
    if selection is None:
        return Window(0, cap_lines)
    start = min(max(selection[0], 1), n) - 1
    end = min(max(selection[1], selection[0], 1), n)  # exclusive, 0-based
    lo = start
    while lo > 0 and (not lines[lo].strip() or _indent(lines[lo]) > 0):
        lo -= 1
    hi = end
    while hi < n and (not lines[hi].strip() or _indent(lines[hi]) > 0 or lines[hi].lstrip().startswith((")", "]", "}"))):
        hi += 1
    lo, hi = max(0, lo - margin), min(n, hi + margin)
    if hi - lo > cap_lines:
        # Too big even so: centre the cap on the selection itself.
        centre = (start + end) // 2
        half = cap_lines // 2
        lo = max(0, min(centre - half, n - cap_lines))
        hi = lo + cap_lines
        lo, hi = min(lo, start), max(hi, min(end, lo + cap_lines))
        if hi - lo > cap_lines:  # the selection alone exceeds the cap
            lo, hi = start, start + cap_lines
    return Window(lo, hi)
