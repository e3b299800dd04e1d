"""Compact text for definitions: file path, enclosing class, signature lines."""

from __future__ import annotations

from amigo.context.tags import CONTAINER_KINDS, Definition, FileTags

MAX_MEMBERS = 8


def container_of(tags: FileTags, definition: Definition) -> Definition | None:
    """The class (or other container) definition that encloses ``definition``."""
    scope = definition[4]
    if not scope:
        return None
    best = None
    for other in tags.definitions:
        if (other[0] == scope and other[1] in CONTAINER_KINDS
                and other[2] <= definition[2] and other[3] >= definition[3]):
            best = other  # the innermost one wins (later starts are nested deeper)
    return best


def members_of(tags: FileTags, container: Definition, limit: int = MAX_MEMBERS) -> list[Definition]:
    """Direct members of a class: public first, in source order, at most ``limit``."""
    inside = [d for d in tags.definitions
              if d[4] == container[0] and container[2] <= d[2] and d[3] <= container[3] and d is not container]
    public = [d for d in inside if not d[0].startswith("_") or d[0] == "__init__"]
    private = [d for d in inside if d not in public]
    return (public + private)[:limit]


def entry_lines(tags: FileTags, definition: Definition, with_members: bool) -> list[tuple[int, str]]:
    """(line number, text) pairs that show ``definition`` (its class first when it has one)."""
    lines: list[tuple[int, str]] = []
    parent = container_of(tags, definition)
    if parent is not None:
        lines.extend(signature_lines(parent))
    lines.extend(signature_lines(definition))
    if with_members and definition[1] in CONTAINER_KINDS:
        for member in members_of(tags, definition):
            lines.extend(signature_lines(member))
    return lines


def signature_lines(definition: Definition) -> list[tuple[int, str]]:
    start = definition[2]
    return [(start + i, text) for i, text in enumerate(definition[5].splitlines())]


def render_groups(groups: list[tuple[str, list[tuple[int, str]]]]) -> str:
    """Render per-file line sets: the path, then its lines in order with gaps marked."""
    out: list[str] = []
    for path, pairs in groups:
        out.append(f"{path}:")
        last = None
        for number, text in sorted(set(pairs)):
            if last is not None and number > last + 1:
                out.append("⋮")
            out.append(text)
            last = number
        out.append("")
    return "\n".join(out).rstrip() + "\n" if out else ""
