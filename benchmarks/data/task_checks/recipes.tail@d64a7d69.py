"""recipes.tail@d64a7d69: Raise for negative tail sizes on sized iterables."""

SETUP = "from collections import deque\nfrom itertools import islice"

REFERENCE = '''def tail(n, iterable):
    """Return an iterator over the last *n* items of *iterable*.

    >>> t = tail(3, 'ABCDEFG')
    >>> list(t)
    ['E', 'F', 'G']

    """
    try:
        size = len(iterable)
    except TypeError:
        return iter(deque(iterable, maxlen=n))
    else:
        if n < 0:
            raise ValueError('n must be non-negative')
        return islice(iterable, max(0, size - n), None)
'''

# the asked behaviour: a negative n on a sized iterable raises ValueError (as deque does for
# unsized ones), whether at the call or when the iterator is consumed
raises(ValueError, lambda: list(tail(-1, "ABC")))
raises(ValueError, lambda: list(tail(-5, [1, 2, 3])))
raises(ValueError, lambda: list(tail(-1, "")))
raises(ValueError, lambda: list(tail(-1, range(10))))
raises(ValueError, lambda: list(tail(-1, iter("ABC"))))

# the behaviour is kept for zero and positive sizes, sized or not
assert list(tail(3, "ABCDEFG")) == ["E", "F", "G"]
assert list(tail(0, "ABC")) == []
assert list(tail(10, "ABC")) == ["A", "B", "C"]
assert list(tail(2, range(5))) == [3, 4]
assert list(tail(0, [])) == []
assert list(tail(2, iter("ABCD"))) == ["C", "D"]
assert list(tail(0, iter("ABC"))) == []
assert list(tail(5, iter("AB"))) == ["A", "B"]
assert list(tail(1, {"x": 1})) == ["x"]
