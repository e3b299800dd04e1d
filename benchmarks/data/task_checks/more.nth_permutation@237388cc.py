"""more.nth_permutation@237388cc: Simplify and speed up nth_permutation."""

SETUP = "from math import perm, factorial"

REFERENCE = '''def nth_permutation(iterable, r, index):
    """Equivalent to ``list(permutations(iterable, r))[index]```

    The subsequences of *iterable* that are of length *r* where order is
    important can be ordered lexicographically. :func:`nth_permutation`
    computes the subsequence at sort position *index* directly, without
    computing the previous subsequences.

        >>> nth_permutation('ghijk', 2, 5)
        ('h', 'i')

    ``ValueError`` will be raised If *r* is negative.
    ``IndexError`` will be raised if the given *index* is invalid.
    """
    pool = list(iterable)
    n = len(pool)
    if r is None:
        r = n
    c = perm(n, r)

    if index < 0:
        index += c
    if not 0 <= index < c:
        raise IndexError

    # only the last r digits of the factorial-base index matter
    result = [0] * r
    q = index
    for d in range(n - r + 1, n + 1):
        q, i = divmod(q, d)
        result[n - d] = i

    return tuple(map(pool.pop, result))
'''

ORIGINAL_PASSES = True

# a plausible wrong simplification: the index is no longer scaled when r < n
WRONG = '''def nth_permutation(iterable, r, index):
    """Equivalent to ``list(permutations(iterable, r))[index]```"""
    pool = list(iterable)
    n = len(pool)
    if r is None:
        r = n
    c = perm(n, r)

    if index < 0:
        index += c
    if not 0 <= index < c:
        raise IndexError

    result = [0] * r
    q = index
    for d in range(1, n + 1):
        q, i = divmod(q, d)
        if 0 <= n - d < r:
            result[n - d] = i
        if q == 0:
            break

    return tuple(map(pool.pop, result))
'''

from itertools import permutations as _permutations

# the behaviour is kept: every index (negative ones too) of every small case agrees with permutations()
for _n in range(6):
    _pool = "abcdef"[:_n]
    for _r in [None, *range(_n + 2)]:
        _all = list(_permutations(_pool, _r))
        for _index in range(-len(_all), len(_all)):
            assert nth_permutation(_pool, _r, _index) == _all[_index], (_pool, _r, _index)
        raises(IndexError, nth_permutation, _pool, _r, len(_all))
        raises(IndexError, nth_permutation, _pool, _r, -len(_all) - 1)

# the documented example, any iterable, a negative r
assert nth_permutation("ghijk", 2, 5) == ("h", "i")
assert nth_permutation(iter("ghijk"), 2, 5) == ("h", "i")
assert nth_permutation([], 0, 0) == ()
raises(ValueError, nth_permutation, "abc", -1, 0)

# large cases are computed directly, without listing the permutations before them
assert nth_permutation(range(30), 10, 98765432101234) == (27, 5, 3, 6, 23, 24, 8, 10, 2, 16)
assert nth_permutation(range(30), 10, -1) == (29, 28, 27, 26, 25, 24, 23, 22, 21, 20)
assert nth_permutation(range(25), None, 10**24) == (1, 15, 17, 16, 23, 19, 5, 14, 7, 21, 24, 13, 2, 20, 12,
                                                      9, 4, 6, 8, 22, 3, 11, 18, 0, 10)
_big = nth_permutation(range(2000), 1000, 10**1000)
assert len(_big) == 1000 and len(set(_big)) == 1000 and _big[:5] == (0, 1, 2, 3, 4) and sum(_big) == 660872
