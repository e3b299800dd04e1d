"""statistics.median: Rename the variable n to count."""

SETUP = "from statistics import StatisticsError"

REFERENCE = '''def median(data):
    """Return the median (middle value) of numeric data.

    When the number of data points is odd, return the middle data point.
    When the number of data points is even, the median is interpolated by
    taking the average of the two middle values:

    >>> median([1, 3, 5])
    3
    >>> median([1, 3, 5, 7])
    4.0

    """
    data = sorted(data)
    count = len(data)
    if count == 0:
        raise StatisticsError("no median for empty data")
    if count % 2 == 1:
        return data[count // 2]
    else:
        i = count // 2
        return (data[i - 1] + data[i]) / 2
'''

import ast
from fractions import Fraction

# the asked change: the local is called count, and n is gone everywhere in the code
assert "count" in FUNCTION.__code__.co_varnames
assert "n" not in FUNCTION.__code__.co_varnames
assert "n" not in {node.id for node in ast.walk(ast.parse(SOURCE)) if isinstance(node, ast.Name)}

# the behaviour is kept: the documented examples, odd and even sizes, unsorted input, empty data
assert median([1, 3, 5]) == 3
assert median([1, 3, 5, 7]) == 4.0
assert median([7]) == 7
assert median([5, 1]) == 3.0
assert median("cab") == "b"
assert median(iter([4, 2, 9, 1, 7])) == 4
assert median((2.5, 1.5, 3.5, 0.5)) == 2.0
assert median([Fraction(1, 3), Fraction(1, 2)]) == Fraction(5, 12)
raises(StatisticsError, median, [])
