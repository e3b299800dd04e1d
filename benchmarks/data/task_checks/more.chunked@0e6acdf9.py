"""more.chunked@0e6acdf9: Raise a clear ValueError for negative n in chunked()."""

SETUP = '''from functools import partial
from itertools import islice


def take(n, iterable):
    return list(islice(iterable, n))
'''

REFERENCE = '''def chunked(iterable, n, strict=False):
    """Break *iterable* into lists of length *n*:

        >>> list(chunked([1, 2, 3, 4, 5, 6], 3))
        [[1, 2, 3], [4, 5, 6]]

    By the default, the last yielded list will have fewer than *n* elements
    if the length of *iterable* is not divisible by *n*:

        >>> list(chunked([1, 2, 3, 4, 5, 6, 7, 8], 3))
        [[1, 2, 3], [4, 5, 6], [7, 8]]

    To use a fill-in value instead, see the :func:`grouper` recipe.

    If the length of *iterable* is not divisible by *n* and *strict* is
    ``True``, then ``ValueError`` will be raised before the last
    list is yielded.

    """
    if n is not None and n < 0:
        raise ValueError(f'n must not be negative, got {n}')
    iterator = iter(partial(take, n, iter(iterable)), [])
    if strict:
        if n is None:
            raise ValueError('n must not be None when using strict mode.')

        def ret():
            for chunk in iterator:
                if len(chunk) != n:
                    raise ValueError('iterable is not divisible by n.')
                yield chunk

        return ret()
    else:
        return iterator
'''


def _error(fn, *args):
    try:
        fn(*args)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"no ValueError for {args}")


# the asked change: a negative n raises ValueError at the call (islice's own error only came when iterating),
# with a message about n rather than islice's
for _args in [([1, 2, 3], -1), ([1, 2, 3], -5, True), ([], -1), (iter([1]), -2, False)]:
    _msg = _error(chunked, *_args)
    assert "islice" not in _msg and _msg.strip(), _msg

# the behaviour is kept: the documented examples, strict mode, n of 0 and None
assert list(chunked([1, 2, 3, 4, 5, 6], 3)) == [[1, 2, 3], [4, 5, 6]]
assert list(chunked([1, 2, 3, 4, 5, 6, 7, 8], 3)) == [[1, 2, 3], [4, 5, 6], [7, 8]]
assert list(chunked(iter("abcde"), 2)) == [["a", "b"], ["c", "d"], ["e"]]
assert list(chunked([], 3)) == []
assert list(chunked([1, 2, 3], 0)) == []
assert list(chunked([1, 2, 3], None)) == [[1, 2, 3]]
assert list(chunked([1, 2, 3, 4], 2, strict=True)) == [[1, 2], [3, 4]]
_it = chunked([1, 2, 3], 2, True)
assert next(_it) == [1, 2]
raises(ValueError, next, _it)
raises(ValueError, chunked, [1, 2], None, True)
