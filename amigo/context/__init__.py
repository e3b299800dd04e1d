"""Repository context for an edit request: tree-sitter tags, a ranked repo map, a token budget.

Entry point: :func:`build_context`. Command line: ``amigo context`` (see :mod:`amigo.context.cli`).
"""

from amigo.context.build import ContextResult, build_context, warm_index

__all__ = ["ContextResult", "build_context", "warm_index"]
