"""http_cookies._quote: Rename the parameter str to value so it does not shadow the builtin."""

SETUP = "from http.cookies import _is_legal_key, _Translator"

REFERENCE = '''def _quote(value):
    r"""Quote a string for use in a cookie header.

    If the string does not need to be double-quoted, then just return the
    string.  Otherwise, surround the string in doublequotes and quote
    (with a \\) special characters.
    """
    if value is None or _is_legal_key(value):
        return value
    else:
        return '"' + value.translate(_Translator) + '"'
'''

import ast
import inspect

# the asked change: the one parameter is called value, and str is no longer a name in the code
assert list(inspect.signature(FUNCTION).parameters) == ["value"]
assert "str" not in FUNCTION.__code__.co_varnames
assert "str" not in {n.id for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.Name)}

# the behaviour is kept: None and legal keys unchanged, others quoted with special characters escaped
assert _quote(None) is None
assert _quote("abc") == "abc"
assert _quote(value="abc") == "abc"
assert _quote("") == '""'
assert _quote("a b") == '"a b"'
assert _quote('a;b"c\\') == '"a\\073b\\"c\\\\"'
assert _quote("caf\xe9") == '"caf\\351"'
assert _quote("x,y") == '"x\\054y"'
