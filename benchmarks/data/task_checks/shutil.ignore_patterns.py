"""shutil.ignore_patterns: Rename ignored_names to ignored."""

SETUP = "import fnmatch"

REFERENCE = '''def ignore_patterns(*patterns):
    """Function that can be used as copytree() ignore parameter.

    Patterns is a sequence of glob-style patterns
    that are used to exclude files"""
    def _ignore_patterns(path, names):
        ignored = []
        for pattern in patterns:
            ignored.extend(fnmatch.filter(names, pattern))
        return set(ignored)
    return _ignore_patterns
'''

import ast as _ast

# the asked rename: the inner function's local is ignored, ignored_names is gone from the code
_inner = ignore_patterns("*").__code__
assert "ignored" in _inner.co_varnames, _inner.co_varnames
assert "ignored_names" not in _inner.co_varnames + _inner.co_names
_names = {n.id for n in _ast.walk(_ast.parse(SOURCE)) if isinstance(n, _ast.Name)}
assert "ignored_names" not in _names and "ignored" in _names, sorted(_names)

# the behaviour is kept: a set of the names matching any pattern
assert ignore_patterns("*.pyc", "tmp*")("/x", ["a.py", "b.pyc", "tmpfile", "c"]) == {"b.pyc", "tmpfile"}
assert ignore_patterns("*.py", "a*")("src", ["a.py", "b.py", "abc"]) == {"a.py", "b.py", "abc"}
assert ignore_patterns()("src", ["a", "b"]) == set()
assert ignore_patterns("*")("src", []) == set()
assert type(ignore_patterns("*")("src", ["a"])) is set
