"""The instruction-scope check: a request for documentation or one rename must leave the code as it was.

The shapes come from the embedded model's answers in benchmarks/trust.py runs (a docstring asked
and the arithmetic changed; a rename asked and the logic changed on the way) and from real commits
(benchmarks/scope_history.py: type hints that need a TypeVar, a test class renamed with its
function, an ``__all__`` kept sorted).
"""

from __future__ import annotations

import pytest

from amigo.checks import check_change, check_changes
from amigo.scope import Scope, read_scope, scope_difference

from helpers import RecordedModelServer
from test_trust import amigo, first_time_then

DOCS = Scope("documentation")


@pytest.mark.parametrize("instruction", [
    "Add a docstring explaining the h, l, s arguments.",
    "Add a docstring that says the inputs and outputs are floats in [0, 1].",
    "Add type hints: text is str, width is int, and it returns str.",
    "Add a docstring and type hints (s: str, amount: int) -> str.",
    "Update the convolve docstring.",
    "Issue 1215: Add docstring note for iter_index on using range objects.",
    "Use `.. deprecated::` directive for `pairwise`.",
    "Remove redundant u-prefix strings.",
    "Add comments",
    "Type hints for function signatures",
    "tests: tidy docstrings",
    "Remove the commented-out code",
])
def test_instructions_asking_only_for_documentation_are_read_so(instruction):
    assert read_scope(instruction) == DOCS


@pytest.mark.parametrize("instruction", [
    "Add a docstring and fix the off-by-one.",
    "Add a docstring. Also return None on error.",
    "Add type hints; return an empty list for None",
    "Add a comment explaining the loop and remove the print.",
    "Add a timeout parameter and document it.",
    "Document/test copy.replace",
    "comments + remove self",
    "Raise ValueError as documented.",
    "Fix the bug described in the comment.",
    "Add the missing check the docstring mentions",
    "Make it behave as the docstring says.",
    "Fix review comments",
    "Address PR comments",
    "Fix typing issues",
    "cli: Fix docstring processing with Python 3.13+",
    "Use the Furo documentation theme",
    "Comment out the debug print",
    "docs: fix markup",
    "Infer type annotations from converters",
    "Updated docs on autoescaping and made select_autoescape case insensitive",
    "Return the index where x was inserted.",
])
def test_instructions_that_may_change_code_are_not_read_as_documentation(instruction):
    assert read_scope(instruction) is None


@pytest.mark.parametrize("instruction, old, new", [
    ("Rename the parameter s to text everywhere in the function.", "s", "text"),
    ("Rename the local variable result to matches.", "result", "matches"),
    ("Rename newitem to item.", "newitem", "item"),
    ("Rename the parameter str to value so it does not shadow the builtin.", "str", "value"),
    ("Rename `to_dict` to `asdict`", "to_dict", "asdict"),
])
def test_a_single_rename_is_read_with_its_names(instruction, old, new):
    assert read_scope(instruction) == Scope("rename", old, new)


@pytest.mark.parametrize("instruction", ["Rename x to y and return early when empty.", "Rename x to x",
                                         "Rename the helpers and merge them"])
def test_a_rename_with_more_to_do_is_not_a_rename_scope(instruction):
    assert read_scope(instruction) is None


HLS = '''def hls_to_rgb(h, l, s):
    if s == 0.0:
        return l, l, l
    if l <= 0.5:
        m2 = l * (1.0 + s)
    else:
        m2 = l + s - (l * s)
    return m2, m2, m2
'''


def test_documentation_work_keeps_the_code_through_hints_imports_and_typevars():
    documented = '''from typing import TypeVar, cast

Level = TypeVar("Level", bound=float)


def hls_to_rgb(h: float, l: float, s: float) -> tuple[float, float, float]:
    """Convert HLS to RGB.

    h, l and s are floats in [0, 1].
    """
    if s == 0.0:
        # grey: every channel is the lightness
        return l, l, l
    if l <= 0.5:
        m2: float = l * (1.0 + s)
    else:
        m2 = cast(float, l + s - (l * s))
    return m2, m2, m2
'''
    assert scope_difference(HLS, documented, DOCS) is None
    assert scope_difference('x = u"a"\n', 'x = "a"\n', DOCS) is None  # the u prefix changes nothing


def test_code_only_type_checkers_read_counts_as_hints():
    """Real commits of responses and tenacity: "Fix type annotation for `CallList`" gave a base its
    parameters, "Fix annotations of CallList" added ``@overload`` signatures, "Fix `retry()`
    annotations" added a Protocol for a return hint. None of them runs differently."""
    old = ("from typing import Any, Protocol, Sequence, overload\n\n\nclass CallList(Sequence):\n"
           "    def __getitem__(self, idx):\n        return self.calls[idx]\n")
    hinted = old.replace("(Sequence)", "(Sequence[Any])").replace(
        "    def __getitem__", "    @overload\n    def __getitem__(self, idx: int) -> int: ...\n\n    def __getitem__")
    hinted += "\n\nclass _Decorator(Protocol):\n    def __call__(self, fn: Any) -> Any: ...\n"
    assert scope_difference(old, hinted, DOCS) is None
    # another base, or the code changed, is code
    assert scope_difference(old, hinted.replace("(Sequence[Any])", "(list[Any])"), DOCS) == 4
    assert scope_difference(old, old.replace("(Sequence)", "(Sequence, dict)"), DOCS) == 4
    assert scope_difference(old, old.replace("return self.calls[idx]", "return self.calls[idx:]"), DOCS) == 6


def test_documentation_asked_and_the_code_changed_is_found_at_its_line():
    # the embedded model's shape: the docstring is there, and the arithmetic changed with it
    changed = HLS.replace('def hls_to_rgb(h, l, s):\n', 'def hls_to_rgb(h, l, s):\n    """Convert."""\n')
    changed = changed.replace("m2 = l + s - (l * s)", "m2 = l + s - l")
    assert scope_difference(HLS, changed, DOCS) == 8
    (finding,) = check_change("colorsys.py", HLS, changed, "Add a docstring explaining the h, l, s arguments.")
    assert (finding.kind, finding.level, finding.line) == ("out-of-scope", "error", 8)
    assert "m2 = l + s - l" in finding.message and "asks only for documentation" in finding.message
    # the same change asked for in words is not judged by scope
    assert check_change("colorsys.py", HLS, changed, "Add a docstring and simplify the else branch.") == []


def test_the_code_that_builds_the_documentation_may_change_when_documentation_is_asked():
    """markdown-it-py's "DOCS: re-activate code cells" added a Sphinx extension to docs/conf.py."""
    old = 'extensions = [\n    "myst_parser",\n]\n'
    new = old.replace(']', '    "jupyter_sphinx",\n]')
    assert check_change("docs/conf.py", old, new, "Update the docs.") == []
    (finding,) = check_change("src/conf.py", old, new, "Update the docs.")
    assert finding.kind == "out-of-scope"


def test_an_encoding_line_or_a_shebang_removed_is_a_change_of_code():
    """waitress' "Remove coding line" took ``# -*- coding: utf-8 -*-`` away, a comment only in form."""
    old = "# -*- coding: utf-8 -*-\nimport os\n# a note\n"
    assert check_changes([("compat.py", old, old.replace("# -*- coding: utf-8 -*-\n", ""))], "Remove coding line") == []
    assert check_changes([("run.py", "#!/usr/bin/env python\n" + old[24:], old[24:])], "Remove the shebang") == []
    (finding,) = check_changes([("compat.py", old, old.replace("# a note\n", ""))], "Remove coding line")
    assert finding.kind == "not-done"


def test_a_rename_may_reach_call_sites_derived_names_docstrings_and_sorted_lists():
    old = '''__all__ = ["asdict", "ls"]


def ls(cl):
    """Return the fields of ls."""
    return cl.__attrs_attrs__


def asdict(inst):
    return {a.name: getattr(inst, a.name) for a in ls(inst.__class__)}


class TestLs:
    def test_ls(self):
        assert ls(object) is not None
'''
    new = '''__all__ = ["asdict", "fields"]


def fields(cl):
    """Return the attributes of a class."""
    return cl.__attrs_attrs__


def asdict(inst):
    return {a.name: getattr(inst, a.name) for a in fields(inst.__class__)}


class TestFields:
    def test_fields(self):
        assert fields(object) is not None
'''
    assert scope_difference(old, new, Scope("rename", "ls", "fields")) is None
    wrong = new.replace("getattr(inst, a.name)", "a.default")
    assert scope_difference(old, wrong, Scope("rename", "ls", "fields")) == 10


def test_a_rename_of_a_name_the_code_lacks_is_not_judged():
    assert scope_difference("x = 1\n", "y = 2\n", Scope("rename", "imports", "jinja")) is None


def test_text_that_does_not_parse_is_left_to_the_syntax_check():
    assert scope_difference(HLS, HLS + "def (:\n", DOCS) is None


def test_documentation_asked_is_repaired_when_the_first_answer_changes_code(repo):
    changed = ('```python\ndef oldest(users):\n    """The oldest user."""\n'
               '    return min(users, key=lambda u: u.age)\n```\n')
    documented = ('```python\ndef oldest(users):\n    """The oldest user."""\n'
                  '    return max(users, key=lambda u: u.age)\n```\n')
    with RecordedModelServer(first_time_then(changed, documented)) as server:
        result = amigo(repo, "edit", "Add a docstring", "users.py", "--lines", "17-18", "--yes",
                       endpoint=server.base_url)
        assert result.returncode == 0, result.stderr
        repair = server.requests[1]["messages"][3]["content"]
    assert "changes the code at line" in repair and "min(users" in repair and "asks only for documentation" in repair
    text = (repo / "users.py").read_text()
    assert '"""The oldest user."""' in text and "max(users" in text


def test_documentation_asked_and_code_changed_is_refused_under_yes(repo):
    changed = ('```python\ndef oldest(users):\n    """The oldest user."""\n'
               '    return min(users, key=lambda u: u.age)\n```\n')
    before = (repo / "users.py").read_text()
    with RecordedModelServer(lambda body: changed) as server:
        result = amigo(repo, "edit", "Add a docstring", "users.py", "--lines", "17-18", "--yes",
                       endpoint=server.base_url, env={"AMIGO_REPAIR_ATTEMPTS": "0"})
    assert result.returncode == 1
    assert "asks only for documentation" in result.stderr
    assert (repo / "users.py").read_text() == before
