"""quopri.needsquoting: Replace the assert with a TypeError when c is not bytes."""

SETUP = "ESCAPE = b'='"

REFERENCE = '''def needsquoting(c, quotetabs, header):
    """Decide whether a particular byte ordinal needs to be quoted.

    The 'quotetabs' flag indicates whether embedded tabs and spaces should be
    quoted.  Note that line-ending tabs and spaces are always encoded, as per
    RFC 1521.
    """
    if not isinstance(c, bytes):
        raise TypeError(f"c must be bytes, not {type(c).__name__}")
    if c in b' \\t':
        return quotetabs
    # if header, we have to escape _ because _ is used to escape space
    if c == b'_':
        return header
    return c == ESCAPE or not (b' ' <= c <= b'~')
'''

import ast

# the asked change: anything but bytes raises TypeError (ints such as 32 and 9 would otherwise
# slip through `c in b' \t'`), and the assert is gone
raises(TypeError, needsquoting, 32, False, False)
raises(TypeError, needsquoting, 9, True, False)
raises(TypeError, needsquoting, 61, False, False)
raises(TypeError, needsquoting, "a", False, False)
raises(TypeError, needsquoting, None, False, False)
assert not [n for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.Assert)]

# the decisions for bytes are kept (quotetabs and header returned as given)
assert needsquoting(b" ", True, False) is True
assert needsquoting(b" ", False, False) is False
assert needsquoting(b"\t", 1, 0) == 1
assert needsquoting(b"_", False, True) is True
assert needsquoting(b"_", True, False) is False
assert needsquoting(b"=", 0, 0) is True
assert needsquoting(b"a", 0, 0) is False
assert needsquoting(b"~", 0, 0) is False
assert needsquoting(b"\x80", 0, 0) is True
assert needsquoting(b"\n", 0, 0) is True
assert needsquoting(b"\x7f", 0, 0) is True
