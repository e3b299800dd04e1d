"""The edit contract's vocabulary: which answer formats exist and how a block is marked.

Everything that asks for, constrains, parses or renders an answer (the prompt,
the grammars, the parser, training targets, configuration and the editors'
settings) takes these names from here, so a new edit format or a change of
marker is made in one place.
"""

from __future__ import annotations

from typing import Literal, get_args

# ``blocks``: SEARCH/REPLACE blocks; ``whole``: one fenced rewrite of the file or selection.
EditFormat = Literal["blocks", "whole"]
EDIT_FORMATS: tuple[str, ...] = get_args(EditFormat)

# The markers at the width we write; the parser also accepts wider (and, from weak
# models, narrower) runs of the same character, see ``amigo.edits.parse``.
SEARCH_MARK = "<<<<<<< SEARCH"
DIVIDER = "======="
REPLACE_MARK = ">>>>>>> REPLACE"
# Lines that would read as block markers to a parser; replacement text and
# explanations may not start with them.
MARKER_PREFIXES = ("<<<<<<<", "=======", ">>>>>>>")
# What the prompt's picture of one block says in place of a real path, SEARCH and REPLACE: a
# weak model sometimes copies these lines into its answer, which is never a right change.
PATH_PLACEHOLDER = "path/of/the/file"
SEARCH_PLACEHOLDER = "lines copied exactly from the file"
REPLACE_PLACEHOLDER = "the new lines that replace them"
PLACEHOLDERS = (PATH_PLACEHOLDER, SEARCH_PLACEHOLDER, REPLACE_PLACEHOLDER)
