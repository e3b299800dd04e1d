"""Repository context for an edit request: tree-sitter tags, a ranked repo map, a token budget.

Entry point: :func:`build_context`. Command line: ``amigo context`` (see :mod:`amigo.context.cli`).

The names are loaded on first use (PEP 562): the parse workers import only
``amigo.context.pool`` and its tree-sitter modules, not the ranking code and
numpy, which halves a worker's start-up and so the cold index of a small repository.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amigo.context.build import ContextResult, build_context, warm_index

__all__ = ["ContextResult", "build_context", "warm_index"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from amigo.context import build

        return getattr(build, name)
    raise AttributeError(f"module 'amigo.context' has no attribute {name!r}")
