"""Applying whole answers: blocks across files, or a whole-file/selection rewrite."""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from amigo.edits.contract import EDIT_FORMATS
from amigo.edits.lines import BOM, key, newline_of, split_bom, split_lines
from amigo.edits.match import apply_block_to
from amigo.edits.model import AppliedAnswer, EditBlock, EditError
from amigo.edits.parse import (CLOSE_RE, DIVIDER_RE, OPEN_RE, find_fences, marker_count, parse_blocks, parse_whole,
                               whole_prose)


def apply_block(text: str, block: EditBlock, path: str | None = None) -> tuple[str, str]:
    """Apply one block to ``text``: (new text, tier). Raises EditError naming the block.

    A file's byte order mark stays: the block applies to the text after it,
    and a BOM the model copied into SEARCH (with or without REPLACE) is not
    taken as content to match or remove.
    """
    bom, body = split_bom(text)
    if bom and block.search.startswith(BOM):
        block = replace(block, search=block.search[1:],
                        replace=block.replace[1:] if block.replace.startswith(BOM) else block.replace)
    new, tier = apply_block_to(body, block, path)
    return bom + new, tier


def apply_blocks_text(text: str, answer: str) -> str:
    """Apply every block of ``answer`` to ``text`` in order, ignoring paths (render's check)."""
    parsed = parse_blocks(answer)
    if parsed.errors:
        raise EditError(parsed.errors[0])
    for block in parsed.blocks:
        text, _ = apply_block(text, block)
    return text


def apply_whole(text: str, selection: tuple[int, int] | None, replacement: str) -> str:
    """Put ``replacement`` in place of the selected lines (1-based, inclusive) or the file.

    The file's newline style is kept whatever the model wrote, and so is the
    final newline of the selection (or file), and its byte order mark.
    """
    bom, text = split_bom(text)
    if bom:
        return bom + apply_whole(text, selection, split_bom(replacement)[1])
    nl = newline_of(text) if text else newline_of(replacement)
    body = "".join(line.rstrip("\r\n") + nl for line in split_lines(replacement.replace("\r\n", "\n")))
    lines = split_lines(text)
    if selection is None:
        prefix, suffix, old_part = [], [], text
    else:
        start, end = selection
        if not (1 <= start <= end <= max(len(lines), 1)):
            raise EditError(
                f"The selection {start}-{end} is outside the file, which has {len(lines)} lines; "
                "select lines that exist."
            )
        prefix, suffix = lines[: start - 1], lines[end:]
        old_part = "".join(lines[start - 1 : end])
    if body and old_part and not old_part.endswith("\n"):
        body = body[: -len(nl)]
    return "".join(prefix) + body + "".join(suffix)


def _resolve(path: str, files: Mapping[str, str | None]) -> str:
    """The key of ``files`` the model meant by ``path`` (exact, else a unique suffix match)."""
    if path in files:
        return path
    hits = [p for p in files if p.endswith("/" + path) or path.endswith("/" + p)]
    return hits[0] if len(hits) == 1 else path


def apply_answer(
    answer: str,
    files: Mapping[str, str | None],
    default_path: str,
    edit_format: str = "blocks",
    selection: tuple[int, int] | None = None,
    allow_partial: bool = False,
) -> AppliedAnswer:
    """Apply a model answer to ``files`` (path -> text, None = missing); nothing on disk changes.

    All-or-nothing unless ``allow_partial``: when a block fails, ``new_texts``
    is empty and ``errors`` lists every failing block. Paths not in ``files``
    count as missing, so only an empty SEARCH can create them; deciding which
    paths are allowed is the caller's job.
    """
    if edit_format not in EDIT_FORMATS:
        raise ValueError(f"unknown edit format {edit_format!r}; use one of {EDIT_FORMATS}")
    parsed = parse_blocks(answer)
    if edit_format == "whole" and not parsed.blocks and not parsed.errors:
        return _apply_whole_answer(answer, files, default_path, selection)
    errors = list(parsed.errors)
    if not parsed.blocks and not parsed.errors:
        hint = (
            " It has a fenced code block: ask again with the whole format (--format whole)."
            if find_fences(answer) else ""
        )
        errors.append("The answer contains no SEARCH/REPLACE blocks, so there is nothing to apply." + hint)
    current: dict[str, str | None] = {}
    tiers: list[str] = []
    for block in parsed.blocks:
        path = _resolve(block.path or default_path, files)
        text = current[path] if path in current else files.get(path)
        if text is None and block.search:
            errors.append(
                f"Block {block.index + 1} ({path}): no such file; check the path (a block can only "
                "create a file with an empty SEARCH section)."
            )
            continue
        try:
            new, tier = apply_block(text or "", block, path)
        except EditError as err:
            errors.append(str(err))
            continue
        current[path] = new
        tiers.append(tier)
    if errors and not allow_partial:
        return AppliedAnswer({}, parsed.prose, tuple(tiers), tuple(errors))
    changed = {p: t for p, t in current.items() if t is not None and t != files.get(p)}
    return AppliedAnswer(changed, parsed.prose, tuple(tiers), tuple(errors))


def _apply_whole_answer(
    answer: str, files: Mapping[str, str | None], path: str, selection: tuple[int, int] | None
) -> AppliedAnswer:
    prose = whole_prose(answer)
    try:
        code = parse_whole(answer)
        text = files.get(path)
        if text is None and selection is not None:
            raise EditError(f"{path} does not exist, so lines {selection[0]}-{selection[1]} cannot be rewritten.")
        new = apply_whole(text or "", selection, code)
    except EditError as err:
        return AppliedAnswer({}, prose, (), (str(err),))
    changed = {path: new} if new != files.get(path) else {}
    return AppliedAnswer(changed, prose, ("whole",), ())


def failed_search(answer: str, files: Mapping[str, str | None], default_path: str) -> str | None:
    """For a blocks answer still being written whose last complete line ends a SEARCH section:
    the answer so far, that block closed with an empty REPLACE, when its SEARCH cannot be placed
    (it matches nothing, or several places) or an earlier block fails; else None.

    The rest of such an answer is never used, since one failing block refuses it
    all, so the engine stops reading there and sends the problem back at once (a
    weak model, sampled, often writes its REPLACE on to the token limit). Judged
    by the matcher that applies answers, twice: with an empty REPLACE (what is
    returned) and with REPLACE = SEARCH (which changes nothing, so no error can
    come from the REPLACE still unwritten); only the same errors both times stop
    the answer, so one that would have applied is never stopped. Only when every
    block names a file in ``files`` (a block for another file is judged once the
    whole answer is read) and the SEARCH is not empty (an empty one appends its
    REPLACE).
    """
    written = answer[: answer.rfind("\n") + 1]  # the line being written is not judged
    last = written[written.rfind("\n", 0, len(written) - 1) + 1 :]
    if not (width := marker_count(key(last), DIVIDER_RE)):  # the engine asks at every line: stay cheap
        return None
    lines = split_lines(written)
    opened = next((i for i in range(len(lines) - 2, -1, -1)
                   if any(marker_count(key(lines[i]), m) for m in (OPEN_RE, CLOSE_RE, DIVIDER_RE))), None)
    if opened is None or not marker_count(key(lines[opened]), OPEN_RE):
        return None  # the divider does not end an open block's SEARCH
    search = "".join(lines[opened + 1 : -1])
    if not search.strip():
        return None
    closer = ">" * width + " REPLACE\n"
    closed = written + closer
    parsed = parse_blocks(closed)
    if parsed.errors or not parsed.blocks:
        return None
    if any(_resolve(b.path, files) not in files for b in parsed.blocks if b.path):
        return None
    errors = apply_answer(closed, files, default_path, "blocks", allow_partial=True).errors
    if not errors:
        return None
    unchanged = written + search + closer
    same = apply_answer(unchanged, files, default_path, "blocks", allow_partial=True).errors
    return closed if same == errors else None
