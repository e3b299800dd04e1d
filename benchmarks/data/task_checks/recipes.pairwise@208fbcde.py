"""recipes.pairwise@208fbcde: Use `.. deprecated::` directive for `pairwise`."""

SETUP = "from itertools import pairwise as itertools_pairwise"

REFERENCE = '''def pairwise(iterable):
    """
    Wrapper for :func:`itertools.pairwise`.

    .. deprecated:: 11.0.0
       This function will be removed in a future major release.
    """
    return itertools_pairwise(iterable)
'''

import re

# the asked change: the docstring uses the deprecated directive, with the version, in place of the warning
_doc = FUNCTION.__doc__ or ""
assert re.search(r"^\s*\.\. deprecated:: *11\.0(\.0)?(?!\.?\d)", _doc, re.M), "no '.. deprecated:: 11.0.0' directive"
assert "warning::" not in _doc, "the warning directive is still there"
assert "itertools.pairwise" in _doc, "the summary line is lost"

# the behaviour is kept
assert list(pairwise("abcd")) == [("a", "b"), ("b", "c"), ("c", "d")]
assert list(pairwise([1])) == []
assert list(pairwise([])) == []
assert list(pairwise(iter(range(3)))) == [(0, 1), (1, 2)]
