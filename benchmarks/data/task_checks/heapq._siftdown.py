"""heapq._siftdown: Rename newitem to item."""

SETUP = ""

REFERENCE = '''def _siftdown(heap, startpos, pos):
    item = heap[pos]
    # Follow the path to the root, moving parents down until finding a place
    # item fits.
    while pos > startpos:
        parentpos = (pos - 1) >> 1
        parent = heap[parentpos]
        if item < parent:
            heap[pos] = parent
            pos = parentpos
            continue
        break
    heap[pos] = item
'''

import ast

# the asked rename: the local is item, and newitem is gone from the code (comments may keep it)
assert "item" in FUNCTION.__code__.co_varnames, FUNCTION.__code__.co_varnames
assert "newitem" not in FUNCTION.__code__.co_varnames, FUNCTION.__code__.co_varnames
assert not [n for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.Name) and n.id == "newitem"]
assert list(__import__("inspect").signature(_siftdown).parameters) == ["heap", "startpos", "pos"]


def _sift(heap, startpos, pos):
    _siftdown(heap, startpos, pos)
    return heap


# the sifting is kept: the item at pos moves up towards startpos until its parent is not larger
assert _sift([1, 3, 5, 7, 9, 2], 0, 5) == [1, 3, 2, 7, 9, 5]
assert _sift([1, 3, 5, 7, 9, 0], 0, 5) == [0, 3, 1, 7, 9, 5]
assert _sift([1, 3, 5, 7, 9, 6], 0, 5) == [1, 3, 5, 7, 9, 6]
assert _sift([4, 3, 5, 7, 9, 0], 2, 5) == [4, 3, 0, 7, 9, 5]  # stops at startpos
assert _sift([5, 9, 8, 2], 0, 3) == [2, 5, 8, 9]
assert _sift([7], 0, 0) == [7]
assert _sift([2, 2], 0, 1) == [2, 2]
_heap = []
for _x in [5, 3, 8, 1, 9, 0, 4]:
    _heap.append(_x)
    _siftdown(_heap, 0, len(_heap) - 1)
assert _heap == [0, 3, 1, 5, 9, 8, 4]
