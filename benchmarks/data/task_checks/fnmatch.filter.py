"""fnmatch.filter: Rename the local variable result to matches."""

SETUP = "import os\nimport posixpath\nfrom fnmatch import _compile_pattern"

REFERENCE = '''def filter(names, pat):
    """Construct a list from those elements of the iterable NAMES that match PAT."""
    matches = []
    pat = os.path.normcase(pat)
    match = _compile_pattern(pat)
    if os.path is posixpath:
        # normcase on posix is NOP. Optimize it away from the loop.
        for name in names:
            if match(name):
                matches.append(name)
    else:
        for name in names:
            if match(os.path.normcase(name)):
                matches.append(name)
    return matches
'''

import ast as _ast
import ntpath as _ntpath
import types as _types

# the asked rename: matches is the local, result is gone from the code (both branches included)
assert "matches" in FUNCTION.__code__.co_varnames, FUNCTION.__code__.co_varnames
assert "result" not in FUNCTION.__code__.co_varnames + FUNCTION.__code__.co_names
_names = {n.id for n in _ast.walk(_ast.parse(SOURCE)) if isinstance(n, _ast.Name)}
assert "result" not in _names and "matches" in _names, sorted(_names)

# the behaviour is kept on posix
assert filter(["a.py", "b.txt", "c.py", "A.PY"], "*.py") == ["a.py", "c.py"]
assert filter([], "*") == []
assert filter(iter(["x1", "y", "x22"]), "x?") == ["x1"]
assert filter(["a", "b"], "[!a]") == ["b"]

# the non-posix branch is kept too (normcase folds case there)
_saved_os = FUNCTION.__globals__["os"]
FUNCTION.__globals__["os"] = _types.SimpleNamespace(path=_ntpath)
try:
    assert filter(["A.PY", "b.txt", "c.py"], "*.py") == ["A.PY", "c.py"]
    assert filter([], "*.py") == []
finally:
    FUNCTION.__globals__["os"] = _saved_os
