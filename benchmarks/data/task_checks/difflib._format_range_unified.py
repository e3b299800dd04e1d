"""difflib._format_range_unified: Use f-strings instead of str.format."""

SETUP = ""

REFERENCE = '''def _format_range_unified(start, stop):
    'Convert range to the "ed" format'
    # Per the diff spec at http://www.unix.org/single_unix_specification/
    beginning = start + 1     # lines start numbering with one
    length = stop - start
    if length == 1:
        return f'{beginning}'
    if not length:
        beginning -= 1        # empty ranges begin at line just before the range
    return f'{beginning},{length}'
'''

import ast as _ast

# the asked form: f-strings are used and no str.format call is left
_tree = _ast.parse(SOURCE)
assert any(isinstance(n, _ast.JoinedStr) for n in _ast.walk(_tree)), "no f-string"
assert not any(isinstance(n, _ast.Attribute) and n.attr == "format" for n in _ast.walk(_tree)), "str.format left"

# the behaviour is kept: one line, empty ranges, longer ranges
assert _format_range_unified(0, 1) == "1"
assert _format_range_unified(2, 3) == "3"
assert _format_range_unified(0, 0) == "0,0"
assert _format_range_unified(5, 5) == "5,0"
assert _format_range_unified(3, 7) == "4,4"
assert _format_range_unified(0, 10) == "1,10"
assert _format_range_unified(9, 12) == "10,3"
