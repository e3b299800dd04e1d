"""recipes.convolve@63243787: Update the convolve docstring."""

SETUP = 'from collections import deque\nfrom itertools import chain, repeat\nfrom operator import mul\n\ndef _sumprod(x, y):\n    return sum(map(mul, x, y))\n'

REFERENCE = '''def convolve(signal, kernel):
    """Discrete linear convolution of two iterables.
    Equivalent to polynomial multiplication.

    For example, multiplying ``(x² -x - 20)`` by ``(x - 3)``
    gives ``(x³ -4x² -17x + 60)``.

        >>> list(convolve([1, -1, -20], [1, -3]))
        [1, -4, -17, 60]

    Examples of popular kinds of kernels:

    * The kernel ``[0.25, 0.25, 0.25, 0.25]`` computes a moving average.
      For image data, this blurs the image and reduces noise.
    * The kernel ``[1/2, 0, -1/2]`` estimates the first derivative of
      a function evaluated at evenly spaced inputs.
    * The kernel ``[1, -2, 1]`` estimates the second derivative of a
      function evaluated at evenly spaced inputs.

    Convolutions are mathematically commutative; however, this function
    treats its inputs differently.  *signal* is consumed lazily and may be
    infinite, while *kernel* is read completely before the first value is
    produced.

    Supports all numeric types: int, float, complex, Decimal, Fraction.

    References:

    * Article:  https://betterexplained.com/articles/intuitive-convolution/
    * Video by 3Blue1Brown:  https://www.youtube.com/watch?v=KuXjwB4LzSA

    """
    # This implementation comes from an older version of the itertools
    # documentation.  While the newer implementation is a bit clearer,
    # this one was kept because the inlined window logic is faster
    # and it avoids an unnecessary deque-to-tuple conversion.
    kernel = tuple(kernel)[::-1]
    n = len(kernel)
    window = deque([0], maxlen=n) * n
    for x in chain(signal, repeat(0, n - 1)):
        window.append(x)
        yield _sumprod(kernel, window)
'''

import doctest
from fractions import Fraction
from itertools import count, islice

_ORIGINAL_DOC = """Discrete linear convolution of two iterables.
    Equivalent to polynomial multiplication.

    For example, multiplying ``(x² -x - 20)`` by ``(x - 3)``
    gives ``(x³ -4x² -17x + 60)``.

        >>> list(convolve([1, -1, -20], [1, -3]))
        [1, -4, -17, 60]

    Examples of popular kinds of kernels:

    * The kernel ``[0.25, 0.25, 0.25, 0.25]`` computes a moving average.
      For image data, this blurs the image and reduces noise.
    * The kernel ``[1/2, 0, -1/2]`` estimates the first derivative of
      a function evaluated at evenly spaced inputs.
    * The kernel ``[1, -2, 1]`` estimates the second derivative of a
      function evaluated at evenly spaced inputs.

    Convolutions are mathematically commutative; however, the inputs are
    evaluated differently.  The signal is consumed lazily and can be
    infinite. The kernel is fully consumed before the calculations begin.

    Supports all numeric types: int, float, complex, Decimal, Fraction.

    References:

    * Article:  https://betterexplained.com/articles/intuitive-convolution/
    * Video by 3Blue1Brown:  https://www.youtube.com/watch?v=KuXjwB4LzSA

    """

def _words(text):
    return " ".join(text.split())

# the asked change: the docstring is still there and its text really changed (not only its spacing)
assert FUNCTION.__doc__ and _words(FUNCTION.__doc__) != _words(_ORIGINAL_DOC)

# the docstring keeps at least one example, and every example in it is right
_tests = doctest.DocTestFinder().find(FUNCTION, "convolve", globs=dict(globals()))
_runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
for _test in _tests:
    _runner.run(_test)
assert _runner.summarize(verbose=False).attempted >= 1
assert _runner.summarize(verbose=False).failed == 0

# the behaviour is kept: the documented product, empty inputs, iterators, an infinite signal, other numbers
assert list(convolve([1, -1, -20], [1, -3])) == [1, -4, -17, 60]
assert list(convolve([], [1, 2])) == [0]
assert list(convolve([1, 2, 3], [])) == [0, 0, 0]
assert list(convolve([1, 2, 3], [1])) == [1, 2, 3]
assert list(convolve(iter([1, 2, 3, 4]), iter([0.5, 0.5]))) == [0.5, 1.5, 2.5, 3.5, 2.0]
assert list(islice(convolve(count(1), [1, -1]), 5)) == [1, 1, 1, 1, 1]
assert list(convolve([1j, 2], [3, 1j])) == [3j, 5, 2j]
assert list(convolve([Fraction(1, 2), 1], [Fraction(1, 3)])) == [Fraction(1, 6), Fraction(1, 3)]
