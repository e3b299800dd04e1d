"""more.duplicates_everseen@794fe558: Document suggested method to unique-ify `duplicates_everseen` output."""

SETUP = '''def unique_everseen(iterable, key=None):
    # a small equivalent of more_itertools.unique_everseen (hashable or not)
    seen = []
    for element in iterable:
        k = element if key is None else key(element)
        if k not in seen:
            seen.append(k)
            yield element
'''

REFERENCE = '''def duplicates_everseen(iterable, key=None):
    """Yield duplicate elements after their first appearance.

    >>> list(duplicates_everseen('mississippi'))
    ['s', 'i', 's', 's', 'i', 'p', 'i']
    >>> list(duplicates_everseen('AaaBbbCccAaa', str.lower))
    ['a', 'a', 'b', 'b', 'c', 'c', 'A', 'a', 'a']

    To get each duplicate only once, pass the output through
    :func:`unique_everseen`:

    >>> list(unique_everseen(duplicates_everseen('mississippi')))
    ['s', 'i', 'p']

    This function is analogous to :func:`unique_everseen` and is subject to
    the same performance considerations.

    """
    seen_set = set()
    seen_list = []
    use_key = key is not None

    for element in iterable:
        k = key(element) if use_key else element
        try:
            if k not in seen_set:
                seen_set.add(k)
            else:
                yield element
        except TypeError:
            if k not in seen_list:
                seen_list.append(k)
            else:
                yield element
'''

import doctest
import re

# the asked documentation: the docstring gains text that names a way to keep each duplicate once
# (unique_everseen on the output, or a set / dict.fromkeys); the old text and examples may stay
_ORIGINAL_LINES = {
    ">>> list(duplicates_everseen('mississippi'))", "['s', 'i', 's', 's', 'i', 'p', 'i']",
    ">>> list(duplicates_everseen('AaaBbbCccAaa', str.lower))",
    "['a', 'a', 'b', 'b', 'c', 'c', 'A', 'a', 'a']", "Yield duplicate elements after their first appearance.",
    "This function is analogous to :func:`unique_everseen` and is subject to",
    "the same performance considerations."}
_doc = FUNCTION.__doc__ or ""
_added = "\n".join(line for line in _doc.splitlines() if line.strip() not in _ORIGINAL_LINES)
assert re.search(r"unique_everseen|\bset\b|dict\.fromkeys", _added), _added
assert re.search(r"once|uniq|unique|distinct|dedup|single", _added, re.I), _added
assert "duplicates_everseen" in _doc and "Yield duplicate" in _doc  # documented, not replaced

# every example in the docstring, old or new, is right
_finder = doctest.DocTestFinder(recurse=False)
_runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
for _test in _finder.find(FUNCTION, "duplicates_everseen", globs=dict(globals())):
    _runner.run(_test)
assert _runner.summarize(verbose=False).failed == 0

# the function is kept
assert list(duplicates_everseen("mississippi")) == ["s", "i", "s", "s", "i", "p", "i"]
assert list(duplicates_everseen("AaaBbbCccAaa", str.lower)) == ["a", "a", "b", "b", "c", "c", "A", "a", "a"]
assert list(duplicates_everseen([])) == []
assert list(duplicates_everseen([1, 2, 3])) == []
assert list(duplicates_everseen([[1], [2], [1], [1]])) == [[1], [1]]
assert list(unique_everseen(duplicates_everseen("mississippi"))) == ["s", "i", "p"]
