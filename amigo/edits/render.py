"""(old text, new text) -> minimal SEARCH/REPLACE blocks that apply back exactly.

Blocks apply one after another to the evolving text, so each block's SEARCH
is made unique in the text as it will be when that block applies (earlier
blocks done). Context grows one line at a time (above first) until the
SEARCH is unique; a block that cannot grow further merges with its
neighbour. Every rendering is checked by applying it; should that ever fail,
one block replacing the whole file is used instead.
"""

from __future__ import annotations


from amigo.edits.lines import key, newline_of, split_lines
from amigo.edits.match import find_exact
from amigo.edits.parse import CLOSE_RE, DIVIDER_RE, EOL_FLAG, NO_EOL_FLAG, OPEN_RE, marker_count
from amigo.edits.sequence import opcodes

MERGE_GAP = 2  # hunks this close share one block


def _unique(evolving: list[str], skeys: list[str]) -> bool:
    return bool(skeys) and len(find_exact(evolving, skeys)[:2]) == 1


def _groups(olines: list[str], nlines: list[str]) -> list[list[int]]:
    ops = opcodes(olines, nlines)
    groups: list[list[int]] = []
    for tag, a1, a2, b1, b2 in ops:
        if tag == "equal":
            continue
        if groups and a1 - groups[-1][1] <= MERGE_GAP:
            groups[-1][1], groups[-1][3] = a2, b2
        else:
            groups.append([a1, a2, b1, b2])
    return groups


def plan(old: str, new: str) -> list[tuple[int, int, int, int]]:
    """Regions (old a:b -> new c:d), in order, each with a SEARCH unique when it applies."""
    olines, nlines = split_lines(old), split_lines(new)
    okeys, nkeys = [key(x) for x in olines], [key(x) for x in nlines]
    groups = _groups(olines, nlines)
    done: list[tuple[int, int, int, int]] = []
    k = 0
    while k < len(groups):
        a, b, c, d = groups[k]
        evolving = nkeys[:c] + okeys[a:]  # the text when this block applies
        lo = done[-1][1] if done else 0
        hi = groups[k + 1][0] if k + 1 < len(groups) else len(olines)
        up = True
        while not (b > a and _unique(evolving, okeys[a:b])):
            can_up, can_down = a > lo, b < hi
            if not (can_up or can_down):
                break
            if (up and can_up) or not can_down:
                a, c = a - 1, c - 1
            else:
                b, d = b + 1, d + 1
            up = not up
        else:
            done.append((a, b, c, d))
            k += 1
            continue
        if k + 1 < len(groups):
            nxt = groups.pop(k + 1)
            groups[k] = [groups[k][0], nxt[1], groups[k][2], nxt[3]]
        elif done:
            prev = done.pop()
            groups[k] = [prev[0], groups[k][1], prev[2], groups[k][3]]
            k = len(done)
        else:
            done.append((0, len(olines), 0, len(nlines)))
            k += 1
    return done


def _width(lines: list[str]) -> int:
    """The shortest marker run (>= 7) that no content line could be mistaken for."""
    width = 7
    keys = [key(line) for line in lines]
    while any(
        marker_count(k, pat) == width for k in keys for pat in (OPEN_RE, DIVIDER_RE, CLOSE_RE)
    ):
        width += 1
    return width


def _section(lines: list[str]) -> str:
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def block_text(path: str, search: list[str], replace: list[str], eol: bool | None) -> str:
    """One block in the edit format; ``eol`` adds the final-newline flag after REPLACE."""
    w = _width(search + replace)
    flag = "" if eol is None else " " + (EOL_FLAG if eol else NO_EOL_FLAG)
    return (
        f"{path}\n{'<' * w} SEARCH\n{_section(search)}{'=' * w}\n"
        f"{_section(replace)}{'>' * w} REPLACE{flag}\n"
    )


def _render(old: str, new: str, path: str, regions: list[tuple[int, int, int, int]]) -> str:
    olines, nlines = split_lines(old), split_lines(new)
    old_eol, new_eol = not old or old.endswith("\n"), not new or new.endswith("\n")
    # The flag also marks an edit of a CRLF file's unterminated last line, so that apply
    # copies REPLACE's line endings as written (a model's LF lines there get CRLF). "CRLF
    # file" as apply will see it when the last block applies: after the earlier blocks.
    flag_end = old_eol != new_eol
    if regions and not old_eol and regions[-1][1] == len(olines):
        a, _, c, _ = regions[-1]
        flag_end = flag_end or newline_of("".join(nlines[:c] + olines[a:])) == "\r\n"
    out = []
    for a, b, c, d in regions:
        eol = new_eol if b == len(olines) and flag_end else None
        out.append(block_text(path, olines[a:b], nlines[c:d], eol))
    return "\n".join(out)


def render_planned(old: str, new: str, path: str) -> str:
    """The minimal blocks, unchecked (render() checks them; tests call this directly)."""
    if old == new:
        return ""
    if not old:
        return block_text(path, [], split_lines(new), None if new.endswith("\n") else False)
    return _render(old, new, path, plan(old, new))


def render(old: str, new: str, path: str) -> str:
    """Minimal SEARCH/REPLACE blocks turning ``old`` into ``new`` ("" when equal)."""
    from amigo.edits.apply import apply_blocks_text  # local: apply imports this module's siblings
    from amigo.edits.model import EditError

    text = render_planned(old, new, path)
    try:
        if apply_blocks_text(old, text) == new:
            return text
    except EditError:
        pass
    olines, nlines = split_lines(old), split_lines(new)
    return _render(old, new, path, [(0, len(olines), 0, len(nlines))])
