"""heapq.heapify: Return the list x at the end so calls can be chained."""

SETUP = "from heapq import _siftup"

REFERENCE = '''def heapify(x):
    """Transform list into a heap, in-place, in O(len(x)) time."""
    n = len(x)
    # Transform bottom-up.  The largest index there's any point to looking at
    # is the largest with a child index in-range, so must have 2*i + 1 < n,
    # or i < (n-1)/2.  If n is even = 2*j, this is (2*j-1)/2 = j-1/2 so
    # j-1 is the largest, which is n//2 - 1.  If n is odd = 2*j+1, this is
    # (2*j+1-1)/2 = j so j-1 is the largest, and that's again n//2-1.
    for i in reversed(range(n//2)):
        _siftup(x, i)
    return x
'''

def _is_heap(h):
    return all(h[(k - 1) // 2] <= h[k] for k in range(1, len(h)))

# the asked behaviour: the very list passed in comes back (not a copy), so calls chain
for data in ([5, 3, 8, 1, 9, 2, 7], [], [4], [2, 1], list(range(20, 0, -1)), [3, 3, 1, 1, 2]):
    before = sorted(data)
    x = list(data)
    result = heapify(x)
    assert result is x
    # the behaviour is kept: the list is rearranged in place into a heap of the same items
    assert _is_heap(x) and sorted(x) == before
assert heapify([9, 4, 6])[0] == 4
raises(TypeError, heapify, None)
