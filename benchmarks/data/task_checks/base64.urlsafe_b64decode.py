"""base64.urlsafe_b64decode: Add type hints: s is bytes | str and the function returns bytes."""

SETUP = "from base64 import _bytes_from_decode_data, _urlsafe_decode_translation, b64decode"

REFERENCE = '''def urlsafe_b64decode(s: bytes | str) -> bytes:
    """Decode bytes using the URL- and filesystem-safe Base64 alphabet.

    Argument s is a bytes-like object or ASCII string to decode.  The result
    is returned as a bytes object.  A binascii.Error is raised if the input
    is incorrectly padded.  Characters that are not in the URL-safe base-64
    alphabet, and are not a plus '+' or slash '/', are discarded prior to the
    padding check.

    The alphabet uses '-' instead of '+' and '_' instead of '/'.
    """
    s = _bytes_from_decode_data(s)
    s = s.translate(_urlsafe_decode_translation)
    return b64decode(s)
'''

import binascii as _binascii
import typing as _typing

# the asked hints (any spelling: bytes | str, Union[str, bytes], string annotations): s is bytes or str, returns bytes
_hints = _typing.get_type_hints(FUNCTION)
assert _hints.get("return") is bytes, _hints
assert set(_typing.get_args(_hints.get("s"))) == {bytes, str}, _hints

# the behaviour is kept: bytes and str input, the URL-safe alphabet, bad padding
assert urlsafe_b64decode(b"YWJj") == b"abc"
assert urlsafe_b64decode("YWJj") == b"abc"
assert urlsafe_b64decode(b"-_8=") == b"\xfb\xff"
assert urlsafe_b64decode("-_8=") == b"\xfb\xff"
assert urlsafe_b64decode(b"") == b""
assert urlsafe_b64decode(bytearray(b"YQ==")) == b"a"
raises(_binascii.Error, urlsafe_b64decode, b"YWJ")
raises(ValueError, urlsafe_b64decode, "\u00e9")
