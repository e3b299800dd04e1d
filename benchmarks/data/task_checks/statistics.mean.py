"""statistics.mean: Change the error message to 'mean() requires at least one data point'."""

SETUP = "from statistics import _sum, _convert, StatisticsError"

REFERENCE = '''def mean(data):
    """Return the sample arithmetic mean of data.

    >>> mean([1, 2, 3, 4, 4])
    2.8

    >>> from fractions import Fraction as F
    >>> mean([F(3, 7), F(1, 21), F(5, 3), F(1, 3)])
    Fraction(13, 21)

    >>> from decimal import Decimal as D
    >>> mean([D("0.5"), D("0.75"), D("0.625"), D("0.375")])
    Decimal('0.5625')

    If ``data`` is empty, StatisticsError will be raised.
    """
    T, total, n = _sum(data)
    if n < 1:
        raise StatisticsError('mean() requires at least one data point')
    return _convert(total / n, T)
'''

from decimal import Decimal as _D
from fractions import Fraction as _F


def _message(data):
    try:
        mean(data)
    except StatisticsError as exc:
        return str(exc)
    raise AssertionError("no StatisticsError for empty data")


# the asked message, still on a StatisticsError, for empty lists and iterators
assert _message([]) == "mean() requires at least one data point", _message([])
assert _message(iter(())) == "mean() requires at least one data point"

# the documented behaviour is kept
assert mean([1, 2, 3, 4, 4]) == 2.8
assert mean([_F(3, 7), _F(1, 21), _F(5, 3), _F(1, 3)]) == _F(13, 21)
assert type(mean([_F(1, 2)])) is _F
assert mean([_D("0.5"), _D("0.75"), _D("0.625"), _D("0.375")]) == _D("0.5625")
assert mean(iter([1, 2])) == 1.5
assert mean([2.5]) == 2.5
assert mean(range(10)) == 4.5
raises(TypeError, mean, ["a"])
