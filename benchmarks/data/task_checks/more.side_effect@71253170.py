"""more.side_effect@71253170: Remove redundant u-prefix strings."""

SETUP = 'from itertools import islice\n\ndef chunked(iterable, n):\n    iterator = iter(iterable)\n    while chunk := list(islice(iterator, n)):\n        yield chunk\n'

REFERENCE = '''def side_effect(func, iterable, chunk_size=None, before=None, after=None):
    """Invoke *func* on each item in *iterable* (or on each *chunk_size* group
    of items) before yielding the item.

    `func` must be a function that takes a single argument. Its return value
    will be discarded.

    *before* and *after* are optional functions that take no arguments. They
    will be executed before iteration starts and after it ends, respectively.

    `side_effect` can be used for logging, updating progress bars, or anything
    that is not functionally "pure."

    Emitting a status message:

        >>> from more_itertools import consume
        >>> func = lambda item: print('Received {}'.format(item))
        >>> consume(side_effect(func, range(2)))
        Received 0
        Received 1

    Operating on chunks of items:

        >>> pair_sums = []
        >>> func = lambda chunk: pair_sums.append(sum(chunk))
        >>> list(side_effect(func, [0, 1, 2, 3, 4, 5], 2))
        [0, 1, 2, 3, 4, 5]
        >>> list(pair_sums)
        [1, 5, 9]

    Writing to a file-like object:

        >>> from io import StringIO
        >>> from more_itertools import consume
        >>> f = StringIO()
        >>> func = lambda x: print(x, file=f)
        >>> before = lambda: print('HEADER', file=f)
        >>> after = f.close
        >>> it = ['a', 'b', 'c']
        >>> consume(side_effect(func, it, before=before, after=after))
        >>> f.closed
        True

    """
    try:
        if before is not None:
            before()

        if chunk_size is None:
            for item in iterable:
                func(item)
                yield item
        else:
            for chunk in chunked(iterable, chunk_size):
                func(chunk)
                yield from chunk
    finally:
        if after is not None:
            after()
'''

import ast
import re

def _text(doc):
    return " ".join(doc.split()).replace('"', "'")

# the asked change: no string in the docstring's examples (or the code) has a u prefix any more
assert FUNCTION.__doc__
assert not re.search(r"\bu['\"]", FUNCTION.__doc__)
assert not re.search(r"\bu['\"]", SOURCE)
# and nothing else in the docstring changed (quotes and spacing aside)
assert _text(FUNCTION.__doc__) == _text(ast.get_docstring(ast.parse(REFERENCE).body[0], clean=False))

# the behaviour is kept: func sees each item (or chunk) before it is yielded, before/after run around it
events = []
gen = side_effect(events.append, [1, 2, 3], before=lambda: events.append("before"),
                  after=lambda: events.append("after"))
assert events == []
assert next(gen) == 1 and events == ["before", 1]
assert list(gen) == [2, 3] and events == ["before", 1, 2, 3, "after"]
sums = []
assert list(side_effect(lambda chunk: sums.append(sum(chunk)), [0, 1, 2, 3, 4, 5, 6], 2)) == [0, 1, 2, 3, 4, 5, 6]
assert sums == [1, 5, 9, 6]
assert list(side_effect(events.append, [])) == []
# after runs even when the consumer stops early or func raises
closed = []
gen = side_effect(lambda item: None, range(10), after=lambda: closed.append(True))
next(gen)
gen.close()
assert closed == [True]
def _boom(item):
    raise KeyError(item)
closed.clear()
raises(KeyError, list, side_effect(_boom, [1], after=lambda: closed.append(True)))
assert closed == [True]
