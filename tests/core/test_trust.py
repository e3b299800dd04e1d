"""Edits you can trust: the check stage, the repair loop, the check command and candidates.

Every test runs the real engine over a real HTTP server (recorded answers, so
the assertions can be exact), real tree-sitter and real git; the last one runs
the loop on the real embedded model.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amigo.checks import check_change, check_changes, judge_answer, python_prefix_error, run_check_command
from amigo.client import ChatClient
from amigo.config import EMBEDDED_MODEL, Config
from amigo.edits import LoopWatch, apply_answer
from amigo.edits.contract import DIVIDER, REPLACE_MARK, SEARCH_MARK
from amigo.engine import EditSession
from amigo.events import AttemptFailedEvent, ProposalEvent, RepairEvent, TokenEvent
from amigo.workspace import Workspace

from helpers import SAMPLE_USERS, RecordedModelServer, git, recorded_session
from helpers import amigo as run_amigo

OLDEST_BROKEN = "```python\ndef oldest(users):\n    return max(users, key=lambda u: u.age))\n```\n"
OLDEST_FIXED = ("```python\ndef oldest(users):\n    if not users:\n        return None\n"
                "    return max(users, key=lambda u: u.age)\n```\n")


session_for = recorded_session


def first_time_then(first: str, then: str):
    """A recorded model that answers ``first`` to a fresh request and ``then`` when asked to repair."""
    return lambda body: then if any(m["role"] == "assistant" for m in body["messages"]) else first


def amigo(repo: Path, *args: str, endpoint: str, env: dict | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess:
    """The real ``amigo`` command (``helpers.amigo``), with feedback off: these tests check edits, not records."""
    return run_amigo(repo, *args, endpoint=endpoint, env={"AMIGO_FEEDBACK__ENABLED": "false", **(env or {})},
                     timeout=timeout)


# -- the check stage ---------------------------------------------------------------------


def test_new_syntax_error_is_found_with_its_line_and_old_ones_are_not(repo):
    old = (repo / "users.py").read_text()
    broken = old.replace("key=lambda u: u.age)", "key=lambda u: u.age))")
    (finding,) = check_change("users.py", old, broken, "return None for no users")
    assert (finding.kind, finding.level, finding.line) == ("syntax", "error", 18)
    assert "line 18" in finding.message and "u.age))" in finding.message
    # a file already broken before the change: only what the change adds counts
    assert check_change("users.py", broken, broken + "\n# a comment\n", "add a comment") == []
    # files no grammar parses are not judged
    assert check_change("notes.txt", "a\n", "a ((\n", "x") == []


def test_an_answer_that_deletes_a_function_is_flagged(repo):
    answer = ('users.py\n<<<<<<< SEARCH\ndef load_users(rows):\n    """Build users from (name, age) rows."""\n'
              "    return [User(name, int(age)) for name, age in rows]\n\n\n=======\n>>>>>>> REPLACE\n")
    with RecordedModelServer(answer) as server:
        session, _ = session_for(repo, server, edit_format="blocks", repair_attempts=0)
        proposal = session.propose(session.make_request("add a docstring to the module", "users.py"))
        asked = session.propose(session.make_request("remove load_users", "users.py"))
    assert proposal.ok and proposal.broken
    assert [f.kind for f in proposal.findings] == ["removed-definition"]
    assert "function load_users" in proposal.findings[0].message
    assert asked.ok and not asked.findings  # asked for: no finding


def test_removing_most_of_the_selection_is_flagged(repo):
    old = "def wrap(text, width):\n    '''Wrap text.'''\n    lines = []\n    for word in text.split():\n" \
          "        lines.append(word)\n    return lines\n"
    gutted = "def wrap(text, width):\n    '''Wrap text.'''\n"
    kinds = [f.kind for f in check_change("wrap.py", old, gutted, "add a width check", selection=(1, 6))]
    assert kinds == ["removed-selection"]
    # asked to shrink, most of the selection may go (a body that ignores its parameters is still flagged)
    shortened = gutted + "    return text.split()[:width]\n"
    assert check_change("wrap.py", old, shortened, "simplify wrap", selection=(1, 6)) == []
    assert [f.kind for f in check_change("wrap.py", old, gutted, "simplify wrap", selection=(1, 6))] == [
        "unused-parameter"]
    # a rename takes a name away, not lines: the body gone is flagged (the embedded model's answer to
    # "Rename the name parameter of testsource to name_value" kept only the signature and docstring)
    renamed_gutted = "def wrap(text, size):\n    '''Wrap text.'''\n"
    kinds = [f.kind for f in check_change("wrap.py", old, renamed_gutted, "Rename the width parameter of wrap to size")]
    assert kinds == ["removed-selection"]
    renamed = old.replace("width", "size")  # the rename done: every line kept
    assert check_change("wrap.py", old, renamed, "Rename the width parameter of wrap to size") == []
    # and a renamed function is not a removed definition
    assert check_change("wrap.py", old, old.replace("def wrap", "def fold"), "rename wrap to fold") == []
    assert check_change("wrap.py", old, old.replace("def wrap", "def fold"), "Rename the function to fold") == []
    # lines that another file of the proposal gains have moved there (sphinx, "Split autodoc loader
    # functions to a new module"), and lines gone without them are still lost
    body = "    lines = []\n    for word in text.split():\n        lines.append(word)\n    return lines\n"
    split = [("wrap.py", old, gutted),
             ("words.py", None, "def split_words(text):\n" + body)]
    assert "removed-selection" not in [f.kind for f in check_changes(split, "Split the loop to a new module")]
    elsewhere = [split[0], ("words.py", None, "def split_words(text):\n    return []\n")]
    assert "removed-selection" in [f.kind for f in check_changes(elsewhere, "Split the loop to a new module")]


def test_a_removal_or_rename_of_something_else_does_not_excuse_a_lost_function():
    """Real answers of the embedded model (trust benchmark, posixpath.dirname and more.side_effect):
    asked to rename a variable it renamed the function; asked to remove u-prefixes it replaced the
    function with an import. Neither instruction speaks of definitions."""
    old = ('def dirname(p):\n    """Returns the directory component."""\n    i = p.rfind("/") + 1\n'
           '    head = p[:i]\n    if head and head != "/" * len(head):\n        head = head.rstrip("/")\n'
           '    return head\n')
    renamed = old.replace("def dirname", "def posixpath")
    kinds = [f.kind for f in check_change("posixpath.py", old, renamed, "Rename the variable head to directory.")]
    assert kinds == ["removed-definition"]
    replaced = "from more_itertools import consume\n"
    findings = check_change("more.py", old, replaced, "Remove redundant u-prefix strings.")
    assert [f.kind for f in findings] == ["removed-definition"] and "function dirname" in findings[0].message
    # removals that speak of definitions may take them away unnamed
    assert check_change("more.py", old, replaced, "Remove the unused functions") == []
    # "strip" in an instruction is about strings: gutting the function is not asked for
    gutted = 'def dirname(p):\n    """Returns the directory component."""\n'
    kinds = [f.kind for f in check_change("posixpath.py", old, gutted, "Also strip single quotes around the path.")]
    assert kinds == ["removed-selection"]


def test_what_is_built_on_a_name_asked_away_may_go_with_it():
    """Real commits (benchmarks/checks_history.py): "Remove pairwise()" took PairwiseTests with it,
    "Replaced IteratorCounterWrapper by countable" the class with its methods, "Remove deprecated
    zip_equal" its private helper _zip_equal. A word that is not written as code excuses nothing."""
    tests = ('import unittest\n\n\nclass PairwiseTests(unittest.TestCase):\n    def test_base_case(self):\n'
             '        self.assertTrue(True)\n\n\nclass ChunkedTests(unittest.TestCase):\n'
             '    def test_even(self):\n        self.assertTrue(True)\n')
    without = tests[:tests.index("class PairwiseTests")] + tests[tests.index("class ChunkedTests"):]
    assert check_change("tests/test_recipes.py", tests, without, "Remove pairwise()") == []
    assert check_change("tests/test_recipes.py", tests, without, "Remove `pairwise`") == []
    # not asked to take anything away, or the word is not code: the loss is found, methods too
    kinds = [f.message.split(",")[0] for f in check_change("tests/test_recipes.py", tests, without,
                                                            "Document pairwise()")]
    assert kinds == ["removes the class PairwiseTests", "removes the method PairwiseTests.test_base_case"]
    assert check_change("tests/test_recipes.py", tests, without, "Remove the pairwise note")  # English, not code
    wrapper = ('class IteratorCounterWrapper:\n    def __init__(self, it):\n        self.it = it\n\n'
               '    def __next__(self):\n        return next(self.it)\n\n\ndef countable(it):\n    return it\n')
    kept = 'def countable(it):\n    return it\n'
    assert check_change("more.py", wrapper, kept, "Replaced IteratorCounterWrapper by countable") == []
    report = 'def print_report(rows):\n    for row in rows:\n        print(row)\n\n\ndef total(rows):\n    return sum(rows)\n'
    gone = 'def total(rows):\n    return sum(rows)\n'
    assert [f.kind for f in check_change("r.py", report, gone, "Remove the print() calls")] == ["removed-definition"]
    # cachetools' "Drop MRUCache.": its function form and the test whose code uses it go with it; a test
    # that uses something else does not
    func = "def lru_cache(n):\n    return n\n\n\ndef mru_cache(n):\n    return n\n"
    assert check_change("func.py", func, func[:func.index("\n\n\ndef mru")] + "\n", "Fix #334: Drop MRUCache.") == []
    decorators = ('import unittest\nimport func\n\n\nclass MRUDecoratorTest(unittest.TestCase):\n'
                  '    def decorator(self, n):\n        return func.mru_cache(n)\n\n\n'
                  'class RRDecoratorTest(unittest.TestCase):\n    def decorator(self, n):\n'
                  '        return func.rr_cache(n)\n')
    no_mru = decorators.replace(decorators[decorators.index("class MRU"):decorators.index("class RR")], "")
    assert check_change("tests/test_func.py", decorators, no_mru, "Drop MRUCache.") == []
    no_rr = decorators[:decorators.index("\n\n\nclass RR")] + "\n"
    lost = check_change("tests/test_func.py", decorators, no_rr, "Drop MRUCache.")
    assert [f.message.split(",")[0] for f in lost] == [
        "removes the class RRDecoratorTest", "removes the method RRDecoratorTest.decorator"]


def test_a_definition_moved_to_another_file_of_the_proposal_is_not_lost():
    """Real commit (attrs, "Implement __replace__ on 3.13"): evolve left _funcs.py for _make.py in
    the same change. Checked file by file it is lost; checked as one proposal it has moved."""
    funcs_old = "def assoc(inst):\n    return inst\n\n\ndef evolve(*args, **changes):\n    return args[0]\n"
    funcs_new = "def assoc(inst):\n    return inst\n"
    make_old = "class Builder:\n    pass\n"
    make_new = make_old + "\n\ndef evolve(*args, **changes):\n    return args[0]\n"
    changes = [("src/attr/_funcs.py", funcs_old, funcs_new), ("src/attr/_make.py", make_old, make_new)]
    assert check_changes(changes, "Implement __replace__ on 3.13") == []
    assert [f.kind for f in check_change(*changes[0], "Implement __replace__ on 3.13")] == ["removed-definition"]
    # gone from both files is lost, whatever the other file does
    assert [f.kind for f in check_changes([changes[0], ("src/attr/_make.py", make_old, make_old + "\nX = 1\n")],
                                          "Implement __replace__")] == ["removed-definition"]
    # a method made a function of another module keeps its name (sphinx, "Extract ``_prepare_docstrings()``");
    # made one in its own file, its callers (``self.evolve``) no longer find it
    method_new = "class Builder:\n    def build(self):\n        return 1\n"
    evolve = "    def evolve(self, **changes):\n        return self\n\n"
    method_old = method_new.replace("    def build", evolve + "    def build")
    extracted = [("src/attr/_make.py", method_old, method_new), ("src/attr/_funcs.py", funcs_new, funcs_old)]
    assert check_changes(extracted, "Extract evolve()") == []
    dedented = method_new + "\n\ndef evolve(self, **changes):\n    return self\n"
    assert [f.kind for f in check_change("src/attr/_make.py", method_old, dedented, "x")] == ["removed-definition"]


def test_a_function_defined_inside_another_is_part_of_its_body():
    """Real commits: "Simpler faster `ichunked`" dropped its inner generator, "drop support for Python
    3.7" the fallback pgettext defined inside install_null_translations. A module-level helper gone
    is still found."""
    old = ("def _helper(x):\n    return x\n\n\ndef ichunked(iterable, n):\n    def generator():\n"
           "        yield from iterable\n\n    return generator()\n")
    simpler = "def _helper(x):\n    return x\n\n\ndef ichunked(iterable, n):\n    return iter(iterable)\n"
    assert check_change("more.py", old, simpler, "Simpler faster `ichunked`") == []
    no_helper = simpler[simpler.index("def ichunked"):]
    finding = check_change("more.py", old, no_helper, "Simpler faster `ichunked`")[0]
    assert (finding.kind, finding.level) == ("removed-definition", "error") and "_helper" in finding.message


def test_a_private_helper_may_go_with_its_last_use():
    """Real commits: "Simpler faster `ichunked`" inlined ``_ichunk``, "leaner cell_len" dropped
    ``_get_codepoint_cell_size``, "Make Converter ... infer the return type" the private methods
    ``self._takes_both`` called. A helper still called, a public one, one the file never called
    (another module may import it) and one another file of the proposal uses are still removed."""
    old = ("def _ichunk(iterator, n):\n    return list(iterator)[:n]\n\n\n"
           "def ichunked(iterable, n):\n    return _ichunk(iter(iterable), n)\n\n\n"
           "class Converter:\n    def _takes_self(self):\n        return True\n\n"
           "    def __call__(self, value):\n        return value if self._takes_self() else None\n")
    inlined = old.replace("def _ichunk(iterator, n):\n    return list(iterator)[:n]\n\n\n", "").replace(
        "_ichunk(iter(iterable), n)", "list(iterable)[:n]")
    assert check_change("more.py", old, inlined, "Simpler faster `ichunked`") == []
    methods = old.replace("    def _takes_self(self):\n        return True\n\n", "").replace(
        "if self._takes_self() else", "if value else")
    assert check_change("more.py", old, methods, "Infer the return type") == []
    # still called: the call is left dangling
    dangling = old.replace("def _ichunk(iterator, n):\n    return list(iterator)[:n]\n\n\n", "")
    assert "removed-definition" in [f.kind for f in check_change("more.py", old, dangling, "Simpler faster `ichunked`")]
    public = old.replace("_ichunk", "chunk_list")
    gone = public.replace("def chunk_list(iterator, n):\n    return list(iterator)[:n]\n\n\n", "").replace(
        "chunk_list(iter(iterable), n)", "list(iterable)[:n]")
    assert [f.kind for f in check_change("more.py", public, gone, "Simpler faster `ichunked`")] == [
        "removed-definition"]
    # never called in its own module: it is there for another one
    uncalled = "def _helper(x):\n    return x\n\n\ndef api():\n    return 1\n"
    assert [f.kind for f in check_change("util.py", uncalled, "def api():\n    return 1\n", "Tidy")] == [
        "removed-definition"]
    # another file of the proposal still imports it
    user = ("tests/test_more.py", "from more import _ichunk\n", "from more import _ichunk\n\nX = 1\n")
    assert [f.kind for f in check_changes([("more.py", old, inlined), user], "Simpler faster `ichunked`")] == [
        "removed-definition"]


def test_a_private_helper_another_module_imports_is_removed_from_under_it(tmp_path):
    """Real commit (tqdm, "simplify terminal size detection"): ``_screen_shape_linux`` and two more
    went from utils.py with their last use there, while the module ``_utils.py`` went on importing
    them. The repository is searched (its work tree with untracked files, or a commit's tree)."""
    old = ("def _screen_shape_linux(fp):\n    return fp\n\n\n"
           "def screen_shape(fp):\n    return _screen_shape_linux(fp)\n")
    new = "def screen_shape(fp):\n    return fp\n"
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "utils.py").write_text(old)
    (repo / "cli.py").write_text("from utils import screen_shape\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    from amigo.checks import repository_uses
    uses = repository_uses(repo)
    assert check_changes([("utils.py", old, new)], "simplify terminal size detection", repository=uses) == []
    (repo / "_utils.py").write_text("from utils import _screen_shape_linux  # noqa\n")  # untracked
    (finding,) = check_changes([("utils.py", old, new)], "simplify terminal size detection", repository=uses)
    assert finding.kind == "removed-definition" and "_screen_shape_linux" in finding.message
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "shim")
    commit = git(repo, "rev-parse", "HEAD").strip()
    (repo / "_utils.py").unlink()  # the commit's tree is searched, not the work tree
    assert check_changes([("utils.py", old, new)], "x", repository=repository_uses(repo, commit))
    assert check_changes([("utils.py", old, new)], "x", repository=repository_uses(repo)) == []
    # a private helper renamed with its uses is nobody else's business, unless another module
    # imports it by its old name: then the rename breaks that module
    renamed = old.replace("_screen_shape_linux", "_shape_linux")
    (finding,) = check_changes([("utils.py", old, renamed)], "x", repository=repository_uses(repo, commit))
    assert (finding.level, finding.message.split(",")[0]) == (
        "error", "renames the function _screen_shape_linux to _shape_linux")
    assert check_changes([("utils.py", old, renamed)], "x", repository=uses) == []
    # a test is never imported: one renamed is a warning whatever other modules hold a test of its name
    (repo / "test_more.py").write_text("def test_reset():\n    assert True\n")
    tests = "def test_reset():\n    assert 1\n"
    (finding,) = check_changes([("test_utils.py", tests, tests.replace("test_reset", "test_resets_styles"))], "x",
                               repository=uses)
    assert finding.level == "warning" and "renames the function test_reset" in finding.message
    # outside git the folder's files are searched
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "_utils.py").write_text("from utils import _screen_shape_linux\n")
    assert check_changes([("utils.py", old, new)], "x", repository=repository_uses(plain))


def test_the_engine_searches_its_repository_for_a_private_helper_it_lets_go(repo):
    """The session's proposal is checked against the person's other modules: a helper inlined
    away is fine until another module imports it."""
    (repo / "shapes.py").write_text("def _area(w, h):\n    return w * h\n\n\n"
                                    "def area(w, h):\n    return _area(w, h)\n")
    answer = ("shapes.py\n<<<<<<< SEARCH\ndef _area(w, h):\n    return w * h\n\n\n"
              "def area(w, h):\n    return _area(w, h)\n=======\ndef area(w, h):\n    return w * h\n"
              ">>>>>>> REPLACE\n")
    with RecordedModelServer(answer) as server:
        session, _ = session_for(repo, server, edit_format="blocks", repair_attempts=0)
        inlined = session.propose(session.make_request("make area faster", "shapes.py"))
        (repo / "report.py").write_text("from shapes import _area\n")
        imported = session.propose(session.make_request("make area faster", "shapes.py"))
    assert inlined.ok and not inlined.findings
    assert [f.kind for f in imported.findings] == ["removed-definition"] and "_area" in imported.findings[0].message


def test_methods_a_class_gets_without_writing_them_are_not_lost():
    """"Make Point a dataclass" takes __init__ and __repr__ away (the decorator writes them; tomlkit's
    "remove the extra indentation" did so with Trivia); a method pulled up into a base class of
    the file is inherited; a base gained from elsewhere may define what went (a warning: tomlkit's
    "full methods of integer and float" made Float inherit _CustomFloat and dropped __add__)."""
    old = ("class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n\n"
           "    def __repr__(self):\n        return f'Point({self.x}, {self.y})'\n\n"
           "    def norm(self):\n        return (self.x ** 2 + self.y ** 2) ** 0.5\n")
    fields = ("class Point:\n    x: float\n    y: float\n\n"
              "    def norm(self):\n        return (self.x ** 2 + self.y ** 2) ** 0.5\n")
    for decorated in ("from dataclasses import dataclass\n\n\n@dataclass\n",
                      "import attrs\n\n\n@attrs.define(slots=True)\n"):
        assert check_change("p.py", old, decorated + fields, "Make Point a dataclass") == []
    assert [f.message.split(",")[0] for f in check_change("p.py", old, fields, "Make Point a dataclass")] == [
        "removes the method Point.__init__", "removes the method Point.__repr__"]
    # a dataclass does not write norm
    lost = check_change("p.py", old, "from dataclasses import dataclass\n\n\n@dataclass\n"
                        "class Point:\n    x: float\n    y: float\n", "Make Point a dataclass")
    assert [(f.kind, f.message.split(",")[0]) for f in lost if f.kind == "removed-definition"] == [
        ("removed-definition", "removes the method Point.norm")]
    shapes = ("class Shape:\n    def area(self):\n        return 0\n\n\n"
              "class Square(Shape):\n    def describe(self):\n        return str(self.area())\n")
    pulled = ("class Shape:\n    def area(self):\n        return 0\n\n    def describe(self):\n"
              "        return str(self.area())\n\n\nclass Square(Shape):\n    pass\n")
    assert check_change("shapes.py", shapes, pulled, "Share the description") == []
    # an override deleted falls back to what the base had all along: that is a change of behaviour
    overridden = pulled.replace("    pass\n", "    def describe(self):\n        return 'square'\n")
    (finding,) = check_change("shapes.py", overridden, pulled, "Share the description")
    assert finding.message.startswith("removes the method Square.describe") and finding.level == "error"
    # as is a method a dataclass had written for itself
    custom = ("from dataclasses import dataclass\n\n\n@dataclass\nclass Point:\n    x: float\n\n"
              "    def __eq__(self, other):\n        return abs(self.x - other.x) < 1e-9\n")
    (finding,) = check_change("p.py", custom, custom[:custom.index("\n    def __eq__")] + "\n", "Tidy Point")
    assert finding.message.startswith("removes the method Point.__eq__")
    gained = shapes.replace("class Square(Shape):", "class Square(Shape, Described):").replace(
        "    def describe(self):\n        return str(self.area())\n", "    pass\n")
    (finding,) = check_change("shapes.py", shapes, "from described import Described\n\n\n" + gained,
                              "Share the description")
    assert finding.level == "warning" and "now inherits from Described" in finding.message


def test_a_test_replaced_by_another_is_a_warning_and_one_removed_an_error():
    """Real commits: "Raise exception for invalid size in windowed()" replaced test_negative by
    tests of the new error, "Add `ne` validator" the class TestLtLeGeGt by one for all five. A test
    gone with none added is still an error (a model that deletes the failing test)."""
    old = ("class WindowedTests(TestCase):\n    def test_basic(self):\n        assert 1\n\n"
           "    def test_negative(self):\n        assert windowed([], -1)\n")
    replaced = old.replace("test_negative", "test_invalid_size")
    (finding,) = check_change("tests/test_more.py", old, replaced.replace("-1", "0"), "Raise for invalid size")
    assert (finding.kind, finding.level) == ("removed-definition", "warning")
    assert "WindowedTests.test_negative" in finding.message and "test_invalid_size" in finding.message
    dropped = old.replace("    def test_negative(self):\n        assert windowed([], -1)\n", "")
    (finding,) = check_change("tests/test_more.py", old, dropped, "Raise for invalid size")
    assert (finding.kind, finding.level) == ("removed-definition", "error")
    # a class of tests replaced: one finding, not one per method
    renamed_class = replaced.replace("-1", "0").replace("WindowedTests", "WindowTests")
    (finding,) = check_change("tests/test_more.py", old, renamed_class, "Raise for invalid size")
    assert finding.level == "warning" and "class WindowedTests" not in finding.message
    # outside a test module a test-named function is code like any other
    assert check_change("more.py", old, replaced.replace("-1", "0"), "Raise for invalid size")[0].level == "error"
    # replaced by tests another test module of the proposal adds (sphinx, "Split autodoc name parsing
    # utilities to a new module")
    moved = [("tests/test_more.py", old, dropped),
             ("tests/test_windowed.py", None, "from more import windowed\n\n\ndef test_negative_size():\n"
              "    assert windowed([], -1)\n")]
    (finding,) = check_changes(moved, "Split the windowed tests to a new module")
    assert finding.level == "warning" and "test_negative_size" in finding.message
    # the tests themselves reworked (scrapy's "Test restructuring", "Migrate away from testfixtures"):
    # hooks and helpers may go, a test gone is a warning; asked to fix a test, deleting it is an error
    hook = "    def setup_class(cls):\n        cls.items = []\n\n"
    hooked = old.replace("    def test_basic", hook + "    def test_basic")
    hooked += "".join(f"\n    def test_{n}(self):\n        assert windowed([], {n})\n" for n in range(1, 4))
    reworked = hooked.replace(hook, "").replace(
        "    def test_negative(self):\n        assert windowed([], -1)\n", "")
    (finding,) = check_change("tests/test_more.py", hooked, reworked, "Migrate the tests away from setup_class")
    assert finding.level == "warning" and "WindowedTests.test_negative while reworking the tests" in finding.message
    for instruction in ("Fix the failing test", "Add a test for the type of the window"):  # "type" a noun here
        kinds = [(f.kind, f.level) for f in check_change("tests/test_more.py", hooked, reworked, instruction)]
        assert kinds == [("removed-definition", "error")] * 2, instruction


def test_definitions_for_an_old_python_may_go_when_its_support_is_dropped():
    """Real commit (jinja, "drop Python 3.6"): tb_set_next and the ctypes fallback, defined under
    ``if sys.version_info >= (3, 7): ... else: ...``, went with the old versions."""
    old = ("import sys\n\n\ndef render(tb):\n    return tb_set_next(tb, None)\n\n\n"
           "if sys.version_info >= (3, 7):\n    def tb_set_next(tb, tb_next):\n        tb.tb_next = tb_next\n"
           "        return tb\nelse:\n    class _CTraceback:\n        pass\n\n"
           "    def tb_set_next(tb, tb_next):\n        return tb\n")
    new = "import sys\n\n\ndef render(tb):\n    tb.tb_next = None\n    return tb\n"
    for instruction in ("drop Python 3.6", "drop py<=3.6", "Set minimum version to Py3.10",
                        "drop support for Python 3.7"):
        assert check_change("debug.py", old, new, instruction) == [], instruction
    lost = [f.message.split(",")[0] for f in check_change("debug.py", old, new, "Assign tb_next directly")
            if f.kind == "removed-definition"]
    assert lost == ["removes the class _CTraceback", "removes the function tb_set_next"]
    # a definition in the module's own body is not made for an old Python
    plain = "def tb_set_next(tb, tb_next):\n    return tb\n\n\ndef render(tb):\n    return tb\n"
    assert check_change("debug.py", plain, "def render(tb):\n    return tb\n", "drop Python 3.6")


def test_a_test_skipped_on_todays_pythons_may_go_when_the_old_one_is_dropped():
    """Real commits: attrs' "Drop Python 3.9" removed ``@pytest.mark.skipif(PY_3_10_PLUS)``
    test_match_args_pre_310, more-itertools' "Fully drop Python 3.9" a test skipped by
    ``version_info``. A test skipped for another reason stays a test removed."""
    def module(decorator: str) -> str:
        return (f"class TestAutoDetect:\n    def test_match_args(self):\n        assert 1\n\n"
                f"    {decorator}\n    def test_match_args_pre_310(self):\n        assert 2\n")
    kept = "class TestAutoDetect:\n    def test_match_args(self):\n        assert 1\n"
    for decorator in ('@pytest.mark.skipif(PY_3_10_PLUS, reason="Pre-3.10 only.")',
                      "@skipIf(version_info[:2] >= (3, 9), 'strict=True missing on 3.9')"):
        assert check_change("tests/test_make.py", module(decorator), kept, "Drop Python 3.9 (#1603)") == []
        (finding,) = check_change("tests/test_make.py", module(decorator), kept, "Fix match_args")
        assert (finding.kind, finding.level) == ("removed-definition", "error")
    for other in ('@pytest.mark.skipif(sys.platform == "win32", reason="no fork")',
                  '@pytest.mark.skipif(not HAS_FORK, reason="PY3 only")'):
        (finding,) = check_change("tests/test_make.py", module(other), kept, "Drop Python 3.9")
        assert "TestAutoDetect.test_match_args_pre_310" in finding.message and finding.level == "error"


def test_what_is_deprecated_may_go_when_the_deprecated_is_asked_away():
    """Real commits (jinja): "remove deprecated extensions" took the classes whose __init__ warned
    DeprecationWarning; "remove deprecated legacy resolve mode" took Context.__init_subclass__ and the
    test that expected the warning (``pytest.deprecated_call()``). Nothing that does not speak of a
    deprecation goes with them, and a removal that names its code in the instruction lets only that go."""
    old = ("import warnings\n\n\nclass Extension:\n    pass\n\n\nclass WithExtension(Extension):\n"
           "    def __init__(self):\n        warnings.warn('The with extension is deprecated', DeprecationWarning)\n\n\n"
           "def test_legacy_context():\n    with pytest.deprecated_call():\n        WithExtension()\n\n\n"
           "def loopcontrols():\n    return 1\n")
    without = old.split("class WithExtension")[0] + "def loopcontrols():\n    return 1\n"
    assert check_change("ext.py", old, without, "remove deprecated extensions") == []
    lost = [f.message for f in check_change("ext.py", old, without.replace("def loopcontrols():\n    return 1\n",
                                                                           ""), "remove deprecated extensions")]
    assert lost == ["removes the function loopcontrols, which the instruction did not ask for"]
    documented = old.replace("    return 1\n", '    """Loop controls.\n\n    .. deprecated:: 3.0\n    """\n    return 1\n')
    assert check_change("ext.py", documented, without.split("def loopcontrols")[0], "remove deprecated extensions") == []
    of_an_argument = old.replace("    return 1\n", '    """Loop controls.\n\n    The x argument is deprecated.\n'
                                 '    """\n    return 1\n')
    assert len(check_change("ext.py", of_an_argument, without.split("def loopcontrols")[0],
                            "remove deprecated extensions")) == 1
    # a function that warns of one deprecated argument is not itself deprecated
    warns_of_an_argument = old.replace("    return 1\n", "    if strict is not None:\n        warnings.warn("
                                       "'strict is deprecated', DeprecationWarning)\n    return 1\n")
    lost = [f.message for f in check_change("ext.py", warns_of_an_argument, without.split("def loopcontrols")[0],
                                            "remove deprecated extensions")]
    assert lost == ["removes the function loopcontrols, which the instruction did not ask for"]
    # not a removal of what is deprecated, or one that names its code
    for instruction in ("Deprecate the with extension", "Remove deprecated `zip_equal`"):
        lost = [f.message for f in check_change("ext.py", old, without, instruction) if f.kind == "removed-definition"]
        assert len(lost) == 3 and "removes the class WithExtension" in lost[0], instruction

def test_a_deprecation_expired_or_code_rm_d_may_go():
    """Real commits (networkx): "Expire deprecation of compute_v_structures" took the function and
    its tests, and "Expire deprecations of could-be isomorphism aliases" the functions that warned.
    "Rm" removes as "Remove" does: "Rm 3D layout and animation from greedy_color example" took the
    animation's functions and is still refused, since it speaks of no code; "... animation code ..."
    may take them."""
    old = ("import warnings\n\n\ndef compute_v_structures(G):\n    return []\n\n\n"
           "def test_compute_v_structures():\n    assert compute_v_structures(1) == []\n\n\n"
           "def fast_could_be_isomorphic(G1, G2):\n    warnings.warn('deprecated', DeprecationWarning)\n"
           "    return True\n\n\ndef kept():\n    return 1\n")
    named = old.split("def compute_v_structures")[0] + "def fast_could_be" + old.split("def fast_could_be")[1]
    assert check_change("dag.py", old, named, "Expire deprecation of compute_v_structures") == []
    warned = old.split("def fast_could_be")[0] + "def kept" + old.split("def kept")[1]
    assert check_change("iso.py", old, warned, "Expire deprecations of could-be isomorphism aliases") == []
    gone = old.split("def fast_could_be")[0]
    lost = [f.message for f in check_change("iso.py", old, gone, "Expire deprecations of could-be isomorphism aliases")]
    assert lost == ["removes the function kept, which the instruction did not ask for"]
    example = "def draw(G):\n    return G\n\n\ndef init():\n    return []\n\n\ndef _frame_update(i):\n    return i\n"
    assert check_change("plot.py", example, "def draw(G):\n    return G\n",
                        "Rm 3D layout and animation code from the example") == []
    assert [f.kind for f in check_change("plot.py", example, "def draw(G):\n    return G\n",
                                         "Rm 3D layout and animation from the example")] == ["removed-definition"] * 2


def test_a_definition_made_private_as_asked_is_not_lost():
    """Real commit (scrapy, "Make more of the internal handler helpers private"): ScrapyAgent became
    _ScrapyAgent, with its methods. Unasked, that is a rename whatever imports it would break."""
    old = "class ScrapyAgent:\n    def __init__(self, pool):\n        self.pool = pool\n\n\nagent = ScrapyAgent(1)\n"
    new = old.replace("ScrapyAgent", "_ScrapyAgent")
    assert check_change("http11.py", old, new, "Make more of the internal handler helpers private") == []
    assert check_change("http11.py", new, old, "Make _ScrapyAgent public") == []
    assert check_change("http11.py", new, old, "expose ScrapyAgent") == []  # responses' "expose get_registry() method"
    unasked = check_change("http11.py", old, new.replace("self.pool = pool", "self.pool = [pool]"),
                           "Keep the pool in a list")
    assert [(f.kind, f.level) for f in unasked] == [("removed-definition", "error")] * 2
    assert unasked[0].message == "removes the class ScrapyAgent, which the instruction did not ask for"


def test_a_function_made_a_class_of_the_same_name_is_not_lost():
    """Real commit (tqdm, "drop py<=3.6"): the function FakeEvent became a class FakeEvent."""
    old = "def FakeEvent():\n    event = object()\n    return event\n"
    new = "class FakeEvent(Event):\n    def wait(self, timeout=None):\n        return True\n"
    assert [f.kind for f in check_change("t.py", old, "from threading import Event\n\n\n" + new,
                                         "make FakeEvent a class")] == []


def test_a_definition_renamed_with_the_same_code_is_named_as_a_rename():
    """Real commits: "tests: fix typo" renamed test_..._not_fot_stdout to ..._not_for_stdout, "fix
    jupyterlab display" _repr_json_ to _json_. A private or test definition renamed is a warning;
    a public one is still an error (what imports it elsewhere would break), named as a rename."""
    old = ('def test_handlers_not_fot_stdout():\n    """Keeps other handlers."""\n    assert run() == 1\n\n\n'
           "def run():\n    return 1\n")
    fixed = old.replace("not_fot_", "not_for_").replace('"""Keeps other handlers."""', '"""Keeps them."""')
    (finding,) = check_change("tests/tests_logging.py", old, fixed, "tests: fix typo")
    assert (finding.kind, finding.level) == ("removed-definition", "warning")
    assert "renames the function test_handlers_not_fot_stdout to test_handlers_not_for_stdout" in finding.message
    public = old.replace("def run():", "def execute():").replace("assert run()", "assert execute()")
    (finding,) = check_change("logging.py", old, public, "Make the module clearer")
    assert (finding.kind, finding.level) == ("removed-definition", "error")
    assert finding.message.startswith("renames the function run to execute")
    # renamed to the name a rename asks for, though the instruction misspells the old one (toolz's
    # "Rename pipline() to compose_left()"); to another name, still an error
    assert check_change("logging.py", old, public, "Rename rnu() to execute()") == []
    assert [f.level for f in check_change("logging.py", old, public, "Rename rnu() to perform()")] == ["error"]
    # a test module's method renamed for the test runner, though the package spells the old name too
    # (cachetools' "Fix test method naming", responses' nose-style setup made setup_method)
    case = "import unittest\n\n\nclass KeysTest(unittest.TestCase):\n    def methodkey(self):\n        assert run()\n"
    for renamed in ("test_methodkey", "setup_method"):
        (finding,) = check_change("tests/test_keys.py", case, case.replace("def methodkey", f"def {renamed}"),
                                  "Fix test method naming.", used_elsewhere=lambda name: True)
        assert finding.level == "warning" and f"KeysTest.methodkey to {renamed}" in finding.message
    (finding,) = check_change("tests/test_keys.py", case, case.replace("def methodkey", "def method_key"),
                              "Fix test method naming.", used_elsewhere=lambda name: True)
    assert finding.level == "error"
    # a different body under a new name is a removal
    other = old.replace("def run():\n    return 1", "def execute():\n    return 2").replace("run()", "execute()")
    assert check_change("logging.py", old, other, "Make the module clearer")[0].message.startswith("removes the function run")


def test_where_the_old_file_did_not_parse_a_definition_is_found_by_name_alone():
    """DebugBench's shape ("illegal indentation"): the method's indentation was lost, so the old file
    reads it as a function at the top level; the fix puts it back in its class."""
    old = "class Solution:\ndef canWinNim(self, n):\n    return n % 4 == 0\n"
    fixed = "class Solution:\n    def canWinNim(self, n):\n        return n % 4 != 0\n"
    assert check_change("solution.py", old, fixed, "Fix the bugs.") == []
    # in a file that parses, a function moved into a class is no longer where its callers look
    parsed = "class Solution:\n    pass\n\n\ndef canWinNim(self, n):\n    return n % 4 == 0\n"
    assert [f.kind for f in check_change("solution.py", parsed, fixed, "Fix the bugs.")] == ["removed-definition"]


def test_a_change_that_does_not_make_the_kind_of_change_asked_is_not_done():
    """The embedded model's answers (benchmarks/check_corpus.py): asked to add type hints it reworded
    the docstring; asked to replace an assert with a ValueError it rewrapped the docstring."""
    old = ('def b64encode(s, altchars=None):\n    """Encode the bytes-like object s using Base64 and return\n'
           '    a bytes object."""\n    encoded = s\n    if altchars is not None:\n'
           '        assert len(altchars) == 2, repr(altchars)\n    return encoded\n')
    reworded = old.replace("return\n    a bytes object", "return a bytes\n    object")
    (finding,) = check_changes([("base64.py", old, reworded)], "Add type hints: s is bytes and it returns bytes.")
    assert (finding.kind, finding.level) == ("not-done", "error")
    assert finding.message.startswith("changes no type hints, although the instruction asks for them")
    hinted = old.replace("def b64encode(s, altchars=None):", "def b64encode(s: bytes, altchars=None) -> bytes:")
    assert check_changes([("base64.py", old, hinted)], "Add type hints: s is bytes and it returns bytes.") == []
    # a docstring asked: a comment does too (people call either by the other's name)
    commented = old.replace("    encoded = s\n", "    # the input as it is\n    encoded = s\n")
    assert check_changes([("base64.py", old, commented)], "Add a docstring comment for encoded") == []
    (finding,) = check_changes([("base64.py", old, hinted)], "Add a docstring explaining altchars")
    assert finding.message.startswith("changes no docstrings or comments")
    # code asked, prose changed
    instruction = "Replace the assert with a ValueError when altchars is not 2 bytes long."
    (finding,) = check_changes([("base64.py", old, reworded)], instruction)
    assert finding.message.startswith("changes only docstrings and comments, although the instruction asks for "
                                      "a change to the code")
    raised = old.replace("        assert len(altchars) == 2, repr(altchars)\n",
                         "        if len(altchars) != 2:\n            raise ValueError(repr(altchars))\n")
    assert check_changes([("base64.py", old, raised)], instruction) == []
    # a hint is code there (List for ArrayList fixes a NameError), though not the ValueError asked;
    # wording, style and tooling may be carried out in prose alone, and so may a proposal whose other files changed
    assert check_changes([("base64.py", old, hinted)], "Replace the assert with an if statement.") == []
    (finding,) = check_changes([("base64.py", old, hinted)], instruction)
    assert finding.message.startswith("does not write `ValueError`")
    for wording in ("Fix the typo in b64encode", "Update the pre-commit hooks", "Bounds are exclusive",
                    "Add seealso crosslinks between the encoders"):  # networkx: a See Also section
        assert check_changes([("base64.py", old, reworded)], wording) == [], wording
    assert check_changes([("base64.py", old, reworded), ("setup.cfg", "a = 1\n", "a = 2\n")],
                         "Replace the assert with an if statement.") == []
    # layout asked and the code laid out anew: done, though the syntax tree is the same (toolz's "Remove
    # unnecessary parens.", "Fix line lengths in itertoolz."); layout asked and only prose changed: not done
    unwrapped = old.replace("assert len(altchars) == 2, repr(altchars)", "assert (len(altchars) == 2), repr(altchars)")
    assert check_changes([("base64.py", unwrapped, old)], "Remove unnecessary parens.") == []
    wrapped = old.replace("repr(altchars)\n", "(\n            repr(altchars))  # why\n")
    assert check_changes([("base64.py", old, wrapped)], "Fix line lengths in base64") == []
    (finding,) = check_changes([("base64.py", unwrapped, unwrapped.replace("return\n    a bytes object",
                                                                           "return a bytes\n    object"))],
                               "Remove unnecessary parens.")
    assert finding.kind == "not-done"
    assert [f.kind for f in check_changes([("base64.py", unwrapped, old)], instruction)] == ["not-done"]
    # tests asked and doctests added (humanize's "filesize: add two tests"); a caution is documentation
    doctested = old.replace("    a bytes object.", "    a bytes object.\n\n    >>> b64encode(b'a')\n    b'a'\n")
    assert check_changes([("base64.py", old, doctested)], "Add two tests for b64encode") == []
    assert check_changes([("base64.py", old, reworded)], "Add two tests for b64encode")[0].kind == "not-done"
    assert check_changes([("base64.py", old, reworded)], "Add caution about altchars") == []
    # a comment a tool reads is code's work (isort's "Add ignore for cyclomatic complexity check." added
    # `# skipcq: PY-R1000`); code commented out is code to remove (isort's "Remove debug prints.")
    ignored = old.replace("def b64encode(", "# skipcq: PY-R1000\ndef b64encode(")
    assert check_changes([("base64.py", old, ignored)], "Add ignore for cyclomatic complexity check.") == []
    debug = old.replace("    encoded = s\n", "    encoded = s\n    # print('>>> encoded', encoded)\n")
    assert check_changes([("base64.py", debug, old)], "Remove debug prints.") == []
    noted = old.replace("    encoded = s\n", "    encoded = s\n    # TODO: the encoded form\n")
    assert check_changes([("base64.py", noted, old)], "Remove debug prints.")[0].kind == "not-done"
    assert check_changes([("base64.py", debug, old)], instruction)[0].kind == "not-done"


def test_a_name_spelt_out_in_words_may_be_reverted_away():
    """Real commit (rich): "revert iteration speed column" took IterationSpeedColumn and its method."""
    old = ("class ProgressColumn:\n    pass\n\n\nclass IterationSpeedColumn(ProgressColumn):\n"
           "    def render(self, task):\n        return task\n")
    new = "class ProgressColumn:\n    pass\n"
    assert check_change("progress.py", old, new, "revert iteration speed column") == []
    assert check_change("progress.py", old, new, "revert the speed change")  # not its whole name


def test_a_usage_example_added_at_import_time_is_flagged():
    """The embedded model's shapes (trust benchmark): asked to simplify nth_permutation it appended
    ``assert nth_permutation([1, 2, 3, 4]) == [0, 0, 3, 4]`` after the function, and asked to return
    the bytes copied it added ``print(copyfileobj('data.txt', 'output.txt'))``: both run on every
    import of a library module."""
    old = "def nth_permutation(iterable, r, index):\n    pool = list(iterable)\n    return tuple(pool[:r])\n"
    new = old + "\n\nassert nth_permutation([1, 2, 3, 4]) == [0, 0, 3, 4]\nprint(nth_permutation('abc', 2, 0))\n"
    (finding,) = check_change("more.py", old, new, "Simplify and speed up nth_permutation.")
    assert (finding.kind, finding.level, finding.line) == ("import-time-code", "error", 6)
    assert "assert nth_permutation([1, 2, 3, 4])" in finding.message and "1 more" in finding.message
    # asked for, guarded by __main__, or a script that already runs code at the top: not flagged
    assert check_change("more.py", old, new, "Add an example that prints the first permutation") == []
    guarded = old + "\n\nif __name__ == '__main__':\n    print(nth_permutation('abc', 2, 0))\n"
    assert check_change("more.py", old, guarded, "Simplify nth_permutation.") == []
    script = old + "\n\nprint(nth_permutation('ab', 1, 0))\n"
    assert check_change("demo.py", script, script + "print(nth_permutation('abc', 2, 0))\n", "Simplify it") == []
    # calls of other modules' functions at the top (registrations, logging set-up) are left alone
    registered = old + "\n\nimport atexit\natexit.register(print)\n"
    assert check_change("more.py", old, registered, "Simplify nth_permutation.") == []


def test_an_answer_is_judged_without_a_session_as_the_engine_judges_it(repo):
    """The nightly gate replays held-out requests through a model and judges each answer with no
    repository: the verdict must be the engine's, or the gate would measure something else."""
    old = (repo / "users.py").read_text()
    oldest = (17, 18)  # the selection the first answers rewrite; the others rewrite the whole file
    answers = {
        "fixed": (OLDEST_FIXED, oldest),
        "broken": (OLDEST_BROKEN, oldest),
        "no code": ("I would rather not.", oldest),
        "blocks elsewhere": ("users.py\n<<<<<<< SEARCH\nnot in the file\n=======\npass\n>>>>>>> REPLACE\n", oldest),
        "deletes": ("```python\n" + old.split("def oldest")[0].rstrip() + "\n```\n", None),
        "unchanged": ("```python\n" + old + "```\n", None),
    }
    verdicts = {}
    for name, (answer, selection) in answers.items():
        with RecordedModelServer(answer) as server:
            session, _ = session_for(repo, server, repair_attempts=0, edit_format="whole")
            request = session.make_request("return None for no users", "users.py", selection=selection)
            proposal = session.propose(request)
        why = judge_answer(request, answer)
        assert (why is None) == proposal.passes, (name, why, proposal.errors, proposal.findings)
        verdicts[name] = why
    assert verdicts["fixed"] is None
    assert "syntax error" in verdicts["broken"] and "removes" in verdicts["deletes"]
    assert "changes nothing" in verdicts["unchanged"] and "fenced code block" in verdicts["no code"]


def test_an_answer_that_changes_nothing_is_refused_whatever_the_instruction_asks(repo):
    """An answer that writes the file back unchanged leaves the check stage no change to read: each
    close reading of the instruction (code spelt out, an exception asked, a rename, a hint) must say
    nothing, not fail on the empty proposal. "Raise a clear ValueError for negative n in chunked()"
    answered that way stopped a run of the trust benchmark with an IndexError."""
    unchanged = "```python\n" + (repo / "users.py").read_text() + "```\n"
    for instruction in ("Raise a clear ValueError when users is empty.", "Use `memo.setdefault` in oldest.",
                        "Rename the parameter users to people.", "Add type hints: users is list and it returns str.",
                        "Remove the entries py38 and py39."):
        with RecordedModelServer(unchanged) as server:
            session, _ = session_for(repo, server, repair_attempts=0, edit_format="whole")
            proposal = session.propose(session.make_request(instruction, "users.py"))
        assert not proposal.passes and proposal.findings == ()
        assert proposal.errors == ("the answer changes nothing; rephrase the instruction or retry",)
    assert check_changes([], "Raise a clear ValueError for negative n in chunked().") == []


def test_a_check_that_fails_holds_the_change_for_review_and_the_session_goes_on(repo, monkeypatch, caplog):
    """A defect in one of the check stage's rules (the IndexError the empty proposal raised, fixed
    above) must not end an editor's session, nor let the change through unchecked: the proposal
    carries a check-failed error that names the defect, and the traceback goes to the log."""
    import amigo.checks

    def defect(changes, instruction):
        raise IndexError("list index out of range")

    monkeypatch.setattr(amigo.checks, "_not_done_findings", defect)
    with RecordedModelServer(OLDEST_FIXED) as server:
        session, _ = session_for(repo, server, repair_attempts=0, edit_format="whole")
        proposal = session.propose(session.make_request("return None for no users", "users.py", selection=(17, 18)))
    (finding,) = proposal.findings
    assert (finding.kind, finding.level, finding.path) == ("check-failed", "error", "users.py")
    assert finding.message == ("could not be checked: a check of Amigo failed (IndexError: list index out of "
                               "range); review the change yourself, and please report this with the log")
    assert not proposal.passes and proposal.changes  # held for review, not lost
    assert "a check failed on a proposal" in caplog.text and "Traceback" in caplog.text


# -- refusing under --yes, and repairing ---------------------------------------------------


def test_broken_answer_is_refused_under_yes_and_files_are_untouched(repo):
    before = (repo / "users.py").read_bytes()
    with RecordedModelServer(OLDEST_BROKEN) as server:
        refused = amigo(repo, "edit", "return None for no users", "users.py", "--lines", "17-18", "--yes",
                        endpoint=server.base_url, env={"AMIGO_REPAIR_ATTEMPTS": "0"})
        assert refused.returncode == 1, refused.stderr
        assert "introduces a syntax error" in refused.stderr and "line 18" in refused.stderr
        assert "--allow-broken" in refused.stderr and "without --yes" in refused.stderr
        assert (repo / "users.py").read_bytes() == before
        assert git(repo, "status", "--porcelain") == ""
        forced = amigo(repo, "edit", "return None for no users", "users.py", "--lines", "17-18", "--yes",
                       "--allow-broken", endpoint=server.base_url, env={"AMIGO_REPAIR_ATTEMPTS": "0"})
    assert forced.returncode == 0, forced.stderr
    assert "u.age))" in (repo / "users.py").read_text()


def test_broken_answer_is_repaired_on_the_second_attempt(repo):
    with RecordedModelServer(first_time_then(OLDEST_BROKEN, OLDEST_FIXED)) as server:
        result = amigo(repo, "edit", "return None for no users", "users.py", "--lines", "17-18", "--yes",
                       endpoint=server.base_url)
        assert result.returncode == 0, result.stderr
        assert len(server.requests) == 2
        repair = server.requests[1]["messages"]
    assert "asking again (attempt 2)" in result.stderr
    assert repair[:2] == server.requests[0]["messages"]
    assert repair[2] == {"role": "assistant", "content": OLDEST_BROKEN}
    assert "introduces a syntax error" in repair[3]["content"] and "at line 18" in repair[3]["content"]
    text = (repo / "users.py").read_text()
    assert "    if not users:\n        return None\n" in text and "u.age))" not in text


def test_unmatched_search_is_sent_back_with_the_closest_lines(repo):
    wrong = ("users.py\n<<<<<<< SEARCH\ndef oldest(people):\n    return max(people, key=lambda u: u.age)\n"
             "=======\ndef oldest(people):\n    return None\n>>>>>>> REPLACE\n")
    right = ("users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\ndef oldest(users):\n"
             '    """The oldest user."""\n>>>>>>> REPLACE\n')
    with RecordedModelServer(first_time_then(wrong, right)) as server:
        session, seen = session_for(repo, server, edit_format="blocks")
        proposal = session.propose(session.make_request("document oldest", "users.py"), request_id="req-1")
        problem = server.requests[1]["messages"][-1]["content"]
    assert proposal.passes and proposal.attempt == 2 and proposal.request_id == "req-1"
    assert "not found" in problem and "closest lines" in problem
    assert "17| def oldest(users):" in problem  # numbered lines from the file
    assert "The SEARCH text of block 1 was:\ndef oldest(people):" in problem
    repairs = [e for e in seen if isinstance(e, RepairEvent)]
    assert [(e.request_id, e.attempt) for e in repairs] == [("req-1", 2)]
    assert {e.request_id for e in seen if isinstance(e, TokenEvent)} == {"req-1"}  # both attempts streamed
    (failed,) = [e for e in seen if isinstance(e, AttemptFailedEvent)]
    # read up to its SEARCH section, which matched nothing: the rest could not have helped
    assert failed.successor_id == proposal.id and failed.proposal.answer == wrong.split("=======\n")[0] + (
        "=======\n>>>>>>> REPLACE\n")
    assert [e.proposal for e in seen if isinstance(e, ProposalEvent)] == [proposal]


def test_a_fenced_rewrite_for_a_blocks_request_is_read_as_a_rewrite_when_that_passes(repo):
    """What the embedded model answers to most blocks requests in free decoding: the selection
    rewritten in a fence, no block. When that rewrite applies and passes the checks it is the
    proposal, at once, with a warning that says how it was read; the request stays a blocks one."""
    with RecordedModelServer(OLDEST_FIXED) as server:
        session, seen = session_for(repo, server, edit_format="blocks", decoding="free")
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        assert len(server.requests) == 1
    assert proposal.passes and proposal.attempt == 1 and proposal.request.edit_format == "blocks"
    (finding,) = proposal.findings
    assert (finding.kind, finding.level) == ("format", "warning") and "lines 17-18" in finding.message
    assert "def oldest(users):\n    if not users:" in proposal.changes[0].new_text
    assert not [e for e in seen if isinstance(e, (RepairEvent, AttemptFailedEvent))]


def _blocks_then_whole(blocks_answer: str, whole_answer: str):
    """A recorded model that answers ``blocks_answer`` to a blocks prompt, ``whole_answer`` to a
    whole-format one."""
    return lambda body: blocks_answer if "SEARCH" in body["messages"][0]["content"] else whole_answer


def test_a_fenced_rewrite_that_fails_is_asked_again_in_the_whole_format(repo):
    """A fenced rewrite that fails read either way (here: a syntax error) is asked again as the
    whole-format question, afresh; with a grammar (constrained decoding) it stays a blocks repair."""
    with RecordedModelServer(_blocks_then_whole(OLDEST_BROKEN, OLDEST_FIXED)) as server:
        session, seen = session_for(repo, server, edit_format="blocks", decoding="free")
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        first, second = server.requests
    assert proposal.passes and proposal.attempt == 2 and proposal.request.edit_format == "whole"
    assert "SEARCH" in first["messages"][0]["content"] and "SEARCH" not in second["messages"][0]["content"]
    assert not any(m["role"] == "assistant" for m in second["messages"]), "asked afresh"
    (repair,) = [e for e in seen if isinstance(e, RepairEvent)]
    assert "no SEARCH/REPLACE blocks" in repair.problem and "whole format" in repair.problem
    assert "def oldest(users):\n    if not users:" in proposal.changes[0].new_text


@pytest.mark.parametrize("edit_format", ["whole", "blocks"])
def test_a_whole_file_answer_with_only_the_changed_function_is_spliced_in(repo, edit_format):
    """Asked to rewrite the whole file (nothing selected), the model answers with oldest() alone.
    Taken literally that deletes User and load_users; it is read as replacing oldest() when that
    passes the checks, with a warning, in either format."""
    with RecordedModelServer(OLDEST_FIXED) as server:
        session, seen = session_for(repo, server, edit_format=edit_format, decoding="free")
        proposal = session.propose(session.make_request("return None for no users", "users.py"))
        assert len(server.requests) == 1
    assert proposal.passes and proposal.attempt == 1 and proposal.request.edit_format == edit_format
    assert proposal.changes[0].new_text == SAMPLE_USERS.replace(
        "def oldest(users):\n", "def oldest(users):\n    if not users:\n        return None\n")
    assert [f.kind for f in proposal.findings] == ["format"] and "rest of the file kept" in str(proposal.findings[0])
    assert not [e for e in seen if isinstance(e, (RepairEvent, AttemptFailedEvent))]


def test_a_spliced_answer_exports_as_the_whole_file(repo, tmp_path):
    """The chosen side of a pair must say the change read plainly: the whole file rewritten, not
    the lone function (which, read plainly, deletes the rest)."""
    def answer(body: dict) -> str:
        return OLDEST_FIXED if any(m["role"] == "assistant" for m in body["messages"]) else OLDEST_BROKEN

    with RecordedModelServer(answer) as server:
        proposal, _, row = _accepted_and_exported(repo, tmp_path, server, selection=None)
    assert proposal.attempt == 2 and proposal.answer == OLDEST_FIXED
    chosen = row["chosen"][0]["content"]
    assert "class User:" in chosen and "def load_users(rows):" in chosen and "if not users:" in chosen


# what the embedded model writes under a blocks grammar: SEARCH copies the function, REPLACE
# rewrites it and runs on to the token limit (each time a little otherwise: an exact loop is
# stopped before, see test_an_answer_that_loops_is_stopped_and_its_loop_is_the_problem)
RUN_ON_BLOCKS = ("users.py\n<<<<<<< SEARCH\ndef oldest(users):\n    return max(users, key=lambda u: u.age)\n"
                 "=======\n" + "".join(f"def oldest(users):\n    # version {i}\n    return max(users, key=lambda u: u.age)\n\n"
                                       for i in range(40)))


@pytest.mark.parametrize("max_tokens, whole", [(100, True), (50, False)])
def test_blocks_cut_off_at_the_token_limit_are_asked_again_whole_where_that_is_shorter(repo, max_tokens, whole):
    """A blocks answer that ran into max_tokens (the server says "length") is asked again in the
    whole format when the file rewritten whole (304 characters) is shorter than what the cut
    answer held (4 characters a token here); when it is not, the repair stays in blocks."""
    def answer(body: dict) -> str:
        return RUN_ON_BLOCKS if "SEARCH" in body["messages"][0]["content"] else (
            OLDEST_FIXED.replace("def oldest", '"""A tiny user registry."""\n\nfrom dataclasses import dataclass\n\n\n'
                                 "@dataclass\nclass User:\n    name: str\n    age: int\n\n\ndef load_users(rows):\n"
                                 '    """Build users from (name, age) rows."""\n'
                                 "    return [User(name, int(age)) for name, age in rows]\n\n\ndef oldest"))

    with RecordedModelServer(answer, chars_per_token=4) as server:
        session, seen = session_for(repo, server, edit_format="blocks", decoding="free", max_tokens=max_tokens,
                                    repair_attempts=1)
        proposal = session.propose(session.make_request("return None for no users", "users.py"))
        first, second = server.requests
    (failed,) = [e for e in seen if isinstance(e, AttemptFailedEvent)]
    assert failed.proposal.finish_reason == "length" and "not closed" in failed.problem
    (repair,) = [e for e in seen if isinstance(e, RepairEvent)]
    if whole:
        assert "ran out of tokens" in repair.problem and "SEARCH" not in second["messages"][0]["content"]
        assert not any(m["role"] == "assistant" for m in second["messages"]), "asked afresh"
        assert proposal.passes and proposal.request.edit_format == "whole" and proposal.finish_reason == "stop"
        assert "def oldest(users):\n    if not users:" in proposal.changes[0].new_text
    else:
        assert "ran out of tokens" not in repair.problem and second["messages"][-2]["role"] == "assistant"
        assert proposal.request.edit_format == "blocks" and not proposal.ok


def test_a_round_whose_answers_mostly_ran_out_of_tokens_is_asked_again_whole(repo):
    """The answer kept from a failed round is the least broken one: here the greedy one, whose
    block applied with a syntax error, over three sampled ones that ran out of tokens. Those three
    show the model cannot write blocks for this change in the budget, so the next round asks
    the whole-format question, as it would had the kept answer been cut off."""
    applies_broken = ("users.py\n<<<<<<< SEARCH\n    return max(users, key=lambda u: u.age)\n=======\n"
                      "    return max(users, key=lambda u: u.age))\n>>>>>>> REPLACE\n")
    whole_file = SAMPLE_USERS.replace("def oldest(users):\n", "def oldest(users):\n    if not users:\n"
                                      "        return None\n")

    def answer(body: dict) -> str:
        if "SEARCH" not in body["messages"][0]["content"]:
            return f"```python\n{whole_file}```\n"
        return applies_broken if body["temperature"] == 0 else RUN_ON_BLOCKS

    with RecordedModelServer(answer, chars_per_token=4) as server:
        session, seen = session_for(repo, server, edit_format="blocks", decoding="free", max_tokens=100,
                                    repair_attempts=1, candidates=4)
        proposal = session.propose(session.make_request("return None for no users", "users.py"))
    failed = [e.proposal for e in seen if isinstance(e, AttemptFailedEvent)]
    assert sorted(p.finish_reason for p in failed) == ["length", "length", "length", "stop"]
    (repair,) = [e for e in seen if isinstance(e, RepairEvent)]
    assert "syntax error" in repair.problem and "ran out of tokens" in repair.problem
    assert proposal.passes and proposal.request.edit_format == "whole" and proposal.attempt == 2
    assert proposal.changes[0].new_text == whole_file


FIXED_FILE = SAMPLE_USERS.replace("def oldest(users):\n",
                                  "def oldest(users):\n    if not users:\n        return None\n")


OLDEST_BLOCK = ("users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\ndef oldest(users):\n    if not users:\n"
                "        return None\n>>>>>>> REPLACE\n")


def _cut_rewrite_then(blocks_answer: str):
    """A recorded model that rewrites the whole fixed file when asked for the whole format (greedy:
    temperature 0) or writes broken code (sampled), and answers a blocks prompt with ``blocks_answer``."""
    def answer(body: dict) -> str:
        if "SEARCH" in body["messages"][0]["content"]:
            return blocks_answer
        return f"```python\n{FIXED_FILE}```\n" if body["temperature"] == 0 else OLDEST_BROKEN
    return answer


@pytest.mark.parametrize("candidates", [1, 4])
def test_a_rewrite_cut_off_before_the_end_of_the_file_is_asked_again_as_blocks(repo, candidates):
    """A whole-format answer that ran into max_tokens inside its code, having written fewer
    characters in all than the file holds (40 tokens of 4 characters here; the file is 304),
    leaves a syntax error or a half file, but the cause is the budget: the repair round says so
    and asks for SEARCH/REPLACE blocks, which write only the lines that change, afresh. With four
    candidates, the others failing otherwise, the first one's cut is still what is told."""
    with RecordedModelServer(_cut_rewrite_then(OLDEST_BLOCK), chars_per_token=4) as server:
        session, seen = session_for(repo, server, edit_format="whole", decoding="free", max_tokens=40,
                                    repair_attempts=2, candidates=candidates)
        proposal = session.propose(session.make_request("return None for no users", "users.py"))
    (repair,) = [e for e in seen if isinstance(e, RepairEvent)]
    assert repair.problem.startswith("the answer ran out of tokens (max_tokens = 40) after ")
    assert "of the 18 lines of users.py: it held 160 characters in all, and the text to rewrite holds 304" in repair.problem
    assert "asking again for SEARCH/REPLACE blocks" in repair.problem and "syntax" not in repair.problem
    second = server.requests[candidates:]
    assert second and all("SEARCH" in body["messages"][0]["content"] for body in second)
    assert all(m["role"] != "assistant" for body in second for m in body["messages"])  # afresh
    cut = [e for e in seen if isinstance(e, AttemptFailedEvent) and e.proposal.finish_reason == "length"]
    assert cut and "ran out of tokens" in cut[0].problem and not cut[0].proposal.changes
    assert proposal.passes and proposal.request.edit_format == "blocks" and proposal.attempt == 2
    assert proposal.changes[0].new_text == FIXED_FILE


def test_a_rewrite_cut_off_with_no_repair_left_names_the_budget(repo):
    """With no repair round to ask (repair_attempts = 0), or blocks already asked, the cut answer is
    the one shown and its problem is the budget, not the syntax error it leaves; ``--yes`` refuses
    it and says so. A blocks round that fails is repaired in blocks: the whole format, which did
    not fit, is not asked again (even for an answer that is a fenced rewrite)."""
    with RecordedModelServer(_cut_rewrite_then(f"```python\n{FIXED_FILE}```\n"), chars_per_token=4) as server:
        session, seen = session_for(repo, server, edit_format="whole", decoding="free", max_tokens=40,
                                    repair_attempts=0)
        proposal = session.propose(session.make_request("return None for no users", "users.py"))
        assert len(server.requests) == 1 and not [e for e in seen if isinstance(e, RepairEvent)]
        assert proposal.finish_reason == "length" and not proposal.changes and not proposal.findings
        (error,) = proposal.errors
        assert error.startswith("the answer ran out of tokens (max_tokens = 40) after ")
        assert "Raise max_tokens" in error and "syntax" not in error
        before = (repo / "users.py").read_bytes()
        refused = amigo(repo, "edit", "return None for no users", "users.py", "--yes", "--format", "whole",
                        endpoint=server.base_url, env={"AMIGO_MAX_TOKENS": "40", "AMIGO_DECODING": "free",
                                                       "AMIGO_REPAIR_ATTEMPTS": "0"})
        assert refused.returncode == 1 and "ran out of tokens (max_tokens = 40)" in refused.stderr, refused.stderr
        assert (repo / "users.py").read_bytes() == before

        server.requests.clear()
        session, seen = session_for(repo, server, edit_format="whole", decoding="free", max_tokens=40,
                                    repair_attempts=2)
        proposal = session.propose(session.make_request("return None for no users", "users.py"))
    prompts = ["SEARCH" in body["messages"][0]["content"] for body in server.requests]
    assert prompts == [False, True, True]  # whole, then blocks twice: never whole again
    assert not proposal.passes and proposal.request.edit_format == "blocks" and proposal.attempt == 3


DOCSTRING_RUNS_ON = '"""A tiny user registry.\n\n' + " ".join(f"It keeps user {i}." for i in range(40))
PROSE_FIRST = "".join(f"Step {i}: the function must handle the case of no users at all.\n" for i in range(5))


@pytest.mark.parametrize("first", [
    "```python\n" + FIXED_FILE.replace('"""A tiny user registry."""', DOCSTRING_RUNS_ON),
    PROSE_FIRST + "```python\n" + FIXED_FILE,
], ids=["code-runs-on", "prose-first"])
def test_an_answer_cut_off_after_more_characters_than_the_file_holds_is_repaired(repo, first):
    """Cut off after more characters than the file holds (400 here, the file 304), the answer
    spent its budget on a docstring that ran on or on prose before the code: the file fits in
    the budget, so the answer is sent back with the problem it left and the repair is kept."""
    assert len(first) > 400 > len(SAMPLE_USERS)
    with RecordedModelServer(first_time_then(first, f"```python\n{FIXED_FILE}```\n"),
                             chars_per_token=4) as server:
        session, seen = session_for(repo, server, edit_format="whole", decoding="free", max_tokens=100,
                                    repair_attempts=2)
        proposal = session.propose(session.make_request("return None for no users", "users.py"))
    (failed,) = [e for e in seen if isinstance(e, AttemptFailedEvent)]
    assert failed.proposal.finish_reason == "length" and "ran out of tokens" not in failed.problem
    assert proposal.passes and proposal.attempt == 2 and proposal.changes[0].new_text == FIXED_FILE


WRONG_SEARCH = ("users.py\n<<<<<<< SEARCH\ndef oldest(people):\n=======\ndef oldest(people):\n"
                "    return None\n>>>>>>> REPLACE\n")


@pytest.mark.parametrize("first, then", [(OLDEST_BROKEN, _blocks_then_whole(OLDEST_BROKEN, OLDEST_FIXED)),
                                         (WRONG_SEARCH, first_time_then(WRONG_SEARCH, OLDEST_FIXED))],
                         ids=["asked-again-whole", "read-as-rewrite"])
def test_an_accepted_answer_not_in_blocks_exports_its_pair_in_the_blocks_format(repo, tmp_path, first, then):
    """The pair answers the blocks prompt in blocks: the accepted fenced rewrite (an answer to the
    whole-format question asked again, or a blocks repair's answer read as a rewrite) is rendered
    as blocks; the rejected answer stays as the model wrote it."""
    with RecordedModelServer(then) as server:
        proposal, _, row = _accepted_and_exported(repo, tmp_path, server, edit_format="blocks",
                                                  decoding="free")
    assert proposal.attempt == 2 and proposal.answer == OLDEST_FIXED
    rejected = row["rejected"][0]["content"]
    assert rejected.startswith(first.split("=======")[0])  # a failed SEARCH is read up to its divider
    chosen = row["chosen"][0]["content"]
    assert "<<<<<<< SEARCH" in chosen and ">>>>>>> REPLACE" in chosen and "if not users:" in chosen
    assert "SEARCH" in row["prompt"][0]["content"], "the blocks request's own prompt"


def test_an_answer_is_stopped_once_a_search_section_cannot_apply(repo):
    """A SEARCH that matches nothing refuses the whole answer whatever follows it, so its stream is
    closed at the divider (a weak model's REPLACE often runs to the token limit) and the repair asks
    at once; an answer whose SEARCH applies is read to its end, however long its REPLACE."""
    body = "".join(f"    # step {i}\n" for i in range(300))
    wrong = ("users.py\n<<<<<<< SEARCH\ndef oldest(people):\n=======\ndef oldest(people):\n" + body
             + ">>>>>>> REPLACE\n")
    right = ("users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\ndef oldest(users):\n" + body
             + ">>>>>>> REPLACE\n")
    with RecordedModelServer(first_time_then(wrong, right), delay_s=0.002) as server:
        session, seen = session_for(repo, server, edit_format="blocks")
        proposal = session.propose(session.make_request("document oldest", "users.py"))
        assert wait_for(lambda: server.streams_aborted == 1)
    assert server.streams_finished == 1 and len(server.requests) == 2
    assert proposal.passes and proposal.attempt == 2 and proposal.answer == right
    (failed,) = [e for e in seen if isinstance(e, AttemptFailedEvent)]
    assert failed.proposal.answer == "users.py\n<<<<<<< SEARCH\ndef oldest(people):\n=======\n>>>>>>> REPLACE\n"
    assert "not found" in failed.problem


def test_repair_stops_after_repair_attempts(repo):
    with RecordedModelServer(OLDEST_BROKEN) as server:
        session, seen = session_for(repo, server, repair_attempts=2)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        assert len(server.requests) == 3
    assert proposal.ok and proposal.broken and proposal.attempt == 3
    assert len([e for e in seen if isinstance(e, AttemptFailedEvent)]) == 2


def _accepted_and_exported(repo, tmp_path, server, selection=(17, 18), **overrides):
    """Propose "return None for no users" on oldest(), accept it with the feedback recorder attached,
    export the DPO pairs: (the proposal, the export's manifest, its one pair)."""
    from feedback import attach
    from feedback.export import export
    from feedback.settings import db_path
    from feedback.store import Store

    session, _ = session_for(repo, server, **overrides)
    recorder = attach(session.events, repo, session.config.feedback)
    assert recorder is not None
    try:
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=selection))
        session.accept(proposal)
    finally:
        recorder.close()
    with Store(db_path(session.config.feedback)) as store:
        result = export(store, "dpo", tmp_path / "dpo", test_fraction=0.0)
    (row,) = [json.loads(line) for line in (tmp_path / "dpo" / "jsonl" / "train.jsonl").read_text().splitlines()]
    return proposal, result.manifest, row


def test_failed_attempts_become_automatic_dpo_pairs(repo, tmp_path):
    with RecordedModelServer(first_time_then(OLDEST_BROKEN, OLDEST_FIXED)) as server:
        proposal, manifest, row = _accepted_and_exported(repo, tmp_path, server)
    assert manifest["counts"]["by_source"] == {"repair": 1}
    assert row["automatic"] is True
    assert row["rejected"] == [{"role": "assistant", "content": OLDEST_BROKEN}]
    assert row["chosen"] == [{"role": "assistant", "content": OLDEST_FIXED}]
    assert row["prompt"] == list(proposal.messages)[:2]  # the person's request, not the repair turn


# -- the check command and candidates ------------------------------------------------------------


CHECK = f"{sys.executable} -c \"import users; assert users.oldest([]) is None, 'oldest([]) must be None'\""


def test_check_command_runs_on_a_copy_and_feeds_the_repair(repo):
    unchanged = ('```python\ndef oldest(users):\n    """The oldest user."""\n'
                 "    return max(users, key=lambda user: user.age)\n```\n")  # parses, but oldest([]) still raises
    (repo / "scratch.txt").write_text("untracked work\n")  # untracked files travel to the copy too
    before = (repo / "users.py").read_bytes()
    with RecordedModelServer(first_time_then(unchanged, OLDEST_FIXED)) as server:
        session, _ = session_for(repo, server, check_command=CHECK, check_timeout=60.0)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        problem = server.requests[1]["messages"][-1]["content"]
    assert "check command" in problem and "ValueError: max() arg is an empty sequence" in problem
    assert proposal.passes and proposal.attempt == 2
    assert (repo / "users.py").read_bytes() == before  # checked on a copy, never here
    assert git(repo, "status", "--porcelain") == "?? scratch.txt\n"


def test_check_command_timeout_is_a_finding(repo):
    finding = run_check_command(f"{sys.executable} -c 'import time; time.sleep(30)'", repo,
                                {"users.py": "x = 1\n"}, timeout_s=1.0)
    assert finding is not None and "did not finish within 1 s" in finding.message


def test_candidates_keep_the_one_that_passes(repo):
    def by_seed(body: dict) -> str:
        return OLDEST_BROKEN if body.get("seed") == 0 else OLDEST_FIXED

    with RecordedModelServer(by_seed, delay_s=0.02) as server:  # the shorter broken answer ends first
        session, seen = session_for(repo, server, candidates=3, repair_attempts=0)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        bodies = server.requests
    assert len(bodies) == 3 and sorted(b["seed"] for b in bodies) == [0, 1, 2]
    assert all(b["logprobs"] is True and b["top_logprobs"] == 1 for b in bodies)
    assert sorted(b["temperature"] for b in bodies) == [0.0, 0.8, 0.8]
    assert proposal.passes and proposal.answer == OLDEST_FIXED
    (failed,) = [e for e in seen if isinstance(e, AttemptFailedEvent)]
    assert failed.proposal.answer == OLDEST_BROKEN and failed.successor_id == proposal.id


def test_repair_rounds_sample_and_all_but_one_candidate_ask_without_the_failed_answer(repo):
    """A repair round never repeats the first round's greedy request: every candidate samples with
    a seed of its own; the first gets the repair conversation (its failed answer shown), the others
    the request restated with the problem and without the answer, which they cannot copy."""
    with RecordedModelServer(lambda body: OLDEST_BROKEN) as server:
        session, seen = session_for(repo, server, candidates=3, repair_attempts=1)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        first, repair = server.requests[:3], server.requests[3:]
    assert len(first) == 3 and len(repair) == 3 and proposal.attempt == 2 and proposal.broken
    assert sorted(b["seed"] for b in first) == [0, 1, 2] and sorted(b["seed"] for b in repair) == [3, 4, 5]
    assert sorted(b["temperature"] for b in repair) == [0.4, 0.8, 0.8]
    asked_again = [b for b in repair if any(m["role"] == "assistant" for m in b["messages"])]
    assert len(asked_again) == 1 and asked_again[0]["temperature"] == 0.4
    assert asked_again[0]["messages"][2]["content"] == OLDEST_BROKEN
    original_system, original_user = first[0]["messages"]
    for body in repair:
        if body is asked_again[0]:
            continue
        system, user = body["messages"]
        assert system == original_system and user["content"].startswith(original_user["content"])
        restated = user["content"][len(original_user["content"]):]
        assert "An earlier answer was turned down" in restated and "syntax error" in restated
        assert "max(users, key=lambda u: u.age))" in restated  # the failing line, quoted by the problem
    assert len([e for e in seen if isinstance(e, AttemptFailedEvent)]) == 5  # all but the one shown


OLDEST_BROKEN_OTHERWISE = "```python\ndef oldest(users):\n    return max(users, key=lambda u: u.age\n```\n"


@pytest.mark.parametrize("answers, shown_in_round_3", [
    ([OLDEST_BROKEN, OLDEST_BROKEN, OLDEST_BROKEN], False),
    ([OLDEST_BROKEN, OLDEST_BROKEN_OTHERWISE, OLDEST_BROKEN], True),
], ids=["copies", "writes-anew"])
def test_a_model_seen_copying_its_failed_answer_is_not_shown_it_again(repo, answers, shown_in_round_3):
    """With one candidate, round 2 shows the failed answer (a strong model fixes that best); the
    model that writes it again word for word gets the restated request in round 3, one that
    writes something new is shown its new answer."""
    replies = iter(answers)
    with RecordedModelServer(lambda body: next(replies)) as server:
        session, _ = session_for(repo, server, candidates=1, repair_attempts=2)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        rounds = [body["messages"] for body in server.requests]
    assert proposal.attempt == 3 and len(rounds) == 3
    assert len(rounds[0]) == 2 and rounds[1][2] == {"role": "assistant", "content": answers[0]}
    if shown_in_round_3:
        assert rounds[2][2] == {"role": "assistant", "content": answers[1]}
    else:
        assert len(rounds[2]) == 2 and "An earlier answer was turned down" in rounds[2][1]["content"]


# -- answers stopped once they can only fail ------------------------------------------------------

# loops the embedded model wrote for tasks of the trust benchmark (textwrap.indent, urllib_parse.urldefrag,
# heapq.heapify; whole format, 2026-12-05), cut short
PROSE_LOOP = ("```\n\nYou are already a complete rewritten code. The code is perfect and can be used for a wide "
              "variety of purposes.\n\n" + "You can use it for a variety of tasks.\n\n" * 12)
FRAGMENT_LOOP = ("def urldefrag(url):\n    defrag_url = defrag" + "ment_defrag" * 12 + "_defrag" * 24)
INDENT_LOOP = "".join(" " * (48 + 4 * (i % 2)) + "def _heapify_right_right(x):\n" for i in range(12))


def test_loops_a_model_wrote_are_seen_and_repetition_the_file_holds_is_not():
    assert LoopWatch("").looping(PROSE_LOOP) == "You can use it for a variety of tasks."
    assert LoopWatch("").looping(FRAGMENT_LOOP) == "_defrag"
    assert LoopWatch("def heapify(x):\n    pass\n").looping(INDENT_LOOP) == "def _heapify_right_right(x):"
    assert LoopWatch("").looping(PROSE_LOOP[:-200]) is None  # 9 non-blank lines so far: too few to judge
    table = "TABLE = [\n" + "    0,\n" * 16 + "]\n"
    assert LoopWatch(table).looping(table) is None  # the file holds that repetition
    assert LoopWatch("TABLE = [\n    0,\n]\n").looping(table) == "0,"  # a table the model pads on and on
    rule = "# " + "-" * 77 + "\n"
    assert LoopWatch("").looping("x = 1\n" + rule + "y = 2\n") is None  # a separator is no loop
    assert LoopWatch("").looping("".join(f"    # step {i}\n" for i in range(40))) is None


@pytest.mark.parametrize("code", [
    "def f(a,\n", "from os import (path,\n", "from os import path, \\\n", "x = 1 + \\\n",
    'def f():\n    """The doc\n', "@decorator\n", "if x:\n", "class A:\n    def f(self):\n",
    "def f(a=1, b):\n",  # an error on the last line is not judged yet
    "x = [\n    1,\n    2,\n",
])
def test_a_python_prefix_that_something_may_still_complete_is_not_broken(code):
    assert python_prefix_error(code) is None


@pytest.mark.parametrize("code, line, words", [
    ("def f(a=1, b):\n    return a\n", 1, "default"),
    ("x = (1))\ny = 2\n", 1, "unmatched ')'"),
    ("def f():\n    return 1\n  x = 2\ny = 3\n", 3, "indent"),
    ("return 1\nx = 2\n", 1, "'return' outside function"),
])
def test_a_python_prefix_no_continuation_can_fix_is_broken_at_its_line(code, line, words):
    message, at = python_prefix_error(code)
    assert at == line and words in message


def test_an_answer_that_loops_is_stopped_and_its_loop_is_the_problem(repo):
    """A loop never ends well: the stream is closed once it shows (not at max_tokens) and the
    repair round is told what the answer kept writing."""
    looping = "Here is the change.\n\n" + "You can use it for a variety of tasks.\n\n" * 300

    with RecordedModelServer(first_time_then(looping, OLDEST_FIXED), delay_s=0.002) as server:
        session, seen = session_for(repo, server, repair_attempts=1)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        assert wait_for(lambda: server.streams_aborted == 1)
    assert server.streams_finished == 1 and len(server.requests) == 2
    (failed,) = [e.proposal for e in seen if isinstance(e, AttemptFailedEvent)]
    assert failed.finish_reason == "repetition" and len(failed.answer) < len(looping) // 10
    (repair,) = [e for e in seen if isinstance(e, RepairEvent)]
    assert "loop" in repair.problem and "You can use it for a variety of tasks." in repair.problem
    assert "You can use it for a variety of tasks." in server.requests[1]["messages"][-1]["content"]
    assert proposal.passes and proposal.attempt == 2


@pytest.mark.parametrize("edit_format, answer", [
    ("whole", OLDEST_FIXED),
    ("blocks", "users.py\n<<<<<<< SEARCH\ndef oldest(users):\n=======\ndef oldest(users):\n    if not users:\n"
               "        return None\n>>>>>>> REPLACE\n"),
], ids=["after-the-fence", "after-the-blocks"])
def test_a_loop_after_the_code_takes_nothing_from_it(repo, edit_format, answer):
    """The embedded model often rambles on after its code: the stream is closed at the loop and
    the code before it is the answer, as it would have been at max_tokens."""
    rambling = answer + "\nYou can use it for a variety of tasks.\n" * 300
    with RecordedModelServer(rambling, delay_s=0.002) as server:
        session, seen = session_for(repo, server, edit_format=edit_format, repair_attempts=0, decoding="free")
        proposal = session.propose(session.make_request("return None for no users", "users.py"))
        assert wait_for(lambda: server.streams_aborted == 1)
    assert proposal.passes and proposal.finish_reason == "repetition" and len(proposal.answer) < len(rambling) // 10
    assert "        return None\n" in proposal.changes[0].new_text


def test_a_sampled_whole_rewrite_is_stopped_at_a_syntax_error_nothing_after_can_fix(repo):
    """A sampled candidate's first fence is its answer; once the Python in it cannot compile
    whatever follows, its stream is closed there and the problem is that error. The greedy
    answer, which streams to the person, is read to its end (a larger fence could follow)."""
    broken = SAMPLE_USERS.replace("def load_users(rows):", "def load_users(rows=(), key):")
    long_broken = "```python\n" + broken + "".join(f"# step {i}\n" for i in range(200)) + "```\n"

    with RecordedModelServer(long_broken, delay_s=0.002) as server:
        session, seen = session_for(repo, server, candidates=2, repair_attempts=0, decoding="free")
        proposal = session.propose(session.make_request("return None for no users", "users.py"))
        assert wait_for(lambda: server.streams_aborted == 1)
    assert server.streams_finished == 1  # the greedy answer
    (sampled,) = [e.proposal for e in seen if isinstance(e, AttemptFailedEvent)]
    assert sampled.finish_reason == "syntax-error" and "# step 10\n" not in sampled.answer
    assert "at line 12: def load_users(rows=(), key):" in sampled.errors[0]
    assert proposal.answer == long_broken and proposal.broken


# -- the real embedded model --------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.slow
def test_repair_loop_on_the_real_model(repo, model_server):
    """SmolLM2-135M, the demo's instruction: whatever it answers, nothing broken is shown as passing,
    every failed attempt was sent back, and ``--yes`` writes only a change that parses."""
    config = Config(endpoint=model_server, model=EMBEDDED_MODEL, context_budget=0,
                    repair_attempts=2, max_tokens=256)
    session = EditSession(config, Workspace(repo), ChatClient(model_server, config.model, retries=0))
    seen: list = []
    session.events.subscribe(seen.append)
    try:
        proposal = session.propose(session.make_request("Return None when the list of users is empty.",
                                                        "users.py", selection=(17, 18)))
    finally:
        session.close()
    repairs = [e for e in seen if isinstance(e, RepairEvent)]
    assert len(repairs) == proposal.attempt - 1
    if not proposal.passes:
        assert proposal.attempt == 3  # it kept trying until repair_attempts ran out
    for change in proposal.changes if proposal.passes else ():
        assert not check_change(change.path, change.old_text, change.new_text, proposal.request.instruction,
                                proposal.request.selection)
    before = (repo / "users.py").read_bytes()
    result = amigo(repo, "edit", "Return None when the list of users is empty.", "users.py", "--lines", "17-18",
                   "--yes", endpoint=model_server, timeout=300,
                   env={"AMIGO_MAX_TOKENS": "256", "AMIGO_CANDIDATES": ""})  # unset: the default a person gets
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        new = (repo / "users.py").read_text()
        assert [f for f in check_change("users.py", before.decode(), new, "x") if f.kind == "syntax"] == []
    else:
        assert result.returncode == 1 and (repo / "users.py").read_bytes() == before


def test_a_name_the_change_uses_that_nothing_defines_is_flagged(repo):
    """What four candidates of the embedded model once got past the checks under `--yes`: a call, at
    module level, to a helper it made up (NameError on import). A name undefined before the change
    (here one a star import may bring) is the person's, not flagged."""
    old = (repo / "users.py").read_text()
    new = old.replace("def oldest(users):",
                      "users = load_users(users_list_to_tuple())\n\n\ndef oldest(users):")
    (finding,) = check_change("users.py", old, new, "return None for no users", selection=(17, 18))
    assert (finding.kind, finding.level, finding.line) == ("undefined-name", "error", 17)
    assert "uses the name users_list_to_tuple at line 17, which the file neither defines nor imports" in str(finding)
    starred = "from helpers import *\n\n\ndef f():\n    return made_elsewhere()\n"
    assert check_change("m.py", starred, starred.replace("elsewhere()", "elsewhere() + 1"), "add one") == []
    assert check_change("m.py", old, new.replace("users_list_to_tuple()", "[]"), "x") == []
    # a name only annotated at module level that a function assigns under ``global`` (sphinx, "Ignore
    # fewer Ty rules" wrote ``original: nodes.document`` where it had ``original = None``)
    assigned = ("original = None\n\n\ndef setup():\n    global original\n    original = 1\n\n\n"
                "def test_copy():\n    return original + 1\n")
    annotated = assigned.replace("original = None\n", "original: int\n")
    assert check_change("tests/test_v.py", assigned, annotated, "Ignore fewer type checker rules") == []
    never = annotated.replace("    global original\n    original = 1\n", "    pass\n")
    assert [f.kind for f in check_change("tests/test_v.py", assigned, never, "x")] == ["undefined-name"]


def test_a_function_made_to_call_itself_before_it_can_return_is_flagged():
    """What the embedded model wrote for "Also replace backticks with &#x60; when quote is true"
    (html.escape; 23 of its wrong answers in the check corpus): the body replaced by a call of the
    function itself. It parses, compiles and names nothing undefined; every call recurses."""
    old = 'def escape(s, quote=True):\n    """Escape s."""\n    return s.replace("&", "&amp;")\n'
    new = 'def escape(s, quote=True):\n    """Escape s."""\n    return escape(s, quote=True) + "&#x60;"\n'
    (finding,) = check_change("html.py", old, new, "Also replace backticks with &#x60; when quote is true.")
    assert (finding.kind, finding.level, finding.line) == ("endless-recursion", "error", 3)
    assert "makes the function escape call itself at line 3 before it can return" in finding.message
    after_a_statement = old.replace('    return s.replace', '    s = escape(s)\n    return s.replace')
    assert [f.kind for f in check_change("html.py", old, after_a_statement, "x")] == ["endless-recursion"]
    # past a guard that raises ("Raise a ValueError when year is negative", calendar.monthrange)
    guarded = ("def monthrange(year, month):\n    if not 1 <= month <= 12:\n        raise ValueError(month)\n"
               "    return (f'{monthrange(year, month)} days')\n")
    (finding,) = check_change("calendar.py", guarded.replace("monthrange(year, month)} days", "month} days"),
                              guarded, "Raise a ValueError when year is negative.")
    assert (finding.kind, finding.line) == ("endless-recursion", 4)
    # recursion that may end, or that runs through another binding of the name, is not flagged
    for body in ("    if not s:\n        return s\n    return escape(s[1:])\n",
                 "    return escape(s[1:]) if s else s\n",
                 "    return s and escape(s[1:])\n",
                 "    return [escape(part) for part in s]\n",
                 "    return lambda: escape(s)\n",
                 "    if s:\n        return s\n    return escape(s)\n",
                 "    if not s:\n        raise ValueError\n    else:\n        return s\n    return escape(s)\n"):
        assert check_change("html.py", old, f"def escape(s, quote=True):\n{body}", "x") == [], body
    # a generator's or a coroutine function's call of itself only makes a generator or a coroutine
    assert check_change("walk.py", "def walk(t):\n    yield t\n", "def walk(t):\n    inner = walk(t)\n    yield t\n",
                        "x") == []
    assert check_change("walk.py", "async def get(t):\n    return t\n", "async def get(t):\n    return get(t)\n",
                        "x") == []
    for endless in ("def walk(t):\n    yield from walk(t)\n", "async def walk(t):\n    return await walk(t)\n"):
        assert [f.kind for f in check_change("walk.py", "def walk(t):\n    return t\n", endless, "x")] == [
            "endless-recursion"], endless
    method = old + "\n\nclass Markup:\n    def escape(self, s):\n        return escape(s)\n"
    dispatched = "@dispatch(object)\n" + new + "\n\n@dispatch(object, object)\ndef escape(s, quote):\n    return s\n"
    rebound = new + "\n\nescape = functools.cache(escape)\n"
    for text in (method, dispatched, rebound):
        assert [f for f in check_change("html.py", old, text, "x") if f.kind == "endless-recursion"] == []
    # one that recursed before the change is the person's (a test of the recursion limit)
    assert check_change("html.py", new, new.replace("&#x60;", "&#96;"), "x") == []


def test_a_function_that_calls_itself_as_it_was_called_past_its_guards_is_flagged():
    """What the embedded model wrote for "Use isinstance(items, list) instead of the type() comparison"
    (argparse._copy_items): guards that return, then the function called again with its own argument.
    A call that gets past the guards meets them again unchanged, so it recurses until RecursionError."""
    old = ("def _copy_items(items):\n    if items is None:\n        return []\n    if type(items) is list:\n"
           "        return items[:]\n    import copy\n    return copy.copy(items)\n")
    new = ("def _copy_items(items):\n    if isinstance(items, list):\n        return items[:]\n"
           "    if isinstance(items, (list, tuple)):\n        return tuple(items)\n    return _copy_items(items)\n")
    (finding,) = check_change("argparse.py", old, new, "Use isinstance(items, list) instead of the type() comparison.")
    assert (finding.kind, finding.level, finding.line) == ("endless-recursion", "error", 6)
    assert finding.message.startswith("makes the function _copy_items call itself with the arguments it was given "
                                      "at line 6, past checks that change nothing")
    # past a try that only binds a local, every clause of which returns (recipes.tail's answer), and
    # called by keyword, inside another call
    tail = ("def tail(n, iterable):\n    try:\n        size = len(iterable)\n    except TypeError:\n"
            "        return iter(iterable)\n    except Exception:\n        return False\n"
            "    return list(tail(iterable=iterable, n=n))\n")
    assert [f.kind for f in check_change("recipes.py", "def tail(n, iterable):\n    return iterable\n", tail,
                                         "x")] == ["endless-recursion"]
    # the guard written with an else (glob.escape's answer to "Return early with the pathname unchanged
    # when it is empty"), or an elif, is the same guard
    escape = ("def escape(pathname):\n    if len(pathname) == 0:\n        return pathname\n    else:\n"
              "        return escape(pathname) + ' ' + escape(pathname[1:])\n")
    (finding,) = check_change("glob.py", "def escape(pathname):\n    return pathname\n", escape, "x")
    assert (finding.kind, finding.line) == ("endless-recursion", 5)
    elif_ = new.replace("    if isinstance(items, (list", "    elif isinstance(items, (list").replace(
        "    return _copy_items", "    else:\n        return _copy_items")
    assert [f.kind for f in check_change("argparse.py", old, elif_, "x")] == ["endless-recursion"]
    # a call with other arguments, or past something that changes what the next call sees, may end
    for body in ("    if not items:\n        return items\n    return _copy_items(items[1:])\n",
                 "    if isinstance(items, list):\n        return items\n    return _copy_items(list(items))\n",
                 "    if not items:\n        return items\n    items.pop()\n    return _copy_items(items)\n",
                 "    if next(items, None) is None:\n        return []\n    return _copy_items(items)\n",
                 "    if 1 in items:\n        return []\n    return _copy_items(items)\n",
                 "    if not _cache:\n        return []\n    _cache.clear()\n    return _copy_items(items)\n",
                 "    for item in items:\n        return item\n    return _copy_items(items)\n",
                 "    if items:\n        items = items[1:]\n    else:\n        return items\n    return _copy_items(items)\n",
                 "    if not items:\n        return items\n    else:\n        items.pop()\n    return _copy_items(items)\n",
                 "    try:\n        return items[0]\n    except IndexError:\n        pass\n    return _copy_items(items)\n"):
        findings = check_change("argparse.py", old, f"def _copy_items(items):\n{body}", "x")
        assert [f for f in findings if f.kind == "endless-recursion"] == [], body
    # a default left out is a different argument; *args and **kwargs are not judged
    assert check_change("f.py", "def f(a, b=1):\n    return a\n",
                        "def f(a, b=1):\n    if a:\n        return b\n    return f(a)\n", "x") == []
    assert check_change("f.py", "def f(*a):\n    return a\n",
                        "def f(*a):\n    if a:\n        return a\n    return f(*a)\n", "x") == []
    # a builtin the file binds anew may change things
    shadowed = "len = print\n" + new.replace("isinstance(items, list)", "len(items)")
    assert [f for f in check_change("argparse.py", old, shadowed, "x") if f.kind == "endless-recursion"] == []


def test_a_name_read_in_an_except_clause_that_only_the_try_binds_is_flagged():
    """What the embedded model wrote for "Raise for negative tail sizes on sized iterables"
    (more_itertools' tail): ``size`` read in the clause that catches len()'s TypeError, where it was
    never bound."""
    old = ("def tail(n, iterable):\n    try:\n        size = len(iterable)\n    except TypeError:\n"
           "        return iter(deque(iterable, maxlen=n))\n    else:\n"
           "        return islice(iterable, max(0, size - n), None)\n")
    new = old.replace("iter(deque(iterable, maxlen=n))", "islice(iterable, max(0, size - n))")
    (finding,) = check_change("recipes.py", old, new, "Raise for negative tail sizes on sized iterables.")
    assert (finding.kind, finding.level, finding.line) == ("unbound-name", "error", 5)
    assert finding.message == ("reads size at line 5 in an except clause, but only the try's last statement "
                               "(line 3) binds it: whatever the clause caught was raised before that, so size "
                               "is unbound there (UnboundLocalError)")
    # bound before the try, or by a statement the try runs on past, or in an earlier round of a loop:
    # the clause may see it bound
    for text in (old.replace("    try:\n", "    size = 0\n    try:\n"),
                 old.replace("        size = len(iterable)\n", "        size = len(iterable)\n        check(size)\n"),
                 "def f(rows):\n    for row in rows:\n        try:\n            size = len(row)\n"
                 "        except TypeError:\n            print(size)\n",
                 "def f(row):\n    try:\n        size = len(row)\n    except TypeError:\n        size = 0\n"
                 "        print(size)\n",
                 "def f(row):\n    global size\n    try:\n        size = len(row)\n    except TypeError:\n"
                 "        print(size)\n",
                 "def f(row):\n    try:\n        row.size = len(row)\n    except TypeError:\n        print(row.size)\n",
                 "def f(size):\n    try:\n        size = len(size)\n    except TypeError:\n        print(size)\n"):
        new_text = text.replace("iter(deque(iterable, maxlen=n))", "islice(iterable, max(0, size - n))")
        assert [f for f in check_change("recipes.py", "", new_text, "x") if f.kind == "unbound-name"] == [], text
    # one read so before is the person's
    assert check_change("recipes.py", new, new.replace("max(0, size - n))\n", "max(0, size - n + 0))\n"), "x") == []


def test_a_parameter_the_function_stops_reading_is_flagged():
    """What the embedded model wrote for "Replace the assert with a TypeError when c is not bytes"
    (quopri.needsquoting): the signature kept, the branch that read ``quotetabs`` gone, so every
    caller's quotetabs is ignored. It parses, compiles and names nothing undefined."""
    old = ("def needsquoting(c, quotetabs, header):\n    assert isinstance(c, bytes)\n    if c in b' \\t':\n"
           "        return quotetabs\n    if c == b'_':\n        return header\n    return c == ESCAPE\n")
    new = ("def needsquoting(c, quotetabs, header):\n    if not isinstance(c, bytes):\n"
           "        raise TypeError('c must be bytes')\n    if c in b' \\t':\n        return header\n"
           "    return c == ESCAPE\n")
    instruction = "Replace the assert with a TypeError when c is not bytes."
    (finding,) = check_change("quopri.py", old, new, instruction)
    assert (finding.kind, finding.level, finding.line) == ("unused-parameter", "error", 1)
    assert finding.message == ("makes needsquoting (line 1) ignore its parameter quotetabs: the function still "
                               "takes it but no longer reads it (if it is no longer needed, say so in the "
                               "instruction)")
    kept = new.replace("        return header\n", "        return quotetabs\n    if c == b'_':\n        return header\n")
    assert check_change("quopri.py", old, kept, instruction) == []
    # asked: the parameter named, a removal, or what may ignore it; a parameter removed or renamed is
    # the signature's change, not this; a function that reads locals() reads them all
    for asked in ("Stop using quotetabs.", "Remove the tab handling.", "Keep quotetabs only for compatibility."):
        assert check_change("quopri.py", old, new, asked) == [], asked
    # a signature changed is an interface reworked on purpose (pipx's _unpack gained digest and stopped
    # reading download_link)
    reworked = new.replace("(c, quotetabs, header)", "(c, quotetabs, header, escape=ESCAPE)").replace(
        "c == ESCAPE", "c == escape")
    assert check_change("quopri.py", old, reworked, instruction) == []
    dropped = new.replace("(c, quotetabs, header)", "(c, header)")
    assert [f for f in check_change("quopri.py", old, dropped, instruction) if f.kind == "unused-parameter"] == []
    assert check_change("quopri.py", old, new.replace("    return c == ESCAPE", "    print(locals())\n"
                                                      "    return c == ESCAPE"), instruction) == []
    # one that read nothing before is the person's
    assert check_change("quopri.py", new, new.replace("must be bytes", "must be a bytes object"), "x") == []
    # a method, a decorated function or a test takes what its caller passes, used or not (anyio's
    # abstract create_task, yarl's __get_pydantic_json_schema__, pytest fixtures left unused)
    def indented(text: str) -> str:
        return "".join("    " + line if line.strip() else line for line in text.splitlines(True))
    as_method = ("class Quoter:\n" + indented(old), "class Quoter:\n" + indented(new))
    decorated = ("@register\n" + old, "@register\n" + new)
    for path, (before, after) in (("quopri.py", as_method), ("quopri.py", decorated), ("tests/test_quopri.py",
                                                                                       (old, new))):
        assert check_change(path, before, after, instruction) == [], path


def test_a_rename_asked_and_not_made_is_not_done():
    """What the embedded model answered to "Rename the parameter object to data" (pprint._wrap_bytes_repr):
    ``b''`` changed to ``b""``, the rename nowhere."""
    old = "def _wrap_bytes_repr(object, width):\n    current = b''\n    return object[:width] + current\n"
    quoted = old.replace("b''", 'b""')
    (finding,) = check_changes([("pprint.py", old, quoted)], "Rename the parameter object to data.")
    assert (finding.kind, finding.level) == ("not-done", "error")
    assert finding.message == ("does not rename object: the code spells it as often as before, although the "
                               "instruction asks to rename it to data")
    renamed = old.replace("object", "data")
    assert check_changes([("pprint.py", old, renamed)], "Rename the parameter object to data.") == []
    # made in another file of the proposal (a setting's key, a caller), or a name the code does not hold
    settings = ("settings.toml", "object = 1\n", "data = 1\n")
    assert check_changes([("pprint.py", old, quoted), settings], "Rename the parameter object to data.") == []
    assert check_changes([("pprint.py", old, quoted)], "Rename the parameter thing to data.") == []


def test_code_the_instruction_spells_out_and_the_change_does_not_write_is_not_done():
    """What the embedded model answered to "Chain the ValueError from the OverflowError with 'from None'"
    (ipaddress.v4_int_to_packed): the message reworded, no ``from None``. It compiles and keeps everything."""
    old = ("def v4_int_to_packed(address):\n    try:\n        return address.to_bytes(4)\n"
           "    except OverflowError:\n        raise ValueError('Address negative or too large for IPv4')\n")
    instruction = "Chain the ValueError from the OverflowError with 'from None'."
    reworded = old.replace("negative or too large", "out of range")
    (finding,) = check_changes([("ipaddress.py", old, reworded)], instruction)
    assert (finding.kind, finding.level, finding.path) == ("not-done", "error", "ipaddress.py")
    assert finding.message == ("does not write `from None`, which the instruction spells out: make the change asked "
                               "(if the code must spell it otherwise, say so in the instruction)")
    chained = old.replace("IPv4')", "IPv4') from None")
    assert check_changes([("ipaddress.py", old, chained)], instruction) == []
    # what else is wrong is named instead
    broken = reworded.replace("    try:\n", "    try\n")
    assert {f.kind for f in check_changes([("ipaddress.py", old, broken)], instruction)} == {"syntax"}


def test_the_exception_asked_for_a_name_raised_where_the_name_is_not_tested_is_not_done():
    """What the embedded model answered to "Raise a ValueError when year is negative" (calendar.monthrange):
    the month's check made to raise ValueError, which a negative year never reaches."""
    old = ("def monthrange(year, month):\n    if not 1 <= month <= 12:\n        raise IllegalMonthError(month)\n"
           "    return weekday(year, month, 1), mdays[month]\n")
    instruction = "Raise a ValueError when year is negative."
    misplaced = old.replace("raise IllegalMonthError(month)", "raise ValueError(f'Year {year} is negative')")
    (finding,) = check_changes([("calendar.py", old, misplaced)], instruction)
    assert (finding.kind, finding.level, finding.line) == ("not-done", "error", 3)
    assert finding.message == ("raises ValueError at line 3 under no test of year, although the instruction asks "
                               "for it when year is negative: make the change asked")
    tested = old.replace("    return", "    if year < 0:\n        raise ValueError(year)\n    return")
    assert check_changes([("calendar.py", old, tested)], instruction) == []
    # not raised at all: the exception is code the instruction spells out
    (finding,) = check_changes([("calendar.py", old, old.replace("mdays[month]", "31"))], instruction)
    assert finding.message.startswith("does not write `ValueError`, which the instruction spells out")


def test_a_function_written_anew_for_one_thing_more_is_flagged():
    """What the embedded model answered to "Raise for negative tail sizes on sized iterables"
    (recipes.tail): a body written anew that compiles and no longer takes the last items."""
    old = ('def tail(n, iterable):\n    """The last *n* items of *iterable*."""\n    try:\n        size = len(iterable)\n'
           '    except TypeError:\n        return iter(deque(iterable, maxlen=n))\n    else:\n'
           '        return islice(iterable, max(0, size - n), None)\n')
    instruction = "Raise for negative tail sizes on sized iterables."
    anew = ('def tail(n, iterable):\n    """The last *n* items of *iterable*."""\n    if n < 0:\n'
            '        raise ValueError(n)\n    return islice(iterable, max(0, n - 1))\n')
    (finding,) = check_changes([("recipes.py", old, anew)], instruction)
    assert (finding.kind, finding.level, finding.line) == ("rewritten-function", "error", 1)
    assert finding.message == ("writes tail anew: none of its 6 lines of code is left, although the instruction "
                               "asks for one thing more: keep what it did and add what was asked (to rewrite it, "
                               "say so)")
    kept = old.replace("    else:\n", "    if n < 0:\n        raise ValueError(n)\n    else:\n")
    assert check_changes([("recipes.py", old, kept)], instruction) == []
    # asked to rewrite, asked for something else, or a test
    assert check_changes([("recipes.py", old, anew)], "Rewrite tail to raise for negative sizes.") == []
    assert check_changes([("recipes.py", old, anew)], "Make tail raise for negative sizes.") == []
    assert check_changes([("tests/test_recipes.py", old, anew)], instruction) == []


def test_a_docstring_stripped_of_every_example_is_flagged():
    """What the embedded model answered to "Simplify and speed up nth_permutation" (more-itertools):
    a body that still compiles under a docstring cut to its first line, the doctest gone with the rest."""
    old = ('def nth_permutation(iterable, r, index):\n'
           '    """Equivalent to ``list(permutations(iterable, r))[index]``.\n\n'
           "        >>> nth_permutation('ghijk', 2, 5)\n        ('h', 'i')\n\n"
           '    ``IndexError`` will be raised if the given *index* is invalid.\n    """\n'
           '    pool = list(iterable)\n    return tuple(pool[:r])\n')
    instruction = "Simplify and speed up nth_permutation."
    cut = old.replace("\n\n        >>> nth_permutation('ghijk', 2, 5)\n        ('h', 'i')", "")
    (finding,) = check_changes([("more.py", old, cut)], instruction)
    assert (finding.kind, finding.level, finding.line) == ("removed-example", "error", 1)
    assert finding.message == (
        "takes every example out of the docstring of nth_permutation (`>>> nth_permutation('ghijk', 2, 5)`), "
        "which the instruction did not ask for: they document and test (doctest) what it does; keep them, or "
        "change them to what it does now")
    # an example changed to what the function does now, or one of two left, is a change, not a loss
    faster = old.replace("tuple(pool[:r])", "tuple(pool[:r]) if r else ()")
    changed = faster.replace("('ghijk', 2, 5)\n        ('h', 'i')", "('ghijk', 2, 0)\n        ('g', 'h')")
    assert check_changes([("more.py", old, changed)], instruction) == []
    two = old.replace("('h', 'i')\n", "('h', 'i')\n        >>> nth_permutation('ab', 2, 0)\n        ('a', 'b')\n")
    assert check_changes([("more.py", two, faster)], instruction) == []
    # asked of the documentation, the examples may go; so may the whole function, when asked
    assert check_changes([("more.py", old, cut)], "Move the examples of nth_permutation to the docs") == []
    gone = [f.kind for f in check_changes([("more.py", old + "\n\ndef f():\n    pass\n", "def f():\n    pass\n")],
                                          "Remove nth_permutation")]
    assert "removed-example" not in gone
    # asked for one thing more, what the examples show still holds: one of two taken out is a loss
    # (the model's answer to "Raise a clear ValueError for negative n in chunked()" dropped one)
    raising = faster.replace("    pool = list", "    if index < 0:\n        raise ValueError(index)\n    pool = list")
    (finding,) = check_changes([("more.py", two, raising)], "Raise a clear ValueError for a negative index.")
    assert (finding.kind, finding.line) == ("removed-example", 1)
    assert finding.message == ("takes the example `>>> nth_permutation('ab', 2, 0)` out of the docstring of "
                               "nth_permutation, although the instruction asks for one thing more: what the "
                               "examples show should still hold; keep them")
    assert check_changes([("more.py", two, raising.replace("('h', 'i')\n", "('h', 'i')\n"
                                                           "        >>> nth_permutation('ab', 2, 0)\n"
                                                           "        ('a', 'b')\n"))],
                         "Raise a clear ValueError for a negative index.") == []
    # a class and its methods are read as well as functions
    method = "class Perms:\n" + "".join(f"    {line}\n" if line else "\n" for line in old.splitlines())
    (finding,) = check_changes([("more.py", method, "class Perms:\n" + "".join(
        f"    {line}\n" if line else "\n" for line in cut.splitlines()))], instruction)
    assert (finding.kind, finding.line) == ("removed-example", 2)
    assert "docstring of Perms.nth_permutation" in finding.message


def test_the_answer_formats_placeholder_written_into_a_file_is_flagged():
    """What the embedded model answered to "Document suggested method to unique-ify `duplicates_everseen`
    output": the prompt's picture of a block copied as the REPLACE, into a docstring, where it parses."""
    old = ('def duplicates_everseen(iterable, key=None):\n    """Yield duplicate elements after their first '
           "appearance.\n\n    >>> list(duplicates_everseen('mississippi'))\n    ['s', 'i', 's', 's', 'i', 'p', 'i']\n"
           '    """\n    return iterable\n')
    answer = (f"more.py\n{SEARCH_MARK}\n\n    >>> list(duplicates_everseen('mississippi'))\n{DIVIDER}\n"
              f"the new lines that replace them\n{REPLACE_MARK}\n")
    new = apply_answer(answer, {"more.py": old}, "more.py").new_texts["more.py"]
    (finding,) = check_changes([("more.py", old, new)], "Document suggested method to unique-ify the output.")
    assert (finding.kind, finding.level, finding.line) == ("placeholder", "error", 3)
    assert finding.message == ("writes the answer format's placeholder at line 3 ('the new lines that replace "
                               "them') where the file's own lines belong")
    # in any file, grammar or not; a file that had the line may keep it (this project's own prompt)
    assert [f.kind for f in check_changes([("NOTES.txt", "a\n", "a\npath/of/the/file\n")], "x")] == ["placeholder"]
    assert check_changes([("NOTES.txt", "the new lines that replace them\n",
                           "the new lines that replace them\nb\n")], "x") == []


def test_a_version_directive_written_without_its_version_is_flagged():
    """What the embedded model answered to "Use `.. deprecated::` directive for `pairwise`" (more-itertools,
    whose warning said "deprecated as of version 11.0.0"): the directive alone, which Sphinx rejects, or
    with the first word of a sentence where the version goes."""
    old = ('def pairwise(iterable):\n    """Wrapper for itertools.pairwise.\n\n    .. warning::\n\n'
           '       This function is deprecated as of version 11.0.0.\n    """\n    return iterable\n')
    instruction = "Use `.. deprecated::` directive for `pairwise`."
    prose = old.replace(".. warning::", ".. deprecated:: This function will be removed.")
    (finding,) = check_changes([("recipes.py", old, prose)], instruction)
    assert (finding.kind, finding.level, finding.line) == ("version-directive", "error", 4)
    assert finding.message == ("writes `.. deprecated::` at line 4 with 'This' where the version goes: give the "
                               "version first (`.. deprecated:: 3.1`, then the text)")
    (bare,) = check_changes([("recipes.py", old, old.replace(".. warning::", ".. deprecated::"))], instruction)
    assert bare.message.endswith("at line 4 with no version, which Sphinx rejects: give the version first "
                                 "(`.. deprecated:: 3.1`, then the text)")
    # a version, or the capitals real projects write for the next release; in reStructuredText too
    for version in ("11.0.0", "11.0.0 Use itertools.pairwise.", "VERSION", "NEXT"):
        assert check_changes([("recipes.py", old, old.replace(".. warning::", f".. deprecated:: {version}"))],
                             instruction) == []
    assert [f.kind for f in check_changes([("docs/api.rst", "API\n", "API\n\n.. versionadded::\n")],
                                          "Document it.")] == ["version-directive"]
    # a directive the file had before may stay as it was; Markdown has no such directive
    kept = old.replace(".. warning::", ".. deprecated::")
    assert check_changes([("recipes.py", kept, kept.replace("Wrapper", "A wrapper"))], "Reword the docstring.") == []
    assert check_changes([("NOTES.md", "a\n", "a\n.. deprecated::\n")], "x") == []


def test_a_hint_the_instruction_spells_out_written_otherwise_is_not_done():
    """What the embedded model answered to "Add type hints: s is bytes | str and the function returns
    bytes" (base64.urlsafe_b64decode): ``s: bytes``, a hint that type checkers then hold every caller
    passing a str to."""
    old = ('import typing\nfrom typing import Optional, Union\n\n\n'
           'def urlsafe_b64decode(s):\n    """Decode s."""\n    return typing.cast(bytes, s)\n')
    instruction = "Add type hints: s is bytes | str and the function returns bytes."
    narrow = old.replace("(s):", "(s: bytes) -> bytes:")
    (finding,) = check_changes([("b64.py", old, narrow)], instruction)
    assert (finding.kind, finding.level, finding.line) == ("not-done", "error", 5)
    assert finding.message == ("hints s of urlsafe_b64decode as bytes, although the instruction asks for "
                               "bytes | str: write the hint asked")
    # the hint asked in any order or spelling of the same union
    for hint in ("bytes | str", "str | bytes", "Union[str, bytes]", "typing.Union[bytes, str]", "'bytes | str'"):
        assert check_changes([("b64.py", old, old.replace("(s):", f"(s: {hint}) -> bytes:"))], instruction) == []
    returned = check_changes([("b64.py", old, old.replace("(s):", "(s: bytes | str) -> str:"))], instruction)
    assert [f.message for f in returned] == [
        "hints the return value of urlsafe_b64decode as str, although the instruction asks for bytes: "
        "write the hint asked"]
    # a signature, Optional, and one name annotated as asked
    pad = "from typing import Optional\n\n\ndef _strip_padding(s, amount):\n    return s[amount:]\n"
    asked = "Add a docstring and type hints (s: str, amount: int | None) -> str."
    assert check_changes([("l.py", pad, pad.replace("(s, amount):", "(s: str, amount: Optional[int]) -> str:")
                           .replace("str:\n", 'str:\n    """Strip."""\n', 1))], asked) == []
    assert [f.kind for f in check_changes([("l.py", pad, pad.replace("(s, amount):", "(s: str, amount: int) -> str:")
                                            .replace("str:\n", 'str:\n    """Strip."""\n', 1))], asked)] == ["not-done"]
    assert [f.kind for f in check_changes([("l.py", pad, pad.replace("(s, amount)", "(s: bytes, amount)"))],
                                          "Annotate `s` as `str`")] == ["not-done"]
    # hints only mentioned, or asked with no hint spelt, hold nothing
    assert check_changes([("b64.py", old, narrow)], "More specific type hint when s is None") == []
    assert check_changes([("b64.py", old, narrow)], "Add type hints to urlsafe_b64decode") == []


def test_a_rename_done_in_part_is_flagged_with_the_likely_fix():
    """The shape a rename task invites ("Rename the variable head to directory", posixpath.dirname of
    the trust tasks): the assignments renamed, a use left behind. It parses, and raises NameError."""
    old = ("def dirname(p):\n    i = p.rfind('/') + 1\n    head = p[:i]\n"
           "    if head:\n        head = head.rstrip('/')\n    return head\n")
    new = ("def dirname(p):\n    i = p.rfind('/') + 1\n    directory = p[:i]\n"
           "    if directory:\n        directory = directory.rstrip('/')\n    return head\n")
    (finding,) = check_change("posixpath.py", old, new, "Rename the variable head to directory.")
    assert (finding.kind, finding.line) == ("undefined-name", 6)
    assert finding.message == ("uses the name head at line 6, which the file neither defines nor imports "
                               "(the change removed or renamed what defined it; if it became directory, "
                               "this use must change too)")
    two_new = new.replace("    return head", "    length = len(directory)\n    return head")
    (finding,) = check_change("posixpath.py", old, two_new, "Rename the variable head to directory.")
    assert finding.message.endswith("(the change removed or renamed what defined it)")


def test_a_second_definition_of_the_same_function_is_flagged(repo):
    """What `make demo` once committed: the selection rewritten with a copy of the function above it."""
    old = (repo / "users.py").read_text()
    new = old.replace("def oldest(users):", "def load_users(rows):\n    return []\n\n\ndef oldest(users):")
    (finding,) = check_change("users.py", old, new, "return None for no users", selection=(17, 18))
    assert finding.kind == "duplicate-definition" and finding.line == 17
    assert "defines the function load_users again at line 17, replacing the one at line 12" in finding.message


def test_definitions_in_other_branches_or_functions_replace_nothing():
    """Real commits (benchmarks/checks_history.py): jinja's ``_get_zipimporter_files`` defined once
    per Python version, rich's tests with a helper ``bar`` inside each of two test functions."""
    old = "import sys\n\n\ndef other():\n    return 1\n"
    branches = old + ("\n\nif sys.version_info >= (3, 13):\n    def files(z):\n        return z._get_files()\n"
                      "else:\n    def files(z):\n        return z._files\n")
    assert check_change("loaders.py", old, branches, "fix the zip listing on 3.13") == []
    nested = old + ("\n\ndef test_one():\n    def bar(a):\n        return 1 / a\n    bar(1)\n"
                    "\n\ndef test_two():\n    def bar():\n        raise RuntimeError\n    return bar\n")
    assert check_change("test_traceback.py", old, nested, "test for infinite loop") == []


def test_python_errors_tree_sitter_tolerates_are_found_too(repo):
    old = (repo / "users.py").read_text()
    new = old.replace("def oldest(users):", "def oldest(users):\ndef oldest(users):")  # a def with no body
    kinds = [f.kind for f in check_change("users.py", old, new, "return None for no users")]
    assert kinds[0] == "syntax"


def test_python_errors_only_compiling_finds_are_found_too():
    """Code the parser takes but the module's import refuses: a rewritten body left at module level
    (its ``return`` outside any function), a parameter written twice."""
    old = "def first(items):\n    if not items:\n        return None\n    return items[0]\n"
    dedented = "if not items:\n    return None\nreturn items[0]\n"
    (finding,) = check_change("m.py", old, dedented, "return None for no items")[:1]
    assert (finding.kind, finding.line) == ("syntax", 2)
    assert "'return' outside function" in finding.message
    twice = old.replace("first(items)", "first(items, items)")
    (finding,) = check_change("m.py", old, twice, "return None for no items")
    assert finding.kind == "syntax" and "duplicate argument 'items'" in finding.message
    broken_before = "return 1\n"
    assert check_change("m.py", broken_before, broken_before + "return 2\n", "x") == []  # the person's


def test_python_3_12_syntax_is_no_error_where_this_python_is_older():
    """Real commit (sphinx, "Drop support for Python 3.11"): ``type`` aliases, which Python 3.11
    cannot compile, were refused as syntax errors. Type parameters and f-strings that nest quotes
    are 3.12 syntax too; an error beside them is still found at its line, and a prefix of an answer
    still being written is read the same way."""
    old = "from typing import Callable\n\n\ndef first(items):\n    return items[0]\n"
    newer = ('from typing import Callable\n\ntype Parser = Callable[\n    [str],\n    int,\n]\n\n\n'
             'def first[T](items: list[T]) -> T:\n    return items[0]\n\n\nclass Box[T]:\n    pass\n\n\n'
             'def label(d):\n    return f"{d["name"]}"\n')
    assert check_change("m.py", old, newer, "Drop support for Python 3.11") == []
    (finding,) = check_change("m.py", old, newer + "return 1\n", "Drop support for Python 3.11")
    assert (finding.kind, finding.line) == ("syntax", 19) and "'return' outside function" in finding.message
    assert python_prefix_error("type Parser = Callable[\n    [str],\n") is None
    assert python_prefix_error(newer) is None
    assert python_prefix_error("type = 5\nx = type\n") is None  # ``type`` is still a name
    assert python_prefix_error("type X int\ny = 1\n")[1] == 1


def test_candidates_are_asked_one_after_the_other_from_llama_cpp_python(repo):
    """Its server cuts off the answer it streams when another request arrives; so the greedy answer
    comes first, and a sampled one is asked for only while none has passed."""
    from amigo.decoding.backend import Backend

    finished_before: list[int] = []

    with RecordedModelServer(OLDEST_FIXED, delay_s=0.01) as server:
        def answer(body: dict) -> str:
            finished_before.append(server.streams_finished)
            return OLDEST_BROKEN if body.get("seed") == 0 else OLDEST_FIXED

        server.answer = answer
        session, _ = session_for(repo, server, candidates=3, repair_attempts=0, decoding="free")
        session._decoding_cache = Backend(server.base_url, "recorded", "llama-cpp-python")
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
    assert proposal.passes and proposal.answer == OLDEST_FIXED
    assert finished_before == [0, 1]  # the third candidate was never asked for


def _llama_server_session(repo, server, **overrides):
    """A session whose server counts as llama-server (which answers ``n`` choices from one prompt)."""
    from amigo.decoding.backend import Backend

    session, seen = session_for(repo, server, decoding="free", **overrides)
    session._decoding_cache = Backend(server.base_url, "recorded", "llama.cpp")
    return session, seen


def test_a_sampled_answer_that_ended_is_judged_before_the_ones_sharing_its_request_end(repo):
    """Choices of one request end one by one: the short one that passes is judged when it ends,
    the round stops, and the long one sharing its request is cut off (it used to be waited for:
    a choice's answer ended only with the whole stream)."""
    rambling = OLDEST_FIXED.replace("```\n", "") + "".join(f"    # step {i}\n" for i in range(400))
    answers = {0: OLDEST_BROKEN, 1: OLDEST_FIXED, 2: rambling}  # by seed: the greedy one, then the shared two

    with RecordedModelServer(lambda body: answers[body["seed"]], delay_s=0.005) as server:
        session, seen = _llama_server_session(repo, server, candidates=3, repair_attempts=0)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        assert wait_for(lambda: server.streams_aborted == 1)
    assert sorted(str(b.get("n")) for b in server.requests) == ["2", "None"]  # they arrive in either order
    assert server.streams_finished == 1  # the greedy answer; the shared stream never reached its end
    assert proposal.passes and proposal.answer == OLDEST_FIXED


def test_unset_candidates_are_several_for_the_embedded_model_where_they_decode_together(repo):
    """``candidates`` unset: the embedded model on llama-server gets EMBEDDED_CANDIDATES answers a
    round (the greedy one, and the sampled ones in one request); on llama-cpp-python, which decodes
    one answer at a time, and for any other model, one."""
    from amigo.decoding.backend import Backend
    from amigo.engine import EMBEDDED_CANDIDATES

    asked = {}
    for kind, model in (("llama.cpp", EMBEDDED_MODEL), ("llama-cpp-python", EMBEDDED_MODEL),
                        ("llama.cpp", "qwen2.5-coder-7b")):
        with RecordedModelServer(lambda body: OLDEST_BROKEN) as server:
            session, _ = session_for(repo, server, repair_attempts=0, decoding="free")
            session.config = dataclasses.replace(session.config, model=model)
            session._decoding_cache = Backend(server.base_url, "recorded", kind)
            session.propose(session.make_request("return None for no users", "users.py", selection=(17, 18)))
            asked[kind, model] = sum(b.get("n") or 1 for b in server.requests)
    assert asked == {("llama.cpp", EMBEDDED_MODEL): EMBEDDED_CANDIDATES, ("llama-cpp-python", EMBEDDED_MODEL): 1,
                     ("llama.cpp", "qwen2.5-coder-7b"): 1}
    assert EMBEDDED_CANDIDATES > 1


def test_sampled_candidates_share_one_request_so_the_prompt_is_evaluated_once(repo):
    """Round 1: the greedy answer alone, the three sampled ones as one request with n=3 (the
    server gives them seeds 1, 2, 3); each is read, checked and ranked as its own candidate."""
    def by_seed(body: dict) -> str:
        return OLDEST_FIXED if body.get("seed") == 3 else OLDEST_BROKEN

    with RecordedModelServer(by_seed, delay_s=0.01) as server:
        session, seen = _llama_server_session(repo, server, candidates=4, repair_attempts=0)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        bodies = server.requests
    assert [(b.get("n"), b["seed"], b["temperature"]) for b in bodies] in (
        [(None, 0, 0.0), (3, 1, 0.8)], [(3, 1, 0.8), (None, 0, 0.0)])
    assert proposal.passes and proposal.answer == OLDEST_FIXED
    assert len([e for e in seen if isinstance(e, AttemptFailedEvent)]) == 3, "each broken answer counted apart"


def test_repair_rounds_share_requests_where_prompt_and_sampling_agree(repo):
    """A repair round: the first candidate (repair conversation, temperature 0.4) alone, the three
    asking the restated request together: 2 requests for 4 candidates."""
    with RecordedModelServer(lambda body: OLDEST_BROKEN) as server:
        session, seen = _llama_server_session(repo, server, candidates=4, repair_attempts=1)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        repair = server.requests[2:]
    assert proposal.attempt == 2 and proposal.broken and len(server.requests) == 4
    shared = [b for b in repair if b.get("n")]
    assert len(shared) == 1 and shared[0]["n"] == 3 and shared[0]["seed"] == 5
    assert not any(m["role"] == "assistant" for m in shared[0]["messages"]), "the restated ones share"
    assert len([e for e in seen if isinstance(e, AttemptFailedEvent)]) == 7  # all but the one shown


def test_a_server_that_ignores_n_gets_one_request_per_candidate_from_then_on(repo):
    with RecordedModelServer(lambda body: OLDEST_BROKEN) as server:
        server.serves_n = False
        session, _ = _llama_server_session(repo, server, candidates=3, repair_attempts=1)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        first, repair = server.requests[:2], server.requests[2:]
    assert proposal.broken and sorted(str(b.get("n")) for b in first) == ["2", "None"]
    assert len(repair) == 3 and not any(b.get("n") for b in repair)


def test_a_shared_request_is_closed_once_a_candidate_passes(repo):
    rambling = OLDEST_FIXED.replace("```\n", "") + "".join(f"    # step {i}\n" for i in range(200))  # no closing fence

    with RecordedModelServer(lambda body: OLDEST_FIXED if body.get("seed") == 0 else rambling,
                             delay_s=0.005) as server:
        session, seen = _llama_server_session(repo, server, candidates=3, repair_attempts=0)
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        assert wait_for(lambda: server.streams_aborted == 1)
    assert len(server.requests) == 2 and server.streams_finished == 1  # the shared one never ran to its end
    assert proposal.passes and proposal.answer == OLDEST_FIXED
    assert not [e for e in seen if isinstance(e, AttemptFailedEvent)]


def wait_for(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_a_round_stops_once_a_candidate_passes(repo):
    """The greedy answer passes while the sampled ones are still streaming: the round ends (after a
    grace of a tenth of its time), their streams are closed, and neither counts as a failure."""
    rambling = OLDEST_FIXED.replace("```\n", "") + "".join(f"    # step {i}\n" for i in range(200))  # no closing fence

    with RecordedModelServer(lambda body: OLDEST_FIXED if body.get("seed") == 0 else rambling,
                             delay_s=0.005) as server:
        session, seen = session_for(repo, server, candidates=3, repair_attempts=0, decoding="free")
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        assert wait_for(lambda: server.streams_aborted == 2)
    assert len(server.requests) == 3 and server.streams_finished == 1  # neither rambling one ran to its end
    assert proposal.passes and proposal.answer == OLDEST_FIXED
    assert not [e for e in seen if isinstance(e, AttemptFailedEvent)]


def test_a_sampled_whole_answer_ends_at_its_closed_fence(repo):
    """In the whole format a sampled candidate's stream is closed once its code fence closes: the
    prose after it is never waited for. The greedy first answer, which streams to the person, is
    read to its end."""
    chatty = OLDEST_FIXED + "This returns None when there are no users. " * 100

    with RecordedModelServer(lambda body: OLDEST_BROKEN if body.get("seed") == 0 else chatty,
                             delay_s=0.002) as server:
        session, seen = session_for(repo, server, candidates=2, repair_attempts=0, decoding="free")
        proposal = session.propose(session.make_request("return None for no users", "users.py",
                                                        selection=(17, 18)))
        assert wait_for(lambda: server.streams_aborted == 1)
    assert proposal.passes and proposal.answer.startswith(OLDEST_FIXED)
    assert len(proposal.answer) < len(OLDEST_FIXED) + 8  # at most the rest of the chunk that closed the fence
    assert server.streams_finished == 1  # the greedy answer, to its end
    (failed,) = [e for e in seen if isinstance(e, AttemptFailedEvent)]
    assert failed.proposal.answer == OLDEST_BROKEN
