"""recipes.iter_index@43decdd7: Support negative start/stop in iter_index for general iterables."""

SETUP = 'from itertools import islice\nfrom contextlib import suppress\n'

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

    See :func:`locate` for a more general means of finding the indexes
    associated with particular values.

    """
    seq_index = getattr(iterable, 'index', None)
    if seq_index is None and (start < 0 or (stop is not None and stop < 0)):
        # Negative indices count from the end, so the whole input is needed
        iterable = list(iterable)
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

from itertools import count

# the asked behaviour: negative start/stop on a general iterable count from the end, as for sequences
assert list(iter_index(iter("AABCADEAF"), "A", -5)) == [4, 7]
assert list(iter_index(iter("AABCADEAF"), "A", -3)) == [7]
assert list(iter_index(iter("AABCADEAF"), "F", -1)) == [8]
assert list(iter_index(iter("AABCADEAF"), "A", -1)) == []
assert list(iter_index(iter("AABCADEAF"), "A", 0, -2)) == [0, 1, 4]
assert list(iter_index(iter("AABCADEAF"), "A", 2, -1)) == [4, 7]
assert list(iter_index(iter("AABCADEAF"), "A", -8, -2)) == [1, 4]
assert list(iter_index(iter("AABCADEAF"), "A", -9)) == [0, 1, 4, 7]
assert list(iter_index(iter("AABCADEAF"), "A", -100)) == [0, 1, 4, 7]
assert list(iter_index(iter("AABCADEAF"), "A", -100, -100)) == []
assert list(iter_index(iter([]), "A", -1, -1)) == []
assert list(iter_index((c for c in "ABCDABCD"), "B", -6, None)) == [5]

# the behaviour is kept: the documented examples, sequences with negative indices, lazy general iterables
assert list(iter_index("AABCADEAF", "A")) == [0, 1, 4, 7]
assert list(iter_index("AABCADEAF", "A", 1)) == [1, 4, 7]
assert list(iter_index("AABCADEAF", "A", 1, 7)) == [1, 4]
assert list(iter_index("ABCDABCD", "AB")) == [0, 4]
assert list(iter_index([0, 1, 2, 3, 0, 1, 2, 3], [0, 1])) == []
assert list(iter_index([[0, 1], [2, 3], [0, 1], [2, 3]], [0, 1])) == [0, 2]
assert list(iter_index("AABCADEAF", "A", -5)) == [4, 7]
assert list(iter_index(list("AABCADEAF"), "A", -8, -2)) == [1, 4]
assert list(iter_index(iter("AABCADEAF"), "A")) == [0, 1, 4, 7]
assert list(iter_index(iter("AABCADEAF"), "A", 1, 7)) == [1, 4]
assert list(iter_index(iter("AABCADEAF"), "A", 2)) == [4, 7]
assert list(iter_index(iter([]), "A")) == []
assert list(islice(iter_index(count(), 3), 1)) == [3]
assert list(islice(iter_index(count(), 5, 2, None), 1)) == [5]
