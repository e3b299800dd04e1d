"""SEARCH/REPLACE edits: parse model answers, apply them safely, render (old, new) back.

The contract between serving and training: answers are parsed and applied
here at run time, and training targets are rendered here by ``render``, for
which ``apply(old, render(old, new)) == new`` always holds.

Matching tiers, in order: ``exact``, ``whitespace`` (indent drift, trailing
spaces, blank lines), ``elision`` (``...`` lines standing for unchanged
runs), ``fuzzy`` (a unique window at least 90% similar whose first and last
lines match). Several matches, or none, is an :class:`EditError`.
"""

from __future__ import annotations

from amigo.edits.apply import apply_answer, apply_block, apply_blocks_text, apply_whole, failed_search
from amigo.edits.contract import EDIT_FORMATS, EditFormat
from amigo.edits.diff import Hunk, apply_hunks, hunks, unified_diff
from amigo.edits.loops import LoopWatch
from amigo.edits.model import AppliedAnswer, EditBlock, EditError, ParsedAnswer
from amigo.edits.parse import find_fences, has_closed_fence, parse_blocks, parse_whole, why_no_path
from amigo.edits.render import render

__all__ = [
    "EDIT_FORMATS", "AppliedAnswer", "EditBlock", "EditError", "EditFormat", "Hunk", "LoopWatch", "ParsedAnswer",
    "apply_answer", "apply_block", "apply_blocks_text", "apply_hunks", "apply_whole", "failed_search", "find_fences",
    "has_closed_fence", "hunks", "parse_blocks", "parse_whole", "render", "unified_diff", "why_no_path",
]
