"""shlex.quote: Rename the parameter s to text everywhere in the function."""

SETUP = "from shlex import _find_unsafe"

REFERENCE = '''def quote(text):
    """Return a shell-escaped version of the string *text*."""
    if not text:
        return "''"
    if _find_unsafe(text) is None:
        return text

    # use single quotes, and put single quotes into double quotes
    # the string $'b is then quoted as '$'"'"'b'
    return "'" + text.replace("'", "'\\"'\\"'") + "'"
'''

import ast
import inspect

# the asked rename: the only parameter is text, and no code in the function still uses s
assert list(inspect.signature(quote).parameters) == ["text"]
assert "s" not in FUNCTION.__code__.co_varnames and "text" in FUNCTION.__code__.co_varnames
_fn = next(n for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.FunctionDef) and n.name == "quote")
assert not [n for n in ast.walk(_fn) if isinstance(n, ast.Name) and n.id == "s"], "s is still used"
assert quote(text="a b") == "'a b'"

# the quoting is kept
assert quote("") == "''"
assert quote("abc") == "abc"
assert quote("a/b.c-d_e") == "a/b.c-d_e"
assert quote("--x=1") == "--x=1"
assert quote("a b") == "'a b'"
assert quote("$HOME") == "'$HOME'"
assert quote("it's") == "'it'\"'\"'s'"
assert quote('"') == "'\"'"
assert quote("\u00e9") == "'\u00e9'"
