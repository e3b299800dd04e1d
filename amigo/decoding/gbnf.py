"""GBNF grammars (llama.cpp syntax, also read by vLLM's xgrammar) for answers.

The blocks grammar only admits answers that ``amigo.edits`` will parse and
apply: a path the request names, then a SEARCH that is a contiguous run of
that file's lines occurring exactly once, then free replacement text.

How the SEARCH part stays small and fast. For every start line we know the
shortest unique run from it (``runs.unique_run_ends``). Those runs go into a
character-level radix tree (identical lines and shared prefixes such as
indentation are stored once, and siblings differ in their first character,
so llama.cpp's matcher keeps about one live stack per position instead of
one per candidate line). Each leaf then hands over to a shared chain
``p-j ::= line_j p-(j+1) | ""``: after line j comes line j+1 or the divider.
The grammar is therefore about twice the file's size, whatever it contains.

Line endings: the model always writes LF. A CRLF file's lines are offered
without their ``\\r``; ``amigo.edits`` matches them and keeps CRLF on disk.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

from amigo.decoding.runs import Window, unique_run_ends
from amigo.edits.contract import DIVIDER, MARKER_PREFIXES, REPLACE_MARK, SEARCH_MARK
from amigo.edits.lines import keys_of

# A start whose shortest unique run is longer than this (inside a duplicated
# stretch of code) is not offered as a SEARCH start: it would cost grammar
# size for a place the model can reach from a neighbouring line anyway.
MAX_UNIQUE_PREFIX_LINES = 40
# What amigo.edits.parse reads as a marker with the seven-character width we
# write (leading whitespace allowed): such lines may not appear in a block.
_MARKER_RE = re.compile(r"^\s*(?:<{7}\s*SEARCH\s*:?\s*$|={7}\s*$|>{7}\s*REPLACE\b)")
# Characters the answer parser accepts in a path (besides letters and digits).
_PATH_BANNED = '\\x00-\\x20!"#$%&\'()*,:;<=>?\\[\\\\\\]^`{|}\\x7F'
_LEAD_WS = " \\t\\x0B\\x0C\\r"


def literal(text: str) -> str:
    """``text`` as a GBNF string literal (every special character escaped)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02X}")
        elif 0xD800 <= code <= 0xDFFF:  # lone surrogate (surrogateescape input)
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)  # raw UTF-8: both llama.cpp and xgrammar decode it
    out.append('"')
    return "".join(out)


def _class_char(ch: str) -> str:
    """One character for use inside ``[...]``."""
    if ch in "]\\^-[":
        return "\\" + ch
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch == "\t":
        return "\\t"
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"\\x{ord(ch):02X}"
    return ch


class _Rules:
    """An ordered set of named rules with collision-free generated names."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self._count = 0

    def add(self, name: str, body: str) -> str:
        if name in self.rules:
            raise ValueError(f"duplicate grammar rule {name}")
        self.rules[name] = body
        return name

    def fresh(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def text(self) -> str:
        return "".join(f"{name} ::= {body}\n" for name, body in self.rules.items())


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p and p != '""') or '""'


def _radix(rules: _Rules, prefix: str, items: list[tuple[str, str]]) -> str:
    """An expression matching exactly the keys of ``items``, each followed by
    its continuation expression. ``items`` is sorted by key and no key is a
    prefix of another. Branch points become rules whose alternatives start
    with distinct characters."""
    pending: list[tuple[str, list[tuple[str, str]], int]] = []

    def expr(group: list[tuple[str, str]], depth: int) -> str:
        if len(group) == 1:
            key, cont = group[0]
            return _join(literal(key[depth:]), cont)
        first, last = group[0][0], group[-1][0]
        common = depth
        limit = min(len(first), len(last))
        while common < limit and first[common] == last[common]:
            common += 1
        name = rules.fresh(prefix)
        rules.add(name, "")  # reserve: filled below, keeps rule order readable
        pending.append((name, group, common))
        return _join(literal(first[depth:common]), name)

    root = expr(items, 0)
    while pending:
        name, group, depth = pending.pop()
        alternatives: list[str] = []
        start = 0
        for k in range(1, len(group) + 1):
            if k == len(group) or group[k][0][depth] != group[start][0][depth]:
                alternatives.append(expr(group[start:k], depth))
                start = k
        rules.rules[name] = " | ".join(alternatives)
    return root


def _line_excluding(
    rules: _Rules, name: str, prefixes: Sequence[str], exact: Iterable[str], banned: str, max_len: int,
    allow_empty: bool = True, lead: str = "",
) -> str:
    """Define rule ``name``: one line (ending in ``\\n``) that starts with none of
    ``prefixes`` and is none of ``exact``. ``banned`` is the body of a negated
    character class (``\\n`` is always banned); at most ``max_len`` free
    characters follow the point where the line leaves the excluded trie.
    ``lead`` (a class body) is leading whitespace skipped before the check,
    as the answer parser skips it before looking for markers."""
    banned = "\\n" + banned
    blocked = {p for p in prefixes if p}
    exact_set = set(exact)
    nodes = {""}
    for word in list(blocked) + list(exact_set):
        for k in range(1, len(word) + 1):
            nodes.add(word[:k])
    tail = f"{name}-t"
    body = f"{name}-b" if lead else name
    names: dict[str, str] = {}
    order = sorted(nodes, key=lambda s: (len(s), s))
    for node in order:
        if not any(node.startswith(b) for b in blocked):
            names[node] = body if node == "" else rules.fresh(f"{name}-")
    if lead:
        rules.add(name, f"[{lead}]* {body}")
    rules.add(tail, f"[^{banned}]{{0,{max_len}}} \"\\n\"")
    for node in order:
        if node not in names:
            continue
        children = sorted({w[len(node)] for w in nodes if len(w) > len(node) and w.startswith(node)})
        alternatives = [_join(literal(ch), names[node + ch]) for ch in children if node + ch in names]
        excluded = "".join(_class_char(c) for c in children) + (lead if node == "" else "")
        alternatives.append(f"[^{banned}{excluded}] {tail}")
        if (node or allow_empty) and node not in exact_set:
            alternatives.append('"\\n"')
        rules.add(names[node], " | ".join(alternatives))
    return name


def is_marker_line(line: str) -> bool:
    """True when the answer parser would read ``line`` as a block marker."""
    return bool(_MARKER_RE.match(line))


def _search_rules(rules: _Rules, tag: str, lines: list[str], window: Window, allow_empty: bool) -> str:
    """Rules for one file's SEARCH body; returns the expression for it.

    A file line that reads as a marker (``=======`` in reStructuredText, say)
    is a barrier: no SEARCH may contain it, or the answer would not parse.
    """
    ends = unique_run_ends(lines, window)
    barriers = {j for j in range(window.lo, window.hi) if is_marker_line(lines[j])}
    chain_end = {}  # j -> first barrier at or after j (or window.hi)
    stop = window.hi
    for j in range(window.hi - 1, window.lo - 1, -1):
        if j in barriers:
            stop = j
        chain_end[j] = stop
    chain_needed: set[int] = set()
    items: list[tuple[str, str]] = []
    for start, end in ends.items():
        if end - start > MAX_UNIQUE_PREFIX_LINES or chain_end[start] < end:
            continue
        key = "".join(line + "\n" for line in lines[start:end])
        cont = f"{tag}-p{end}" if end < chain_end.get(end, window.hi) else ""
        if cont:
            chain_needed.add(end)
        items.append((key, cont))
    # The chain: from each needed j onwards the model may add line j, j+1, ...
    todo = sorted(chain_needed)
    done: set[int] = set()
    for first in todo:
        j = first
        while j < chain_end.get(j, window.hi) and j not in done:
            done.add(j)
            nxt = f"{tag}-p{j + 1}" if j + 1 < chain_end[j] else ""
            rules.add(f"{tag}-p{j}", f"{_join(literal(lines[j] + chr(10)), nxt)} | \"\"")
            j += 1
    if not items:
        return '""'
    items.sort()
    body = _radix(rules, f"{tag}-n", items)
    if allow_empty:
        name = rules.add(f"{tag}-s", f"{body} | \"\"")
        return name
    return body


def blocks_grammar(
    files: Mapping[str, str],
    allow_new_files: bool = False,
    max_prose_chars: int = 400,
    windows: Mapping[str, Window] | None = None,
    max_blocks: int = 8,
    max_replace_lines: int = 400,
    allow_append: bool = False,
    max_line_chars: int | None = None,
) -> str:
    """A GBNF grammar for SEARCH/REPLACE answers editing ``files`` (path -> text).

    ``windows`` optionally limits, per path, the lines SEARCH may copy (see
    ``runs.scope_for``); uniqueness is still judged against the whole file.
    An empty SEARCH is offered for empty files, for new files (when
    ``allow_new_files``), and for appending when ``allow_append``.

    The answer is bounded so that it always ends: at most ``max_blocks``
    blocks, ``max_replace_lines`` replacement lines of at most
    ``max_line_chars`` characters (default: the longest line + 40, at least
    120). Replacement lines may not start with a fence (```` ``` ```` or
    ``~~~``) unless one of the files has such a line: small models otherwise
    paste a Markdown rewrite into the block.
    """
    if not files and not allow_new_files:
        raise ValueError("blocks_grammar needs at least one file, or allow_new_files=True")
    if max_blocks < 1:
        raise ValueError("max_blocks must be at least 1")
    rules = _Rules()
    rules.add("root", "")
    block_alternatives: list[str] = []
    longest = 0
    fenced = False
    for index, (path, text) in enumerate(files.items()):
        if not path or "\n" in path or "\r" in path:
            raise ValueError(f"path {path!r} cannot be named on one line")
        lines = keys_of(text)
        longest = max([longest, *map(len, lines)])
        fenced = fenced or any(line.lstrip().startswith(("```", "~~~")) for line in lines)
        window = (windows or {}).get(path) or Window(0, len(lines))
        window = Window(max(0, window.lo), min(len(lines), window.hi))
        tag = f"f{index}"
        search = _search_rules(rules, tag, lines, window, allow_empty=allow_append or not lines)
        head = literal(f"{path}\n{SEARCH_MARK}\n")
        block_alternatives.append(rules.add(f"{tag}-block", _join(head, search, literal(DIVIDER + "\n"), "replace")))
    max_line = max_line_chars if max_line_chars is not None else max(120, longest + 40)
    if allow_new_files:
        _line_excluding(rules, "newpath", MARKER_PREFIXES, files.keys(), _PATH_BANNED, 200, allow_empty=False)
        block_alternatives.append(rules.add(
            "new-block", _join("newpath", literal(f"{SEARCH_MARK}\n{DIVIDER}\n"), "replace"),
        ))
    rules.add("block", " | ".join(block_alternatives))
    banned_starts = MARKER_PREFIXES if fenced else (*MARKER_PREFIXES, "```", "~~~")
    _line_excluding(rules, "rline", banned_starts, (), "", max_line, lead=_LEAD_WS)
    rules.add("replace", _join(f"rline{{0,{max_replace_lines}}}", literal(REPLACE_MARK + "\n")))
    more = f'("\\n"? block){{0,{max_blocks - 1}}}' if max_blocks > 1 else ""
    if max_prose_chars > 0:
        # Explanation first, bounded; no backticks (a fence would start a
        # rewrite the grammar then cuts off) and no marker characters.
        rules.add("intro", f'[^`<>\\x00-\\x09\\x0B-\\x1F]{{1,{max_prose_chars}}} "\\n"')
        rules.rules["root"] = _join("intro?", "block", more)
    else:
        rules.rules["root"] = _join("block", more)
    return rules.text()


def whole_grammar(language: str, max_lines: int = 2000, max_line_chars: int = 500) -> str:
    """A GBNF grammar for the whole-selection format: one fenced code block.

    The fence is three backticks, optionally tagged with ``language``; code
    lines may not start with three backticks (they would close the fence).
    """
    rules = _Rules()
    tag = f"({literal(language)})?" if language and language != "text" else ""
    rules.add("root", _join(literal("```"), tag, literal("\n"), f"cline{{0,{max_lines}}}", literal("```"), '"\\n"?'))
    _line_excluding(rules, "cline", ("```", "~~~"), (), "", max_line_chars, lead=_LEAD_WS)
    return rules.text()


def grammar_for_lines(files: Mapping[str, str]) -> dict[str, int]:
    """Line counts per file, for callers deciding on ``windows`` (see the cap)."""
    return {path: len(keys_of(text)) for path, text in files.items()}
