"""posixpath.dirname: Rename the variable head to directory."""

SETUP = "import os\nfrom posixpath import _get_sep"

REFERENCE = '''def dirname(p):
    """Returns the directory component of a pathname"""
    p = os.fspath(p)
    sep = _get_sep(p)
    i = p.rfind(sep) + 1
    directory = p[:i]
    if directory and directory != sep*len(directory):
        directory = directory.rstrip(sep)
    return directory
'''

import ast

# the asked change: the local is called directory, and head is gone everywhere in the code
assert "directory" in FUNCTION.__code__.co_varnames
assert "head" not in FUNCTION.__code__.co_varnames
assert "head" not in {n.id for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.Name)}

# the behaviour is kept: plain, trailing and repeated separators, no separator, bytes, path-like
assert dirname("/a/b/c") == "/a/b"
assert dirname("/a/b/") == "/a/b"
assert dirname("a/b") == "a"
assert dirname("a") == ""
assert dirname("") == ""
assert dirname("/") == "/"
assert dirname("///") == "///"
assert dirname("//a//b") == "//a"
assert dirname(b"/x/y") == b"/x"
assert dirname(b"///") == b"///"
assert dirname(os.path.join("/u", "v", "w")) == "/u/v"
raises(TypeError, dirname, 3)
