"""zipfile.is_zipfile: Return False directly inside the except branch instead of pass."""

SETUP = "from zipfile import _check_zipfile"

REFERENCE = '''def is_zipfile(filename):
    """Quickly see if a file is a ZIP file by checking the magic number.

    The filename argument may be a file or file-like object too.
    """
    result = False
    try:
        if hasattr(filename, "read"):
            result = _check_zipfile(fp=filename)
        else:
            with open(filename, "rb") as fp:
                result = _check_zipfile(fp)
    except OSError:
        return False
    return result
'''

import ast as _ast
import io as _io
import pathlib as _pathlib
import zipfile as _zipfile

# the asked form: the except branch returns False itself, no pass is left in it
_handlers = [n for n in _ast.walk(_ast.parse(SOURCE)) if isinstance(n, _ast.ExceptHandler)]
assert _handlers, "no except branch"
assert not any(isinstance(n, _ast.Pass) for h in _handlers for n in _ast.walk(h)), "pass left in the except branch"
assert any(isinstance(s, _ast.Return) and isinstance(s.value, _ast.Constant) and s.value.value is False
           for h in _handlers for s in h.body), "the except branch does not return False"

# the behaviour is kept: ZIP data is recognised in file objects and files, anything else is False
_buffer = _io.BytesIO()
with _zipfile.ZipFile(_buffer, "w") as _zf:
    _zf.writestr("a.txt", "hi")
assert is_zipfile(_io.BytesIO(_buffer.getvalue())) is True
assert is_zipfile(_io.BytesIO(b"not a zip")) is False
assert is_zipfile(_io.BytesIO(b"")) is False
with open("HC_check.zip", "wb") as _f:
    _f.write(_buffer.getvalue())
with open("HC_check.txt", "wb") as _f:
    _f.write(b"plain text, not a zip")
assert is_zipfile("HC_check.zip") is True
assert is_zipfile(_pathlib.Path("HC_check.zip")) is True
assert is_zipfile("HC_check.txt") is False

# an OSError (a missing file, a folder) gives False; other errors still propagate
assert is_zipfile("HC_missing_file.zip") is False
assert is_zipfile(".") is False
raises(TypeError, is_zipfile, None)
