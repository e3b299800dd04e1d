"""base64.b64encode: Replace the assert with a ValueError when altchars is not 2 bytes long."""

SETUP = "import binascii"

REFERENCE = '''def b64encode(s, altchars=None):
    """Encode the bytes-like object s using Base64 and return a bytes object.

    Optional altchars should be a byte string of length 2 which specifies an
    alternative alphabet for the '+' and '/' characters.  This allows an
    application to e.g. generate url or filesystem safe Base64 strings.
    """
    encoded = binascii.b2a_base64(s, newline=False)
    if altchars is not None:
        if len(altchars) != 2:
            raise ValueError(f"altchars must be 2 bytes long, not {altchars!r}")
        return encoded.translate(bytes.maketrans(b'+/', altchars))
    return encoded
'''

import ast

# the asked change: altchars of the wrong length raise ValueError (not AssertionError), and no assert is left
raises(ValueError, b64encode, b"\xfb\xff", b"-")
raises(ValueError, b64encode, b"\xfb\xff", b"-_.")
raises(ValueError, b64encode, b"abc", b"")
raises(ValueError, b64encode, b"", bytearray(b"abcd"))
assert not [n for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.Assert)], "the assert is still there"

# the encoding is kept, with and without altchars of length 2
assert b64encode(b"") == b""
assert b64encode(b"hello world") == b"aGVsbG8gd29ybGQ="
assert b64encode(b"\xfb\xff") == b"+/8="
assert b64encode(b"\xfb\xff", b"-_") == b"-_8="
assert b64encode(b"\xfb\xff", None) == b"+/8="
assert b64encode(bytearray(b"\xfb\xff\xfe"), bytearray(b".,")) == b".,,."
assert b64encode(memoryview(b"abc")) == b"YWJj"
raises(TypeError, b64encode, "text")
