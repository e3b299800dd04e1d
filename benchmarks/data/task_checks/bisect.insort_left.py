"""bisect.insort_left: Return the index where x was inserted."""

SETUP = "from bisect import bisect_left"

REFERENCE = '''def insort_left(a, x, lo=0, hi=None, *, key=None):
    """Insert item x in list a, and keep it sorted assuming a is sorted.

    If x is already in a, insert it to the left of the leftmost x.

    Optional args lo (default 0) and hi (default len(a)) bound the
    slice of a to be searched.

    Return the index where x was inserted.
    """

    if key is None:
        lo = bisect_left(a, x, lo, hi)
    else:
        lo = bisect_left(a, key(x), lo, hi, key=key)
    a.insert(lo, x)
    return lo
'''

# the asked change: the index of the insertion is returned, and the list is still updated
_a = [1, 2, 2, 3]
assert insort_left(_a, 2) == 1 and _a == [1, 2, 2, 2, 3]
_a = []
assert insort_left(_a, 5) == 0 and _a == [5]
_a = [1, 3, 5]
assert insort_left(_a, 6) == 3 and _a == [1, 3, 5, 6]
assert insort_left(_a, 0) == 0 and _a == [0, 1, 3, 5, 6]
assert insort_left(_a, 4) == 3 and _a == [0, 1, 3, 4, 5, 6]

# lo, hi and key are kept
_a = [5, 1, 2, 9]
assert insort_left(_a, 3, 1, 3) == 3 and _a == [5, 1, 2, 3, 9]
_a = [0, 0, 7, 8]
assert insort_left(_a, 0, 1) == 1 and _a == [0, 0, 0, 7, 8]
_a = [("a", 1), ("b", 3), ("c", 3)]
assert insort_left(_a, ("d", 3), key=lambda p: p[1]) == 1 and _a == [("a", 1), ("d", 3), ("b", 3), ("c", 3)]
_a = ["x", "yy", "zzzz"]
assert insort_left(_a, "www", 0, 3, key=len) == 2 and _a == ["x", "yy", "www", "zzzz"]
raises(ValueError, insort_left, [1, 2], 0, -1)
raises(TypeError, insort_left, [1, 2], "a")
