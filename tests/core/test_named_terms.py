"""What an instruction spells out for the change to write (amigo.named_terms): the reading, and when a change writes it.

The instructions are the trust tasks' (benchmarks/data/edit_tasks.jsonl) and real commit subjects that
an early version of the reading misread.
"""

from __future__ import annotations

import pytest

from amigo.named_terms import terms, unwritten, written_form


@pytest.mark.parametrize("instruction, spelt", [
    ("Also replace backticks with &#x60; when quote is true.", ["&#x60;"]),
    ("Change the error message to 'mean() requires at least one data point'.",
     ["mean() requires at least one data point"]),
    ("Chain the ValueError from the OverflowError with 'from None'.", ["from None"]),
    ("Use memo.setdefault instead of try/except KeyError.", ["memo.setdefault"]),
    ("Sort the suffixes with sorted() instead of list.sort().", ["sorted()"]),
    ("Use isinstance(items, list) instead of the type() comparison.", ["isinstance(items, list)"]),
    ("Also normalize 'utf8' (without the dash) to 'utf-8'.", ["utf8", "utf-8"]),
    ("Use `.. deprecated::` directive for `pairwise`.", [".. deprecated::"]),
    ("cli:add `--man_path` option", ["--man_path"]),
    ("Raise a clear ValueError for negative n in chunked().", ["ValueError"]),
    ("Replace the final assert with a GetoptError.", ["GetoptError"]),
    ("Switch from `PurePath#as_uri` to `PurePath#joinpath`", ["PurePath#joinpath"]),
])
def test_the_code_an_instruction_asks_to_write_is_read(instruction, spelt):
    assert terms(instruction) == spelt


@pytest.mark.parametrize("instruction", [
    "Rename the variable head to directory.",  # no code spelt out (the rename check judges renames)
    "Document suggested method to unique-ify `duplicates_everseen` output.",  # no word asks to write it
    "Update jinja2/filters.py",  # a file
    "Unbroke setup.py",
    'Revert "Support included blocks override"',  # a commit's subject, quoted
    'Fix to query_update(None) (#792)',  # what goes wrong
    "Reformat new `progress` code with `black`",  # a tool
    'Add stricter checking to "from ... import ..."',  # dots that stand for anything
    "Tests package should be excluded, otherwise it is deployed when using `python setup.py install`",
    "make tkinter objects \"private\"",
    "Don't quote the person's name",  # apostrophes
    "avoid ResourceWarning on failed multipart parsing",  # what goes wrong
    "make recv_until return the delimiter. also fix a NetstringException",  # what goes wrong
    "have the test module finder raise the original ImportError",  # one there already
    "When using the HTML formatter with `linespans=foo`, the anchors break",  # when it happens
])
def test_what_is_not_code_to_write_is_left_alone(instruction):
    assert terms(instruction) == []


def test_what_the_code_must_hold_for_a_term():
    assert written_form("memo.setdefault") == "setdefault"  # from ... import setdefault writes it too
    assert written_form("isinstance(items, list)") == "isinstance"
    assert written_form("--man_path") == "man_path"
    assert written_form("&#x60;") == "&#x60;"
    assert written_form("PurePath#joinpath") == "joinpath"
    assert written_form("[slack]") == "slack"  # tqdm's "add `[slack]` extra dependency" wrote "slack = ..."


ESCAPE = ('def escape(s, quote=True):\n    s = s.replace("&", "&amp;")\n    if quote:\n'
          '        s = s.replace(\'"\', "&quot;")\n    return s\n')
BACKTICKS = "Also replace backticks with &#x60; when quote is true."


def test_a_change_that_writes_none_of_the_terms_is_found():
    """The embedded model's answer: the double-quote line dropped, no backtick anywhere."""
    dropped = ESCAPE.replace('        s = s.replace(\'"\', "&quot;")\n', "        pass\n")
    assert unwritten([("html.py", ESCAPE, dropped)], BACKTICKS) == ["&#x60;"]
    done = ESCAPE.replace("    return s", '        s = s.replace("`", "&#x60;")\n    return s')
    assert unwritten([("html.py", ESCAPE, done)], BACKTICKS) == []
    # written in another file of the proposal, or in a new one
    assert unwritten([("html.py", ESCAPE, dropped), ("entities.py", None, 'BACKTICK = "&#x60;"\n')], BACKTICKS) == []


def test_a_term_the_files_already_hold_is_not_asked_again():
    old = "def f(memo):\n    return memo.setdefault(1, [])\n"
    assert unwritten([("copy.py", old, old.replace("[]", "()"))], "Use memo.setdefault here too.") == []


def test_a_changed_module_named_is_where_not_what():
    """starlette's "Add tests to `test_responses`" and "Add tests to `test_datastructure`" (of
    test_datastructures.py) name the module they change."""
    old = "def test_a():\n    assert 1\n"
    new = old + "\n\ndef test_b():\n    assert 2\n"
    for path, module in (("tests/test_responses.py", "test_responses"),
                         ("tests/test_datastructures.py", "test_datastructure")):
        assert unwritten([(path, old, new)], f"Add tests to `{module}`") == [], module
    assert unwritten([("tests/test_responses.py", old, new)], "Add tests to `test_streaming`") == ["test_streaming"]


def test_a_slip_of_the_instructions_spelling_counts_as_the_name():
    """more-itertools' "use `zip_equals` instead": the commit called zip_equal, which the file defined."""
    old = "def zip_equal(*its):\n    return zip(*its)\n\ndef f(a, b):\n    return zip(a, b)\n"
    new = old.replace("    return zip(a, b)", "    return zip_equal(a, b)")
    assert unwritten([("more.py", old, new)], "use `zip_equals` instead") == []
    assert unwritten([("more.py", old, new)], "use `zip_longest` instead") == ["zip_longest"]


def test_prose_in_quotes_is_matched_whatever_its_case_and_joints():
    """pallets/jinja's 'Copyright switch to "The Jinja Team".' wrote "by the Jinja Team"; boltons' "add 'kv
    consistency' test" wrote test_kv_consistency."""
    assert unwritten([("AUTHORS", "by Armin\n", "by the Jinja Team\n")],
                     'Copyright switch to "The Jinja Team".') == []
    assert unwritten([("test_d.py", "x = 1\n", "def test_kv_consistency():\n    pass\n")],
                     "add 'kv consistency' test") == []
    assert unwritten([("test_d.py", "x = 1\n", "def test_kv():\n    pass\n")], "add 'kv consistency' test") != []


def test_code_is_matched_whatever_its_spacing_and_a_lower_case_word_whatever_its_case():
    old = "KEYWORDS = ('If', 'Then')\n"
    assert unwritten([("fortran.py", old, "KEYWORDS = ('If', 'ElseIf', 'Then')\n")],
                     'added "elseif" as a Fortran keyword') == []
    assert unwritten([("n.py", "def f() -> str: ...\n", "def f() -> str | Path: ...\n")],
                     "Change the return type to `str|Path`") == []
