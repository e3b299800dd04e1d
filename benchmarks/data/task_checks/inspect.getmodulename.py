"""inspect.getmodulename: Sort the suffixes with sorted() instead of list.sort()."""

SETUP = "import os\nimport importlib.machinery"

REFERENCE = '''def getmodulename(path):
    """Return the module name for a given file, or None."""
    fname = os.path.basename(path)
    # Check for paths that look like an actual module file
    suffixes = sorted((-len(suffix), suffix)
                      for suffix in importlib.machinery.all_suffixes())
    # try longest suffixes first, in case they overlap
    for neglen, suffix in suffixes:
        if fname.endswith(suffix):
            return fname[:neglen]
    return None
'''

import ast
import types

# the asked form: a sorted() call, and no list.sort() left
_calls = [n.func for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.Call)]
assert any(isinstance(f, ast.Name) and f.id == "sorted" for f in _calls), "no sorted() call"
assert not any(isinstance(f, ast.Attribute) and f.attr == "sort" for f in _calls), "list.sort() is still used"

# the module names are kept, for every suffix this Python knows
for _suffix in importlib.machinery.all_suffixes():
    assert getmodulename("pkg/sub/mod" + _suffix) == "mod", _suffix
assert getmodulename("foo.py") == "foo"
assert getmodulename("a/b/foo.cpython-311-x86_64-linux-gnu.so") == "foo"
assert getmodulename("x/m.abi3.so") == "m"
assert getmodulename("foo.pyc") == "foo"
assert getmodulename("foo.txt") is None
assert getmodulename("foo") is None
assert getmodulename("dir/") is None
assert getmodulename("") is None

# the longest suffix still wins when suffixes overlap, whatever order they are listed in
_real_importlib = importlib
importlib = types.SimpleNamespace(machinery=types.SimpleNamespace(
    all_suffixes=lambda: [".so", ".py", ".x.abi3.so", ".abi3.so", ".pyc"]))
assert getmodulename("d/m.x.abi3.so") == "m"
assert getmodulename("d/m.abi3.so") == "m"
assert getmodulename("m.so") == "m"
assert getmodulename("m.pyc") == "m"
importlib = _real_importlib
