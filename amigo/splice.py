"""A whole-file answer that holds only the definitions it changed, read as replacing them.

Asked to rewrite a whole file, models (small ones most of all) often answer with just
the function they changed. Taken literally that deletes the rest of the file, which
the check stage refuses. :func:`splice_definitions` reads such an answer the way it
was meant: each top-level definition in it replaces the file's definition of the
same name and kind, and nothing else in the file moves. It only does so when the
reading is unambiguous (every name defined once in the file, the answer nothing but
those definitions and lines the file already has); the engine still runs every check
on the result.
"""

from __future__ import annotations

from amigo.context.tags import Definition, extract

SPLICE_KINDS = frozenset({"function", "class", "interface", "enum"})


def _top_level(text: str, language: str) -> list[Definition]:
    return [d for d in extract(text.encode("utf-8"), language).definitions
            if not d.scope and d.kind in SPLICE_KINDS]


def _span(lines: list[str], d: Definition) -> tuple[int, int]:
    """0-based [start, end) of ``d`` with the decorator lines right above it."""
    start = d.first_line - 1
    while start > 0 and lines[start - 1].lstrip().startswith("@"):
        start -= 1
    return start, d.last_line


def splice_definitions(old: str, snippet: str, language: str | None) -> str | None:
    """``old`` with each top-level definition of ``snippet`` put in place of the one of the same
    name and kind, or None when ``snippet`` is not such a partial answer: it has no top-level
    definition, one of them is new or defined twice, or it has lines outside them that ``old``
    does not have (an import the change needs, say: then a plain rewrite is what it meant)."""
    if not language or not snippet.strip():
        return None
    old_defs, new_defs = _top_level(old, language), _top_level(snippet, language)
    if not new_defs:
        return None
    by_key: dict[tuple[str, str], list[Definition]] = {}
    for d in old_defs:
        by_key.setdefault((d.name, d.kind), []).append(d)
    new_keys = [(d.name, d.kind) for d in new_defs]
    if len(set(new_keys)) != len(new_keys) or any(len(by_key.get(k, ())) != 1 for k in new_keys):
        return None
    old_lines = old.splitlines(keepends=True)
    snippet_lines = snippet.splitlines(keepends=True)
    if snippet_lines and not snippet_lines[-1].endswith("\n"):
        snippet_lines[-1] += "\n"
    spans = [_span(snippet_lines, d) for d in new_defs]
    inside = {i for start, end in spans for i in range(start, end)}
    known = {line.strip() for line in old_lines}
    if any(line.strip() and line.strip() not in known
           for i, line in enumerate(snippet_lines) if i not in inside):
        return None
    replacements = sorted(((_span(old_lines, by_key[key][0]), snippet_lines[start:end])
                           for key, (start, end) in zip(new_keys, spans)), reverse=True)
    for (start, end), lines in replacements:
        old_lines[start:end] = lines
    return "".join(old_lines)
