"""Token counting: the served model's tokenizer when the caller has one, else an estimate.

The estimate is calibrated on code against the embedded model's tokenizer
(SmolLM2, a GPT-2 style BPE): it errs on the high side, by about 15% on
average (``python benchmarks/context.py calibrate`` prints the ratio).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

TokenCounter = Callable[[str], int]
_PIECES = re.compile(r"[A-Za-z]+|[0-9]+|\s+|[!-/:-@\[-`{-~]+|[^\x00-\x7f]")


_LETTERS = re.compile(r"[A-Za-z]+")
_DIGITS = re.compile(r"[0-9]+")
_PUNCT = re.compile(r"[!-/:-@\[-`{-~]")
_LINE_BREAKS = re.compile(r"\s*\n([^\S\n]*)")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
SHORT_TEXT = 400  # characters: shorter texts are counted piece by piece, longer ones scanned
LONG_TEXT = 32_768  # characters: texts up to this long are remembered once counted


def estimate_tokens(text: str) -> int:
    """A fast, slightly pessimistic token count for ``text``.

    Letter runs cost one token per six letters, digit runs one per three, each
    punctuation mark one, a line break one (two before deep indentation), a
    non-ASCII character two; spaces inside a line merge into the next word.
    Short texts (signature lines, asked about again on every request) are
    counted piece by piece, longer ones by one regular expression per kind,
    since several C-level scans beat a Python loop over every piece; both are
    remembered, except very long texts.
    """
    if len(text) <= SHORT_TEXT:
        return _count_short(text)
    if len(text) <= LONG_TEXT:
        return _count_remembered(text)
    return _count_by_scans(text)


@lru_cache(maxsize=256)  # at most 8 MB of text
def _count_remembered(text: str) -> int:
    # A rendered section is counted when it is fitted and again when it is added, and
    # a repeated request renders the same sections: hashing a string is far cheaper
    # than scanning it.
    return _count_by_scans(text)


def _count_by_scans(text: str) -> int:
    if text.isascii():
        non_ascii = 0
    else:
        non_ascii = 2 * len(_NON_ASCII.findall(text))
        text = _NON_ASCII.sub("\0", text)  # NUL: joins no run and costs nothing
    letters = sum((len(run) + 5) // 6 for run in _LETTERS.findall(text))
    digits = sum((len(run) + 2) // 3 for run in _DIGITS.findall(text))
    breaks = sum(1 + (len(indent) > 7) for indent in _LINE_BREAKS.findall(text))
    return letters + digits + len(_PUNCT.findall(text)) + breaks + non_ascii


@lru_cache(maxsize=1 << 16)
def _count_short(text: str) -> int:
    return count_pieces(text)


def count_pieces(text: str) -> int:
    """The piece-by-piece definition of the estimate (the scans must agree with it)."""
    total = 0
    for piece in _PIECES.findall(text):
        first = piece[0]
        if first.isascii():
            if first.isalpha():
                total += (len(piece) + 5) // 6
            elif first.isdigit():
                total += (len(piece) + 2) // 3
            elif first.isspace():
                if "\n" in piece:
                    total += 1 + (len(piece) - piece.rfind("\n") > 8)
            else:
                total += len(piece)
        else:
            total += 2
    return total


def fit_lines(lines: list[str], budget: int, count: TokenCounter) -> list[str]:
    """The longest prefix of ``lines`` whose text fits in ``budget`` tokens.

    Lines are costed one by one (short texts are cheap to count and remembered)
    to find the cut, then the joined text is checked once or twice: counting a
    long text repeatedly, as a binary search would, costs more than the rest of
    a request.
    """
    if budget <= 0 or not lines:
        return []
    total = 0
    cut = len(lines)
    for i, line in enumerate(lines):
        total += count(line)
        if i:  # the break before this line: one token, two before deep indentation
            total += 1 + (len(line) - len(line.lstrip()) >= 8)
        if total > budget:
            cut = i
            break
    if cut == len(lines) and count("\n".join(lines)) <= budget:
        return lines
    while cut < len(lines) and count("\n".join(lines[:cut + 1])) <= budget:
        cut += 1  # the per-line sum can overshoot: take what still fits
    while cut > 0 and count("\n".join(lines[:cut])) > budget:
        cut -= 1  # a caller's tokenizer may merge across lines differently
    return lines[:cut]
