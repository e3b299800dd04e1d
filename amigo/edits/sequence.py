"""Line diffs whose work stays about linear in the text, however often its lines repeat.

``difflib.SequenceMatcher`` visits, for every line of one side, every equal
line of the other side, so on a file of repeated short lines its work is
quadratic (a one-line change in 32,000 such lines took 82 s to diff). Here
SequenceMatcher still diffs everything whose pair count is small, so the
diffs of ordinary files are exactly the ones they always were; a costly pair
first loses its common head and tail (a model's edit touches a few places),
and a middle that is still costly goes to Myers' O(ND) diff, whose work grows
with the text times the number of changed lines. Past MAX_EDIT_DISTANCE
changed lines (or MYERS_STEPS comparisons) the middle becomes one replacement: a correct diff, if not the
smallest, in bounded time.
"""

from __future__ import annotations

from collections import Counter
from difflib import SequenceMatcher
from typing import Hashable, Sequence

Opcode = tuple[str, int, int, int, int]  # (tag, a1, a2, b1, b2) as difflib spells them

PAIR_BUDGET = 200_000  # equal-line pairs SequenceMatcher may visit (about 0.1 s)
MAX_EDIT_DISTANCE = 1000  # lines inserted plus deleted that Myers' diff will look for
MYERS_STEPS = 2_000_000  # and the comparisons it may make on the way (about 1 s)


def equal_pairs(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """How many (i, j) have a[i] == b[j]: what one SequenceMatcher pass visits."""
    counts = Counter(b)
    return sum(counts[x] for x in a)


def opcodes(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[Opcode]:
    """Opcodes turning ``a`` into ``b`` (as ``SequenceMatcher.get_opcodes``), in bounded time."""
    if equal_pairs(a, b) <= PAIR_BUDGET:
        return SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    head = _common_head(a, b)
    tail = _common_tail(a[head:], b[head:])
    mid_a, mid_b = a[head : len(a) - tail], b[head : len(b) - tail]
    if equal_pairs(mid_a, mid_b) <= PAIR_BUDGET:
        middle = SequenceMatcher(None, mid_a, mid_b, autojunk=False).get_opcodes()
    else:
        middle = _opcodes_of(_myers(mid_a, mid_b), len(mid_a), len(mid_b))
    ops: list[Opcode] = [("equal", 0, head, 0, head)] if head else []
    ops += [(tag, a1 + head, a2 + head, b1 + head, b2 + head) for tag, a1, a2, b1, b2 in middle]
    if tail:
        ops.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return _merge_equal(ops)


def grouped(ops: list[Opcode], context: int) -> list[list[Opcode]]:
    """Hunks: the changes with ``context`` equal lines around them; changes whose equal
    run between them is at most twice ``context`` share a hunk (as unified diffs do)."""
    if not any(op[0] != "equal" for op in ops):
        return []
    ops = list(ops)
    tag, a1, a2, b1, b2 = ops[0]
    if tag == "equal":
        ops[0] = (tag, max(a1, a2 - context), a2, max(b1, b2 - context), b2)
    tag, a1, a2, b1, b2 = ops[-1]
    if tag == "equal":
        ops[-1] = (tag, a1, min(a2, a1 + context), b1, min(b2, b1 + context))
    groups: list[list[Opcode]] = [[]]
    for tag, a1, a2, b1, b2 in ops:
        if tag == "equal" and a2 - a1 > 2 * context:
            groups[-1].append((tag, a1, a1 + context, b1, b1 + context))
            groups.append([])
            a1, b1 = a2 - context, b2 - context
        groups[-1].append((tag, a1, a2, b1, b2))
    return [g for g in groups if any(op[0] != "equal" for op in g)]


def _common_head(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _common_tail(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[len(a) - 1 - n] == b[len(b) - 1 - n]:
        n += 1
    return n


def _myers(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int, int]]:
    """Equal (i, j) pairs of a shortest edit script; none past MAX_EDIT_DISTANCE or MYERS_STEPS.

    Myers (1986): the furthest point reached on each diagonal k = x - y with d
    edits, extended along runs of equal lines; the path is read back from the
    rows kept for every d.
    """
    n, m = len(a), len(b)
    row: dict[int, int] = {1: 0}
    rows: list[dict[int, int]] = []
    steps = 0
    for d in range(min(MAX_EDIT_DISTANCE, n + m) + 1):
        rows.append(row)
        nxt: dict[int, int] = {}
        for k in range(-d, d + 1, 2):
            x = row[k + 1] if k == -d or (k != d and row[k - 1] < row[k + 1]) else row[k - 1] + 1
            y = x - k
            start = x
            while x < n and y < m and a[x] == b[y]:
                x, y = x + 1, y + 1
            steps += x - start + 1
            nxt[k] = x
            if x >= n and y >= m:
                return _myers_path(rows, d, n, m)
        if steps > MYERS_STEPS:
            break
        row = nxt
    return []


def _myers_path(rows: list[dict[int, int]], d: int, n: int, m: int) -> list[tuple[int, int]]:
    """Walk back from (n, m): each step d came from row d (the points after d - 1 edits)."""
    pairs: list[tuple[int, int]] = []
    x, y = n, m
    for step in range(d, -1, -1):
        prev = rows[step]
        k = x - y
        if step == 0:
            start_x = 0
        else:
            down = k == -step or (k != step and prev[k - 1] < prev[k + 1])
            start_x = prev[k + 1] if down else prev[k - 1] + 1
        while x > start_x:  # the run of equal lines that ended this step
            x, y = x - 1, y - 1
            pairs.append((x, y))
        if step:
            x = prev[k + 1] if down else prev[k - 1]
            y = x - (k + 1 if down else k - 1)
    pairs.reverse()
    return pairs


def _opcodes_of(pairs: list[tuple[int, int]], n: int, m: int) -> list[Opcode]:
    """Opcodes from ascending equal pairs (none: the whole of a replaced by the whole of b)."""
    ops: list[Opcode] = []
    i = j = 0
    for x, y in pairs + [(n, m)]:
        if x > i and y > j:
            ops.append(("replace", i, x, j, y))
        elif x > i:
            ops.append(("delete", i, x, j, j))
        elif y > j:
            ops.append(("insert", i, i, j, y))
        if x < n or y < m:
            ops.append(("equal", x, x + 1, y, y + 1))
        i, j = x + 1, y + 1
    return _merge_equal(ops)


def _merge_equal(ops: list[Opcode]) -> list[Opcode]:
    """Join touching equal runs into one, as SequenceMatcher reports them."""
    out: list[Opcode] = []
    for op in ops:
        if op[1] == op[2] and op[3] == op[4]:
            continue
        if out and op[0] == "equal" and out[-1][0] == "equal":
            out[-1] = ("equal", out[-1][1], op[2], out[-1][3], op[4])
        else:
            out.append(op)
    return out
