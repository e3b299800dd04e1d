"""pprint._wrap_bytes_repr: Rename the parameter object to data."""

SETUP = ""

REFERENCE = '''def _wrap_bytes_repr(data, width, allowance):
    current = b''
    last = len(data) // 4 * 4
    for i in range(0, len(data), 4):
        part = data[i: i+4]
        candidate = current + part
        if i == last:
            width -= allowance
        if len(repr(candidate)) > width:
            if current:
                yield repr(current)
            current = part
        else:
            current = candidate
    if current:
        yield repr(current)
'''

import ast
import inspect

# the asked rename: the first parameter is data, and object is used nowhere any more
assert list(inspect.signature(_wrap_bytes_repr).parameters) == ["data", "width", "allowance"]
assert "object" not in FUNCTION.__code__.co_varnames and "object" not in FUNCTION.__code__.co_names
assert not [n for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, (ast.Name, ast.arg))
            and getattr(n, "id", getattr(n, "arg", None)) == "object"]

# the wrapping is kept (positional and by the new keyword)
assert list(_wrap_bytes_repr(b"", 10, 0)) == []
assert list(_wrap_bytes_repr(b"abcdefghijklmnop", 10, 1)) == ["b'abcd'", "b'efgh'", "b'ijkl'", "b'mnop'"]
assert list(_wrap_bytes_repr(data=b"hello world, this is bytes", width=12, allowance=0)) == [
    "b'hello wo'", "b'rld, thi'", "b's is byt'", "b'es'"]
assert list(_wrap_bytes_repr(b"\x00" * 9, 20, 3)) == ["b'\\x00\\x00\\x00\\x00'", "b'\\x00\\x00\\x00\\x00'", "b'\\x00'"]
assert list(_wrap_bytes_repr(bytes(range(40)), 30, 2)) == [
    "b'\\x00\\x01\\x02\\x03'", "b'\\x04\\x05\\x06\\x07'", "b'\\x08\\t\\n\\x0b\\x0c\\r\\x0e\\x0f'",
    "b'\\x10\\x11\\x12\\x13'", "b'\\x14\\x15\\x16\\x17'", "b'\\x18\\x19\\x1a\\x1b'",
    'b\'\\x1c\\x1d\\x1e\\x1f !"#$%&\\\'\'']
