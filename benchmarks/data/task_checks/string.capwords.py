"""string.capwords: Add type hints: s is str, sep is str | None, and it returns str."""

SETUP = ""

REFERENCE = '''def capwords(s: str, sep: str | None = None) -> str:
    """capwords(s [,sep]) -> string

    Split the argument into words using split, capitalize each
    word using capitalize, and join the capitalized words using
    join.  If the optional second argument sep is absent or None,
    runs of whitespace characters are replaced by a single space
    and leading and trailing whitespace are removed, otherwise
    sep is used to split and join the words.

    """
    return (sep or ' ').join(map(str.capitalize, s.split(sep)))
'''

import inspect
import typing

# the asked hints (any spelling of str | None: Optional[str], Union[str, None], a string annotation)
_hints = typing.get_type_hints(FUNCTION)
assert set(_hints) == {"s", "sep", "return"}, _hints
assert _hints["s"] is str and _hints["return"] is str, _hints
assert set(typing.get_args(_hints["sep"])) == {str, type(None)}, _hints["sep"]
assert list(inspect.signature(capwords).parameters) == ["s", "sep"]
assert inspect.signature(capwords).parameters["sep"].default is None

# the behaviour is kept
assert capwords("hello world") == "Hello World"
assert capwords("  hello   WORLD  ") == "Hello World"
assert capwords("") == ""
assert capwords("x y", None) == "X Y"
assert capwords("a-b c-d", "-") == "A-B c-D"
assert capwords("aBC,dEF,", ",") == "Abc,Def,"
assert capwords("ab  cd", sep=" ") == "Ab  Cd"
