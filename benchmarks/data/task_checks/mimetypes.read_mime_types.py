"""mimetypes.read_mime_types: Add a docstring saying it returns None when the file cannot be opened."""

SETUP = "from mimetypes import MimeTypes"

REFERENCE = '''def read_mime_types(file):
    """Read the MIME types file *file* and return its type map.

    Return None when the file cannot be opened.
    """
    try:
        f = open(file, encoding='utf-8')
    except OSError:
        return None
    with f:
        db = MimeTypes()
        db.readfp(f, True)
        return db.types_map[True]
'''

import re

# the asked docstring: it is the function's docstring, and says None is returned when the file cannot be opened
_doc = FUNCTION.__doc__ or ""
assert "None" in _doc, "the docstring does not mention None"
assert re.search(r"open|read|access|exist|found|missing", _doc, re.I), "the docstring does not say when None comes back"

# the behaviour is kept: None for a file that cannot be opened, the file's types otherwise
assert read_mime_types("no_such_file.types") is None
assert read_mime_types(".") is None
with open("HB_test.types", "w", encoding="utf-8") as _f:
    _f.write("# a comment\ntext/x-hb-test hbt hbtest\napplication/x-hb-other hbo\n")
_types = read_mime_types("HB_test.types")
assert _types[".hbt"] == "text/x-hb-test" and _types[".hbtest"] == "text/x-hb-test"
assert _types[".hbo"] == "application/x-hb-other"
