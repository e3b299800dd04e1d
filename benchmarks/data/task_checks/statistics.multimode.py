"""statistics.multimode: Return the modes sorted in ascending order."""

SETUP = "from collections import Counter"

REFERENCE = '''def multimode(data):
    """Return a list of the most frequently occurring values.

    Will return more than one result if there are multiple modes
    or an empty list if *data* is empty.

    >>> multimode('aabbbbbbbbcc')
    ['b']
    >>> multimode('aabbbbccddddeeffffgg')
    ['b', 'd', 'f']
    >>> multimode('')
    []
    """
    counts = Counter(iter(data))
    if not counts:
        return []
    maxcount = max(counts.values())
    return sorted(value for value, count in counts.items() if count == maxcount)
'''

# the asked order: the modes come back ascending, whatever order they first appear in
assert multimode([3, 3, 1, 1, 2]) == [1, 3]
assert multimode([5, 1, 5, 1, 3, 3]) == [1, 3, 5]
assert multimode("ffaadd") == ["a", "d", "f"]
assert multimode([2.5, -1, 2.5, 10, -1, 10, 0]) == [-1, 2.5, 10]
assert multimode(x for x in "zyx") == ["x", "y", "z"]  # any iterable, read once

# the rest is kept: a list of only the most frequent values, [] for empty data
assert multimode("aabbbbbbbbcc") == ["b"]
assert multimode("aabbbbccddddeeffffgg") == ["b", "d", "f"]
assert multimode("") == []
assert multimode([]) == []
assert multimode(iter([])) == []
assert multimode([2.5]) == [2.5]
assert multimode([4, 1, 4]) == [4]
assert type(multimode((9, 8, 9, 8))) is list and multimode((9, 8, 9, 8)) == [8, 9]
