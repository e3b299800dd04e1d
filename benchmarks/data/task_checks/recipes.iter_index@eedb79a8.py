"""recipes.iter_index@eedb79a8: Issue 1215: Add docstring note for iter_index on using range objects."""

SETUP = "from itertools import islice\nfrom contextlib import suppress"

REFERENCE = '''def iter_index(iterable, value, start=0, stop=None):
    """Yield the index of each place in *iterable* that *value* occurs,
    beginning with index *start* and ending before index *stop*.


    >>> list(iter_index('AABCADEAF', 'A'))
    [0, 1, 4, 7]
    >>> list(iter_index('AABCADEAF', 'A', 1))  # start index is inclusive
    [1, 4, 7]
    >>> list(iter_index('AABCADEAF', 'A', 1, 7))  # stop index is not inclusive
    [1, 4]

    The behavior for non-scalar *values* matches the built-in Python types.

    >>> list(iter_index('ABCDABCD', 'AB'))
    [0, 4]
    >>> list(iter_index([0, 1, 2, 3, 0, 1, 2, 3], [0, 1]))
    []
    >>> list(iter_index([[0, 1], [2, 3], [0, 1], [2, 3]], [0, 1]))
    [0, 2]

    A ``range`` object has an ``index`` method that takes no *start* or
    *stop* arguments, so pass ``iter(range(...))`` (or a list) instead:

    >>> list(iter_index(iter(range(10)), 3))
    [3]

    See :func:`locate` for a more general means of finding the indexes
    associated with particular values.

    """
    seq_index = getattr(iterable, 'index', None)
    if seq_index is None and (start < 0 or (stop is not None and stop < 0)):
        # islice() rejects negative indices, but the fast path (below) accepts
        # them with the usual from-the-end semantics. Materialize so that both
        # paths agree for negative *start* / *stop*.
        iterable = tuple(iterable)
        seq_index = iterable.index

    if seq_index is None:
        # Slow path for general iterables
        iterator = islice(iterable, start, stop)
        for i, element in enumerate(iterator, start):
            if element is value or element == value:
                yield i
    else:
        # Fast path for sequences
        stop = len(iterable) if stop is None else stop
        i = start - 1
        with suppress(ValueError):
            while True:
                yield (i := seq_index(value, i + 1, stop))
'''

import re as _re

# the asked note: a paragraph of the docstring is about range objects and says what to do or why
# (their index method, iter(), a list or tuple, the slow path...)
_doc = FUNCTION.__doc__ or ""
_notes = [p for p in _re.split(r"\n\s*\n", _doc) if _re.search(r"\brange\b", p, _re.I)]
assert _notes, "no docstring note on range objects"
assert any(_re.search(r"index|iter\b|iter\(|list|tuple|slow|sequence|convert|wrap|start|stop|argument",
                      p.replace("iter_index", ""), _re.I) for p in _notes), _notes

# the rest of the docstring is kept
for _line in [">>> list(iter_index('AABCADEAF', 'A'))", ">>> list(iter_index('AABCADEAF', 'A', 1, 7))",
              ">>> list(iter_index('ABCDABCD', 'AB'))", ">>> list(iter_index([[0, 1], [2, 3], [0, 1], [2, 3]], [0, 1]))",
              ":func:`locate`"]:
    assert _line in _doc, _line

# the behaviour is kept: the documented examples, iterators, negative start and stop, equality and identity
assert list(iter_index("AABCADEAF", "A")) == [0, 1, 4, 7]
assert list(iter_index("AABCADEAF", "A", 1)) == [1, 4, 7]
assert list(iter_index("AABCADEAF", "A", 1, 7)) == [1, 4]
assert list(iter_index("ABCDABCD", "AB")) == [0, 4]
assert list(iter_index([0, 1, 2, 3, 0, 1, 2, 3], [0, 1])) == []
assert list(iter_index([[0, 1], [2, 3], [0, 1], [2, 3]], [0, 1])) == [0, 2]
assert list(iter_index(iter("AABCADEAF"), "A")) == [0, 1, 4, 7]
assert list(iter_index(iter("AABCADEAF"), "A", 1, 7)) == [1, 4]
assert list(iter_index(iter("AABCADEAF"), "A", -4)) == [7]
assert list(iter_index("AABCADEAF", "A", -4)) == [7]
assert list(iter_index("AABCADEAF", "A", 0, -2)) == [0, 1, 4]
assert list(iter_index(iter("AABCADEAF"), "A", 0, -2)) == [0, 1, 4]
assert list(iter_index("", "A")) == [] and list(iter_index(iter([]), "A")) == []
assert list(iter_index(iter(range(10)), 3)) == [3]
assert list(iter_index([1, 1.0, True], 1)) == [0, 1, 2]
assert list(iter_index(iter([1, 1.0, True]), 1)) == [0, 1, 2]
