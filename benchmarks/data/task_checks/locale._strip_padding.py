"""locale._strip_padding: Add a docstring and type hints (s: str, amount: int) -> str."""

SETUP = ""

REFERENCE = '''def _strip_padding(s: str, amount: int) -> str:
    """Strip up to *amount* padding spaces from s, first from the left, then from the right."""
    lpos = 0
    while amount and s[lpos] == ' ':
        lpos += 1
        amount -= 1
    rpos = len(s) - 1
    while amount and s[rpos] == ' ':
        rpos -= 1
        amount -= 1
    return s[lpos:rpos+1]
'''

import re
import typing

# the asked hints and docstring (a docstring that says what is stripped: padding, spaces)
assert typing.get_type_hints(FUNCTION) == {"s": str, "amount": int, "return": str}, FUNCTION.__annotations__
_doc = FUNCTION.__doc__ or ""
assert _doc.strip(), "no docstring"
assert re.search(r"pad|space|blank|strip|trim|remov", _doc, re.I), "the docstring does not say what the function does"

# the behaviour is kept
for _args, _want in [(("  12  ", 2), "12  "), (("  12  ", 4), "12"), (("  12  ", 0), "  12  "),
                     (("12   ", 2), "12 "), (("   12", 1), "  12"), (("x", 0), "x"), ((" a b ", 2), "a b"),
                     (("  ab", 3), "ab"), (("ab  ", 1), "ab "), (("", 0), "")]:
    assert _strip_padding(*_args) == _want, (_args, _strip_padding(*_args))
