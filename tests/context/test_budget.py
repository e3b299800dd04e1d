"""The token estimate: the fast scans agree with the piece-by-piece definition."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from amigo.context.budget import _count_by_scans, count_pieces, estimate_tokens, fit_lines

# ASCII code and prose, line breaks and deep indentation, and non-ASCII letters,
# box drawing and emoji (unicode whitespace such as U+00A0 is left out: the scans
# count it as a non-ASCII character, the pieces as a space; both are pessimistic)
ALPHABET = st.sampled_from(list("abcXYZ_09 .,:;(){}[]<>=+-*/\"'#@\\\t\n\r") + ["        ", "é", "中", "╙", "😀"])


@settings(max_examples=400)
@given(st.lists(ALPHABET, max_size=300).map("".join))
def test_scans_agree_with_pieces(text: str) -> None:
    assert _count_by_scans(text) == count_pieces(text)
    assert estimate_tokens(text) == count_pieces(text)


def test_known_counts() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcdefg") == 2  # seven letters: two tokens
    assert estimate_tokens("x = 1234\n") == 1 + 1 + 2 + 1
    assert estimate_tokens("\n            deep") == 2 + 1  # a break before deep indentation
    assert estimate_tokens("é" * 500) == 1000  # long texts take the scanning path


def test_fit_lines_keeps_the_longest_prefix_that_fits() -> None:
    lines = [f"line_{i} = {i}" for i in range(50)]
    kept = fit_lines(lines, 40, estimate_tokens)
    assert estimate_tokens("\n".join(kept)) <= 40 < estimate_tokens("\n".join(lines[:len(kept) + 1]))
    assert fit_lines(lines, 0, estimate_tokens) == []
