"""ipaddress.v4_int_to_packed: Chain the ValueError from the OverflowError with 'from None'."""

SETUP = ""

REFERENCE = '''def v4_int_to_packed(address):
    """Represent an address as 4 packed bytes in network (big-endian) order.

    Args:
        address: An integer representation of an IPv4 IP address.

    Returns:
        The integer address packed as 4 bytes in network (big-endian) order.

    Raises:
        ValueError: If the integer is negative or too large to be an
          IPv4 IP address.

    """
    try:
        return address.to_bytes(4)  # big endian
    except OverflowError:
        raise ValueError("Address negative or too large for IPv4") from None
'''

def _error(address):
    try:
        v4_int_to_packed(address)
    except ValueError as exc:
        return exc
    raise AssertionError(f"no ValueError for {address!r}")

# the asked behaviour: the ValueError, with its message kept, hides the OverflowError ('from None')
for bad in (-1, 2**32, 2**40, -(2**40)):
    exc = _error(bad)
    assert str(exc) == "Address negative or too large for IPv4"
    assert exc.__cause__ is None and exc.__suppress_context__ is True

# the behaviour is kept: valid addresses pack big-endian, other types still fail as before
assert v4_int_to_packed(0) == b"\x00\x00\x00\x00"
assert v4_int_to_packed(2**32 - 1) == b"\xff\xff\xff\xff"
assert v4_int_to_packed(0x7f000001) == b"\x7f\x00\x00\x01"
assert v4_int_to_packed(0xC0A80001) == b"\xc0\xa8\x00\x01"
raises(AttributeError, v4_int_to_packed, "1.2.3.4")
