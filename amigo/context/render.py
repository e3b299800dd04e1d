"""Compact text for definitions: file path, enclosing class, signature lines."""

from __future__ import annotations

from amigo.context.tags import CONTAINER_KINDS, Definition, FileTags

MAX_MEMBERS = 8


def container_of(tags: FileTags, definition: Definition) -> Definition | None:
    """The class (or other container) definition that encloses ``definition``."""
    scope = definition.scope
    if not scope:
        return None
    best = None
    for other in tags.containers:
        if (other.name == scope
                and other.first_line <= definition.first_line and other.last_line >= definition.last_line):
            best = other  # the innermost one wins (later starts are nested deeper)
    return best


def members_of(tags: FileTags, container: Definition, limit: int = MAX_MEMBERS) -> list[Definition]:
    """Direct members of a class: public first, in source order, at most ``limit``."""
    name, first, last = container.name, container.first_line, container.last_line
    inside = [d for d in tags.definitions
              if d.scope == name and first <= d.first_line and d.last_line <= last and d is not container]
    public = [d for d in inside if not d.name.startswith("_") or d.name == "__init__"]
    private = [d for d in inside if d not in public]
    return (public + private)[:limit]


def entry_lines(tags: FileTags, definition: Definition, with_members: bool) -> list[tuple[int, str]]:
    """(line number, text) pairs that show ``definition`` (its class first when it has one)."""
    lines: list[tuple[int, str]] = []
    parent = container_of(tags, definition)
    if parent is not None:
        lines.extend(signature_lines(parent))
    lines.extend(signature_lines(definition))
    if with_members and definition.kind in CONTAINER_KINDS:
        for member in members_of(tags, definition):
            lines.extend(signature_lines(member))
    return lines


def signature_lines(definition: Definition) -> list[tuple[int, str]]:
    """(line number, text) pairs of the definition's signature."""
    start = definition.first_line
    return [(start + i, text) for i, text in enumerate(definition.signature.splitlines())]


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
