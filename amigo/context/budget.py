"""Token counting: the served model's tokenizer when the caller has one, else an estimate.

The estimate is calibrated on code against the embedded model's tokenizer
(SmolLM2, a GPT-2 style BPE): it errs on the high side, by about 15% on
average (``python benchmarks/context.py calibrate`` prints the ratio).
"""

from __future__ import annotations

import re
from typing import Callable

TokenCounter = Callable[[str], int]
_PIECES = re.compile(r"[A-Za-z]+|[0-9]+|\s+|[!-/:-@\[-`{-~]+|[^\x00-\x7f]")


def estimate_tokens(text: str) -> int:
    """A fast, slightly pessimistic token count for ``text``.

    Letter runs cost one token per six letters, digit runs one per three, each
    punctuation mark one, a line break one (two before deep indentation), a
    non-ASCII character two; spaces inside a line merge into the next word.
    """
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
    """The longest prefix of ``lines`` whose text fits in ``budget`` tokens."""
    if budget <= 0:
        return []
    if count("\n".join(lines)) <= budget:
        return lines
    low, high = 0, len(lines)
    while low < high:
        mid = (low + high + 1) // 2
        if count("\n".join(lines[:mid])) <= budget:
            low = mid
        else:
            high = mid - 1
    return lines[:low]
