"""THE prompt contract: one request becomes chat messages here, and nowhere else.

Serving (``amigo.engine``) and training (``amigo_train``) both call these
functions, so a model is trained on exactly the layout it is later asked in.
Everything a prompt needs is in :class:`EditRequest`; nothing here touches
the disk, git or the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from amigo.edits.contract import (
    DIVIDER, PATH_PLACEHOLDER, REPLACE_MARK, REPLACE_PLACEHOLDER, SEARCH_MARK, SEARCH_PLACEHOLDER, EditFormat,
)
from amigo.edits.lines import split_lines
from amigo.filetypes import language_of
from amigo.paths import check_relative


# The one instruction of a "fix" request (the LSP's quick fix, the TUI's fix key,
# bug-fix training pairs that come without one): the problem itself travels as
# diagnostics, under "Problems reported". One wording, so that training data and
# requests never teach the model two phrasings of the same request.
FIX_INSTRUCTION = "Fix this bug"


@dataclass(frozen=True)
class Diagnostic:
    """A compiler/linter/test message the person wants addressed (lines 1-based)."""

    message: str
    start_line: int
    end_line: int | None = None
    severity: str = "error"
    source: str | None = None


@dataclass(frozen=True)
class ContextSection:
    """One piece of repository context, already rendered as text.

    ``kind`` is one of: ``scope``, ``imports``, ``definitions``, ``repo_map``,
    ``uncommitted`` (others are shown under their title). The context builder
    orders and budgets them; this module only lays them out.
    """

    kind: str
    title: str
    text: str


@dataclass(frozen=True)
class EditRequest:
    """Everything the model is told about one edit.

    ``selection`` is a 1-based inclusive line range of ``file_text``, or None
    for the whole file. ``path`` is relative to the repository root, with
    forward slashes.
    """

    instruction: str
    path: str
    file_text: str
    selection: tuple[int, int] | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    context: tuple[ContextSection, ...] = ()
    edit_format: EditFormat = "blocks"

    @property
    def language(self) -> str:
        return language_of(self.path)

    def selected_text(self) -> str:
        """The selected lines (with their line endings), or the whole file."""
        if self.selection is None:
            return self.file_text
        start, end = self.selection
        lines = split_lines(self.file_text)  # as apply_whole counts the selection's lines
        return "".join(lines[start - 1 : end])


SYSTEM_BLOCKS = f"""You are Amigo, an expert programmer who edits code in a git repository.
Answer with one or more SEARCH/REPLACE blocks and nothing else but a short explanation.
Each block is:

{PATH_PLACEHOLDER}
{SEARCH_MARK}
{SEARCH_PLACEHOLDER}
{DIVIDER}
{REPLACE_PLACEHOLDER}
{REPLACE_MARK}

Rules: SEARCH must copy existing lines exactly, enough to be unique. Keep blocks small:
only the lines that change plus a little context. An empty SEARCH creates a new file.
To delete lines, leave REPLACE empty."""

SYSTEM_WHOLE = """You are Amigo, an expert programmer who edits code.
Rewrite the code you are given so that it follows the instruction.
Answer with the complete rewritten code in one fenced code block, then stop.
Keep everything the instruction does not ask to change exactly as it was."""


def fence_for(text: str) -> str:
    """A backtick fence longer than any run of backticks inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _fenced(text: str, language: str) -> str:
    fence = fence_for(text)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{language}\n{body}{fence}"


def _context_part(sections: Sequence[ContextSection]) -> str:
    parts = []
    for section in sections:
        if section.text.strip():
            parts.append(f"### {section.title}\n{section.text.rstrip()}")
    return "\n\n".join(parts)


def _diagnostics_part(diagnostics: Sequence[Diagnostic]) -> str:
    lines = []
    for d in diagnostics:
        where = f"line {d.start_line}" if not d.end_line or d.end_line == d.start_line else (
            f"lines {d.start_line}-{d.end_line}"
        )
        source = f" [{d.source}]" if d.source else ""
        lines.append(f"- {d.severity}{source} at {where}: {d.message.strip()}")
    return "\n".join(lines)


def build_messages(request: EditRequest) -> list[dict[str, str]]:
    """Render ``request`` as OpenAI-style chat messages (system + one user turn).

    The file's name must be repository-relative (:func:`amigo.paths.check_relative`):
    a prompt never names a file Amigo may not read.
    """
    check_relative(request.path)
    lang = request.language
    parts: list[str] = []
    context = _context_part(request.context)
    if context:
        parts.append(f"## Repository context\n{context}")
    if request.edit_format == "blocks":
        parts.append(f"## File: {request.path}\n{_fenced(request.file_text, lang)}")
        if request.selection is not None:
            start, end = request.selection
            parts.append(
                f"## Selected lines {start}-{end} of {request.path}\n"
                f"{_fenced(request.selected_text(), lang)}"
            )
    else:
        if request.selection is not None:
            start, end = request.selection
            parts.append(f"## File: {request.path}\n{_fenced(request.file_text, lang)}")
            parts.append(
                f"## Code to rewrite: lines {start}-{end} of {request.path}\n"
                f"{_fenced(request.selected_text(), lang)}"
            )
        else:
            parts.append(f"## Code to rewrite: {request.path}\n{_fenced(request.file_text, lang)}")
    if request.diagnostics:
        parts.append(f"## Problems reported\n{_diagnostics_part(request.diagnostics)}")
    parts.append(f"## Instruction\n{request.instruction.strip()}")
    system = SYSTEM_BLOCKS if request.edit_format == "blocks" else SYSTEM_WHOLE
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


REPAIR_BLOCKS = ("Answer again with SEARCH/REPLACE blocks that fix this. Copy the SEARCH lines exactly "
                 "from the file as it is now (your earlier answer was not applied).")
REPAIR_WHOLE = ("Answer again with the complete rewritten code in one fenced code block that fixes this, "
                "keeping everything the instruction does not ask to change.")


def repair_messages(messages: Sequence[dict[str, str]], answer: str, problem: str,
                    edit_format: str) -> list[dict[str, str]]:
    """The conversation that asks again after ``answer`` failed: the request, the failed
    answer, then the exact problem (what did not match and the closest lines, or the
    syntax error and its line). The file itself is unchanged, so it is not repeated."""
    ask = REPAIR_BLOCKS if edit_format == "blocks" else REPAIR_WHOLE
    return [
        *messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": f"Your answer cannot be used:\n{problem.strip()}\n\n{ask}"},
    ]


TURNED_DOWN_HEADING = "## An earlier answer was turned down"  # heads the problem in a restated request


def restated_messages(messages: Sequence[dict[str, str]], problem: str,
                      edit_format: str) -> list[dict[str, str]]:
    """The request asked again with the problem of an answer that failed, but not that answer.

    A small model shown its own failed answer mostly writes it again word for
    word, however it is told what is wrong (benchmarks/RESULTS.md, "Asking
    again without the failed answer"): left out of sight, the answer cannot be
    copied, and the problem still says what to avoid (the syntax error and its
    line, the definition it dropped, the SEARCH text that matched nothing).
    """
    ask = REPAIR_BLOCKS if edit_format == "blocks" else REPAIR_WHOLE
    *head, last = messages
    return [
        *head,
        {"role": last["role"],
         "content": f"{last['content']}\n\n{TURNED_DOWN_HEADING}\n{problem.strip()}\n\n{ask}"},
    ]


def render_answer(request: EditRequest, new_file_text: str) -> str:
    """The ideal model answer that turns ``request.file_text`` into ``new_file_text``.

    Training uses this as the target completion. For the ``blocks`` format it is
    ``amigo.edits.render``'s minimal blocks; for ``whole`` it is the rewritten
    selection (or file) in one fence. Raises ValueError when a ``whole`` answer
    cannot express the change (it touches lines outside the selection).
    """
    from amigo import edits  # local: edits imports nothing from here, keep it that way

    if request.edit_format == "blocks":
        return edits.render(request.file_text, new_file_text, request.path)
    if request.selection is None:
        return _fenced(new_file_text, request.language)
    old_lines, new_lines = split_lines(request.file_text), split_lines(new_file_text)
    start, end = request.selection
    prefix, suffix = old_lines[: start - 1], old_lines[end:]
    if new_lines[: len(prefix)] != prefix or (
        suffix and new_lines[len(new_lines) - len(suffix):] != suffix
    ) or len(new_lines) < len(prefix) + len(suffix):
        raise ValueError("the change reaches outside the selection; use the blocks format")
    middle = new_lines[len(prefix) : len(new_lines) - len(suffix)]
    return _fenced("".join(middle), request.language)
