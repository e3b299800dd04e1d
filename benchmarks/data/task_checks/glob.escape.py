"""glob.escape: Return early with the pathname unchanged when it is empty."""

SETUP = "import os\nfrom glob import magic_check, magic_check_bytes"

REFERENCE = r'''def escape(pathname):
    """Escape all special characters.
    """
    if not pathname:
        return pathname
    # Escaping is done by wrapping any of "*?[" between square brackets.
    # Metacharacters do not work in the drive part and shouldn't be escaped.
    drive, pathname = os.path.splitdrive(pathname)
    if isinstance(pathname, bytes):
        pathname = magic_check_bytes.sub(br'[\1]', pathname)
    else:
        pathname = magic_check.sub(r'[\1]', pathname)
    return drive + pathname
'''

# the escaping of non-empty pathnames is kept (str and bytes)
assert escape("a*b?[c]") == "a[*]b[?][[]c]"
assert escape(b"x*[y]") == b"x[*][[]y]"
assert escape("/dir/*.py") == "/dir/[*].py"
assert escape("plain") == "plain"


# the asked early return: an empty pathname comes back unchanged (same type) without any
# substitution running; the patterns are swapped for ones that fail when used
class _Unused:
    def sub(self, *args, **kwargs):
        raise AssertionError("escape() substituted an empty pathname instead of returning early")


_real = (magic_check, magic_check_bytes)
magic_check = magic_check_bytes = _Unused()
assert escape("") == "" and type(escape("")) is str
assert escape(b"") == b"" and type(escape(b"")) is bytes
raises(AssertionError, escape, "a*")  # the stubs are really in use
magic_check, magic_check_bytes = _real
assert escape("a*") == "a[*]"
