"""Definitions and references of one file, from our tag queries.

Everything here is pure: bytes in, :class:`FileTags` out. At the cache
boundary (:meth:`FileTags.to_record`, :meth:`FileTags.from_record`) they are
plain tuples, which :mod:`marshal` stores and loads fast.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from typing import NamedTuple

from tree_sitter import Node, QueryCursor

from amigo.context import languages

# Definition kinds that only give scope (never indexed as a definition).
SCOPE_ONLY = frozenset({"impl"})
CONTAINER_KINDS = frozenset({"class", "interface", "impl", "module", "enum"})
MAX_SIGNATURE_LINES = 4
MAX_SIGNATURE_CHARS = 240
_PRIORITY = {"constant": 0, "field": 0, "function": 1, "method": 2, "class": 2}
_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")



class Definition(NamedTuple):
    """One definition of a file (a tuple, so it compares, hashes and sorts as one)."""

    name: str
    kind: str  # a capture name of the tag query: function, method, class, constant, ...
    first_line: int  # 1-based
    last_line: int  # 1-based, inclusive
    scope: str  # the name of the enclosing container ("" at the top level)
    signature: str  # the lines that introduce it, trimmed (see MAX_SIGNATURE_LINES)


# A cache row's plain tuple as a Definition, without Definition._make's Python-level
# checks (three times the cost, and a new process loads thousands from the cache; the
# cache checks each record's shape).
_as_definition = partial(tuple.__new__, Definition)


@dataclass(frozen=True)
class FileTags:
    """What one file defines and uses."""

    language: str | None
    lines: int
    definitions: tuple[Definition, ...]
    references: dict[str, int]  # name -> plain uses (calls, bare names, types)
    imports: tuple[tuple[int, int], ...]  # 1-based inclusive line ranges
    syntax_errors: bool = False
    weak_references: dict[str, int] = field(default_factory=dict)  # obj.name, name=, params

    @cached_property
    def containers(self) -> tuple[Definition, ...]:
        """The definitions that can hold others (classes, ...), in source order: finding a
        definition's container looks only at these (made once per file, on first ask)."""
        return tuple(d for d in self.definitions if d.kind in CONTAINER_KINDS)

    def to_record(self) -> tuple:
        """A marshal-able tuple (see :func:`from_record`): definitions as plain tuples."""
        return (self.language, self.lines, tuple(map(tuple, self.definitions)), self.references,
                self.imports, self.syntax_errors, self.weak_references)

    @staticmethod
    def from_record(record: tuple) -> "FileTags":
        """The tags a :meth:`to_record` tuple holds."""
        language, lines, defs, refs, imports, errors, weak = record
        return FileTags(language, lines, tuple(map(_as_definition, defs)), refs, tuple(imports), errors, weak)


_NOT_DEFINITIONS = frozenset({"name", "import", "ref", "weak", "local"})


@lru_cache(maxsize=None)
def _kind_order(language: str) -> dict[str, int]:
    """Capture names in the order the query file first uses them (ties between kinds)."""
    query = languages.query(language)
    return {query.capture_name(i): i for i in range(query.capture_count)} if query else {}


def _signature(source: bytes, node: Node) -> str:
    """The lines that introduce ``node`` (up to its body), trimmed."""
    start = source.rfind(b"\n", 0, node.start_byte) + 1
    body = node.child_by_field_name("body")
    if body is not None and body.start_byte > node.start_byte:
        end = body.start_byte
    else:  # no body: the node's first two lines
        nl = source.find(b"\n", node.start_byte)
        if nl != -1 and nl < node.end_byte:
            nl2 = source.find(b"\n", nl + 1)
            end = min(node.end_byte, nl2) if nl2 != -1 else node.end_byte
        else:
            end = nl if nl != -1 else len(source)
    text = source[start:end].decode("utf-8", "replace").rstrip()
    lines = text.splitlines()[:MAX_SIGNATURE_LINES]
    text = "\n".join(line.rstrip() for line in lines)
    if len(text) > MAX_SIGNATURE_CHARS:
        text = text[:MAX_SIGNATURE_CHARS] + " ..."
    return text


def plain_references(source: bytes) -> dict[str, int]:
    """Identifier-like words of a file no grammar parses (plain-text handling)."""
    counts: dict[str, int] = {}
    for word in _IDENT.findall(source):
        key = word.decode("ascii")
        counts[key] = counts.get(key, 0) + 1
    return counts


def extract(source: bytes, language: str | None) -> FileTags:
    """Parse ``source`` and return its tags (plain words when no grammar fits).

    A file with syntax errors still yields the definitions tree-sitter could
    recover; ``syntax_errors`` says so.
    """
    line_count = source.count(b"\n") + (0 if source.endswith(b"\n") or not source else 1)
    query = languages.query(language) if language else None
    parser = languages.parser(language) if language else None
    if query is None or parser is None:
        return FileTags(None, line_count, (), plain_references(source), ())
    tree = parser.parse(source)
    root = tree.root_node
    # One pass of the whole tag query: a second pass over the tree (definitions by
    # match, uses by capture) cost a quarter of the time spent per file.
    captured = QueryCursor(query).captures(root)
    imports = sorted((node.start_point[0] + 1, node.end_point[0] + 1) for node in captured.get("import", ()))
    definitions = _scoped(source, _named_definitions(source, captured, _kind_order(language)))
    references, weak_references = _uses(source, captured)
    return FileTags(language, line_count, tuple(definitions), references,
                    tuple(imports), root.has_error, weak_references)


def _named_definitions(source: bytes, captured: dict[str, list[Node]],
                       order: dict[str, int]) -> list[tuple[int, int, str, str, Node]]:
    """(start byte, end byte, kind, name, node) of each captured definition that has a
    name, in source order (outer before inner).

    Each @name belongs to the innermost definition node around it (a method's name
    lies in its class too, a struct field's in its typedef); one node captured as
    two kinds keeps the more specific kind.
    """
    ranked = sorted(((node.start_byte, -node.end_byte, -_PRIORITY.get(kind, 0), order.get(kind, 99), kind, node)
                     for kind, nodes in captured.items() if kind not in _NOT_DEFINITIONS for node in nodes),
                    key=lambda item: item[:4])
    by_range: dict[tuple[int, int], tuple] = {}
    for item in ranked:  # the same node captured as several kinds: the first is the most specific
        by_range.setdefault(item[:2], item)
    defs = list(by_range.values())
    names = sorted({n.start_byte: n for n in captured.get("name", ())}.values(), key=lambda n: n.start_byte)
    found: dict[int, tuple[int, int, str, str, Node]] = {}  # name start -> definition
    open_defs: list[tuple] = []  # definition nodes around the current position, outermost first
    next_def = 0
    for name_node in names:
        start, end = name_node.start_byte, name_node.end_byte
        while next_def < len(defs) and defs[next_def][0] <= start:
            item = defs[next_def]
            while open_defs and -open_defs[-1][1] <= item[0]:
                open_defs.pop()
            open_defs.append(item)
            next_def += 1
        inner = None
        for item in reversed(open_defs):
            if -item[1] >= end:
                inner = item
                break
        if inner is None:
            continue
        node = inner[5]
        found[start] = (node.start_byte, node.end_byte, inner[4],
                        source[start:end].decode("utf-8", "replace"), node)
    raw = list(found.values())
    raw.sort(key=lambda item: (item[0], -item[1]))
    return raw


def _scoped(source: bytes, named: list[tuple[int, int, str, str, Node]]) -> list[Definition]:
    """The definitions with their enclosing container's name; a function directly in a
    container becomes a method; scope-only kinds (``impl``) give scope and are dropped."""
    definitions: list[Definition] = []
    stack: list[tuple[int, str, str]] = []  # (end_byte, kind, name) of open containers
    for start, end, kind, name, node in named:
        while stack and stack[-1][0] <= start:
            stack.pop()
        scope = ""
        for s_end, s_kind, s_name in reversed(stack):
            if s_end >= end and s_kind in CONTAINER_KINDS:
                scope = s_name
                break
        if kind == "function" and scope and stack and stack[-1][1] in CONTAINER_KINDS:
            kind = "method"
        if kind not in SCOPE_ONLY:
            definitions.append(Definition(name, kind, node.start_point[0] + 1, node.end_point[0] + 1,
                                          scope, _signature(source, node)))
        stack.append((end, kind, name))
    return definitions


def _uses(source: bytes, captured: dict[str, list[Node]]) -> tuple[dict[str, int], dict[str, int]]:
    """(plain references, weak references): name -> uses, in sorted name order."""
    words: Counter[bytes] = Counter([source[n.start_byte:n.end_byte] for n in captured.get("ref", ())])
    weak: Counter[bytes] = Counter([source[n.start_byte:n.end_byte] for n in captured.get("weak", ())])
    local = {source[n.start_byte:n.end_byte] for n in captured.get("local", ())}
    references: dict[str, int] = {}
    # names in sorted order: tree-sitter hands captures back in an order that changes
    # from process to process, and these orders decide ties in the ranking
    for word, count in sorted(words.items()):
        if word in local:  # a variable of this file: every use of it is weak evidence
            weak[word] = count
            continue
        plain = count - weak.get(word, 0)  # a weak use is captured as a @ref too
        if plain > 0:
            references[word.decode("utf-8", "replace")] = plain
    weak_references = {word.decode("utf-8", "replace"): count for word, count in sorted(weak.items())}
    return references, weak_references
