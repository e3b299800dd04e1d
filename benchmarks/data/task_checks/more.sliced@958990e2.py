"""more.sliced@958990e2: Raise for negative slice sizes in sliced()."""

SETUP = "from itertools import count, takewhile"

REFERENCE = '''def sliced(seq, n, strict=False):
    """Yield slices of length *n* from the sequence *seq*.

    >>> list(sliced((1, 2, 3, 4, 5, 6), 3))
    [(1, 2, 3), (4, 5, 6)]

    By the default, the last yielded slice will have fewer than *n* elements
    if the length of *seq* is not divisible by *n*:

    >>> list(sliced((1, 2, 3, 4, 5, 6, 7, 8), 3))
    [(1, 2, 3), (4, 5, 6), (7, 8)]

    If the length of *seq* is not divisible by *n* and *strict* is
    ``True``, then ``ValueError`` will be raised before the last
    slice is yielded.

    A negative *n* raises ``ValueError``.

    This function will only work for iterables that support slicing.
    For non-sliceable iterables, see :func:`chunked`.

    """
    if n < 0:
        raise ValueError('n must not be negative')
    iterator = takewhile(len, (seq[i : i + n] for i in count(0, n)))
    if strict:

        def ret():
            for _slice in iterator:
                if len(_slice) != n:
                    raise ValueError("seq is not divisible by n.")
                yield _slice

        return ret()
    else:
        return iterator
'''

# the asked change: a negative n raises ValueError (on the call or at the latest when iterated),
# with or without strict, instead of yielding odd slices
raises(ValueError, lambda: list(sliced((1, 2, 3), -1)))
raises(ValueError, lambda: list(sliced((1, 2, 3, 4, 5, 6), -2)))
raises(ValueError, lambda: list(sliced([], -1)))
raises(ValueError, lambda: list(sliced("abc", -3, strict=True)))
raises(ValueError, lambda: list(sliced((1, 2, 3), -1, True)))

# the slicing is kept, and n == 0 (not negative) still yields nothing
assert list(sliced((1, 2, 3, 4, 5, 6), 3)) == [(1, 2, 3), (4, 5, 6)]
assert list(sliced((1, 2, 3, 4, 5, 6, 7, 8), 3)) == [(1, 2, 3), (4, 5, 6), (7, 8)]
assert list(sliced("abcdefg", 3)) == ["abc", "def", "g"]
assert list(sliced([], 2)) == []
assert list(sliced([1, 2], 5)) == [[1, 2]]
assert list(sliced([1, 2, 3, 4], 2, True)) == [[1, 2], [3, 4]]
assert list(sliced((1, 2, 3), 0)) == []
assert list(sliced((1, 2, 3), 0, True)) == []
_it = sliced((1, 2, 3, 4, 5, 6, 7, 8), 3, strict=True)
assert next(_it) == (1, 2, 3) and next(_it) == (4, 5, 6)
raises(ValueError, next, _it)  # strict still raises before the short last slice
