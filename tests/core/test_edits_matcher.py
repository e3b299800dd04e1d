"""The matcher's bounds (files of repeated lines) and SEARCH texts that lost a blank line.

Real-shaped cases come from the standard library of the interpreter running
the tests (read at run time, never copied): windows of real functions with
the edits and copying mistakes models make.
"""

from __future__ import annotations

import random
import sysconfig
from difflib import SequenceMatcher
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amigo import edits
from amigo.edits import EditBlock, EditError
from amigo.edits import match as matcher
from amigo.edits import sequence

STDLIB = Path(sysconfig.get_paths()["stdlib"])
REAL_FILES = ["textwrap.py", "statistics.py", "shlex.py", "fnmatch.py"]


def apply(text: str, search: str, replace: str) -> str:
    return edits.apply_block(text, EditBlock(None, search, replace, 0))[0]


def _edit_windows(text: str, seed: int) -> list[tuple[list[str], int, int]]:
    """(lines, changed line, interior blank line) around real code: a non-blank line to
    change two or more lines away from a blank line that sits between non-blank lines."""
    lines = text.splitlines(keepends=True)
    rng = random.Random(seed)
    found = []
    for b in range(2, len(lines) - 2):
        if lines[b].strip() or not lines[b - 1].strip() or not lines[b + 1].strip():
            continue
        for c in (b - 3, b + 3):
            if 0 <= c < len(lines) and lines[c].strip() and "def " not in lines[c]:
                found.append((lines, c, b))
    rng.shuffle(found)
    return found[:25]


def _cases(name: str) -> list[tuple[str, str, str, str, str]]:
    """(file, SEARCH, REPLACE, wanted file, REPLACE without the blank line) with SEARCH
    six lines around the change that lost its interior blank line; REPLACE as the
    model meant it (blank kept), or as the same careless copy writes it."""
    path = STDLIB / name
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    out = []
    for lines, c, b in _edit_windows(text, seed=len(name)):
        lo, hi = min(b, c) - 3, max(b, c) + 4
        if lo < 0 or hi > len(lines):
            continue
        changed = lines[c].rstrip("\n") + "  # changed\n"
        window = lines[lo:hi]
        new_window = [changed if lo + i == c else line for i, line in enumerate(window)]
        search = "".join(line for i, line in enumerate(window) if lo + i != b)
        wanted = "".join(lines[:lo] + new_window + lines[hi:])
        careless = "".join(line for i, line in enumerate(new_window) if lo + i != b)
        out.append((text, search, "".join(new_window), wanted, careless))
    return out


# ------------------------------------------------------------------ a lost blank line


@pytest.mark.parametrize("name", REAL_FILES)
def test_search_that_lost_an_interior_blank_line_applies(name: str) -> None:
    cases = _cases(name)
    if not cases:
        pytest.skip(f"{name} is not in this interpreter's standard library")
    applied = 0
    for text, search, replace, wanted, _ in cases:
        try:
            got = apply(text, search, replace)
        except EditError as err:  # only a SEARCH that is not unique may be refused
            assert "places" in str(err), str(err)
            continue
        assert got == wanted
        applied += 1
    assert applied >= len(cases) - 2


@pytest.mark.parametrize("name", REAL_FILES)
def test_blank_line_lost_from_search_and_replace_is_kept(name: str) -> None:
    cases = _cases(name)
    if not cases:
        pytest.skip(f"{name} is not in this interpreter's standard library")
    for text, search, _, wanted, careless in cases:
        try:
            got = apply(text, search, careless)
        except EditError as err:
            assert "places" in str(err), str(err)
            continue
        assert got == wanted


CODE = "def total(items):\n    count = 0\n\n    for item in items:\n        count += item\n    return count\n"


def test_lost_blank_line_next_to_new_lines_keeps_replace_as_written() -> None:
    search = "    count = 0\n    for item in items:\n"
    replace = "    count = 0\n\n    items = list(items)\n    for item in items:\n"
    assert apply(CODE, search, replace) == CODE.replace("\n\n    for", "\n\n    items = list(items)\n    for")


def test_lost_blank_line_replaced_by_new_lines_is_still_refused() -> None:
    # did the new line go before the blank line, after it, or in its place? no guess
    with pytest.raises(EditError, match="leaves out line 3"):
        apply(CODE, "    count = 0\n    for item in items:\n",
              "    count = 0\n    items = list(items)\n    for item in items:\n")


def test_lost_blank_line_of_a_double_blank_run_between_functions() -> None:
    text = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    # SEARCH lost one of the two blank lines; REPLACE keeps both (as the file has them)
    got = apply(text, "    return 1\n\ndef b():\n    return 2\n", "    return 1\n\n\ndef b():\n    return 3\n")
    assert got == text.replace("return 2", "return 3")
    # both lost it: the file's two blank lines stay
    got = apply(text, "    return 1\n\ndef b():\n    return 2\n", "    return 1\n\ndef b():\n    return 3\n")
    assert got == text.replace("return 2", "return 3")


TOX_INI = ("[pytest]\nfilterwarnings =\n  error\n\n[flake8]\nmax-line-length = 99\n\n"
           "[testenv:release]\nbasepython = python3\n")


@pytest.mark.parametrize("replace", ["  error\n\n[testenv:release]\n", "  error\n[testenv:release]\n"])
def test_lost_blank_line_beside_a_deleted_section(replace: str) -> None:
    # the [flake8] section goes; SEARCH lost the blank line above it, REPLACE kept it
    # (only SEARCH lost it) or lost it too (the same careless copy): one blank line stays
    search = "  error\n[flake8]\nmax-line-length = 99\n\n[testenv:release]\n"
    assert apply(TOX_INI, search, replace) == TOX_INI.replace("[flake8]\nmax-line-length = 99\n\n", "")


# ------------------------------------------------------------------ bounded work


class Line(str):
    """A line that counts how often it is compared (hashing stays str's)."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        Line.compared += 1
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        Line.compared += 1
        return str.__ne__(self, other)

    __hash__ = str.__hash__


def _comparisons(run, n: int) -> int:
    Line.compared = 0
    run(n)
    return Line.compared


def _repeated(n: int) -> list[str]:
    """n repeated short lines (each its own object, so no identity shortcut) and one
    distinct line near the top."""
    lines = [Line("    pass") for _ in range(n)]
    lines[9] = Line("value = compute(1)")
    return lines


def test_finding_a_long_search_in_repeated_lines_costs_a_few_scans() -> None:
    n = 32_000
    lines = _repeated(n)
    search = [Line("    pass") for _ in range(200)]  # matches almost everywhere
    Line.compared = 0
    found = matcher.find_exact(lines, search, limit=matcher.MAX_PLACES + 1)
    assert found[:3] == [10, 11, 12] and len(found) == matcher.MAX_PLACES + 1
    assert Line.compared <= 6 * n  # not 200 comparisons at each of the n places
    unique = [Line("    pass"), Line("value = compute(1)"), Line("    pass")]
    Line.compared = 0
    assert matcher.find_exact(lines, unique) == [8]
    assert Line.compared <= 6 * n


def test_diff_of_repeated_lines_grows_linearly_and_stays_minimal() -> None:
    def run(n: int) -> None:
        old = _repeated(n)
        new = list(old)
        new[9] = Line("value = compute(2)")
        new[n - 5] = Line("tail = 1")  # a second change far away: the middle stays repeated
        ops = sequence.opcodes(old, new)
        assert [op for op in ops if op[0] != "equal"] == [
            ("replace", 9, 10, 9, 10), ("replace", n - 5, n - 4, n - 5, n - 4)
        ]

    small, large = _comparisons(run, 8_000), _comparisons(run, 32_000)
    assert large <= 4.5 * small


def test_one_line_edit_in_repeated_lines_applies_and_diffs() -> None:
    text = "".join(line + "\n" for line in _repeated(32_000))
    answer = "m.py\n<<<<<<< SEARCH\nvalue = compute(1)\n=======\nvalue = compute(2)\n>>>>>>> REPLACE\n"
    result = edits.apply_answer(answer, {"m.py": text}, "m.py")
    new = text.replace("compute(1)", "compute(2)")
    assert result.new_texts == {"m.py": new}
    assert edits.unified_diff("m.py", text, new).count("\n-") == 1
    assert [(h.old_start, h.old_lines, h.new_lines) for h in edits.hunks(text, new)] == [
        (10, ["value = compute(1)\n"], ["value = compute(2)\n"])
    ]


def test_search_in_many_places_stops_counting() -> None:
    text = "    pass\n" * 5_000
    with pytest.raises(EditError, match=f"matches more than {matcher.MAX_PLACES} places"):
        apply(text, "    pass\n    pass\n", "    return\n")
    with pytest.raises(EditError, match=f"matches more than {matcher.MAX_PLACES} places"):
        apply(text, "  pass\n  pass\n", "  return\n")  # the whitespace tier too


RECORD = "def handler(event):\n    value = event.payload\n    return value\n\n"
TYPO = "def handler(event):\n    value = event.paylod\n    return value\n"


def test_fuzzy_match_in_many_places_stops_counting() -> None:
    text = RECORD * 10_000
    with pytest.raises(EditError, match=f"matches more than {matcher.MAX_PLACES} places"):
        apply(text, TYPO, TYPO.replace("paylod", "body"))


def test_fuzzy_tier_gives_up_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher, "FUZZY_SCAN", 1_000)
    with pytest.raises(EditError, match="resembles so many places") as info:
        apply(RECORD * 1_000, TYPO, TYPO.replace("paylod", "body"))
    assert "copy the lines into SEARCH exactly" in str(info.value)


def test_fuzzy_tier_still_finds_a_unique_typo() -> None:
    text = "".join(f"value_{i} = compute({i})\n" for i in range(3_000))
    search = "value_10 = compute(10)\nvalue_11 = compute(l1)\nvalue_12 = compute(12)\nvalue_13 = compute(13)\n"
    replace = search.replace("compute(13)", "compute(-13)")
    assert apply(text, search, replace) == text.replace("compute(13)\n", "compute(-13)\n", 1)


# ------------------------------------------------------------------ the diff itself


lines_st = st.lists(st.sampled_from(["a", "b", "", "c", "a"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(lines_st, lines_st)
def test_myers_diff_is_a_shortest_edit(a: list[str], b: list[str]) -> None:
    ops = sequence._opcodes_of(sequence._myers(a, b), len(a), len(b))
    rebuilt: list[str] = []
    for tag, a1, a2, b1, b2 in ops:
        if tag == "equal":
            assert a[a1:a2] == b[b1:b2]
        rebuilt += b[b1:b2]
    assert rebuilt == b
    kept = sum(a2 - a1 for tag, a1, a2, _, _ in ops if tag == "equal")
    lcs = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            lcs[i][j] = lcs[i + 1][j + 1] + 1 if a[i] == b[j] else max(lcs[i + 1][j], lcs[i][j + 1])
    assert kept == lcs[0][0]


@settings(max_examples=300, deadline=None)
@given(lines_st, lines_st, st.integers(0, 4))
def test_small_diffs_and_hunks_are_difflibs(a: list[str], b: list[str], context: int) -> None:
    sm = SequenceMatcher(None, a, b, autojunk=False)
    assert sequence.opcodes(a, b) == sm.get_opcodes()
    theirs = [g for g in sm.get_grouped_opcodes(context) if any(op[0] != "equal" for op in g)]
    assert sequence.grouped(sequence.opcodes(a, b), context) == theirs


def test_costly_diff_falls_back_to_one_replacement_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sequence, "MAX_EDIT_DISTANCE", 3)
    monkeypatch.setattr(sequence, "PAIR_BUDGET", 10)
    a = ["x"] * 50 + ["y", "x"] * 10 + ["q"] + ["x"] * 50
    b = ["x"] * 50 + ["z", "x"] * 10 + ["r"] + ["x"] * 50
    assert sequence.opcodes(a, b) == [
        ("equal", 0, 50, 0, 50), ("replace", 50, 71, 50, 71), ("equal", 71, 121, 71, 121)
    ]
