"""urllib_parse.urldefrag: Rename the variable defrag to without_fragment."""

SETUP = "from urllib.parse import _coerce_args, urlparse, urlunparse, DefragResult"

REFERENCE = '''def urldefrag(url):
    """Removes any existing fragment from URL.

    Returns a tuple of the defragmented URL and the fragment.  If
    the URL contained no fragments, the second element is the
    empty string.
    """
    url, _coerce_result = _coerce_args(url)
    if '#' in url:
        s, n, p, a, q, frag = urlparse(url)
        without_fragment = urlunparse((s, n, p, a, q, ''))
    else:
        frag = ''
        without_fragment = url
    return _coerce_result(DefragResult(without_fragment, frag))
'''

import ast

# the asked change: the local is called without_fragment, and defrag is gone everywhere in the code
assert "without_fragment" in FUNCTION.__code__.co_varnames
assert "defrag" not in FUNCTION.__code__.co_varnames
assert "defrag" not in {n.id for n in ast.walk(ast.parse(SOURCE)) if isinstance(n, ast.Name)}

# the behaviour is kept: with and without a fragment, an empty fragment, bytes, a '#' in the fragment
assert urldefrag("http://a/b/c?q=1#frag") == ("http://a/b/c?q=1", "frag")
assert urldefrag("http://a/b/c") == ("http://a/b/c", "")
# without a '#' the url comes back untouched (a parse and unparse would change these)
assert urldefrag("http://a/b?") == ("http://a/b?", "")
assert urldefrag("HTTP://a/b;") == ("HTTP://a/b;", "")
assert urldefrag(b"http://h/p?") == (b"http://h/p?", b"")
assert urldefrag("http://a/b#") == ("http://a/b", "")
assert urldefrag("") == ("", "")
assert urldefrag("#x") == ("", "x")
assert urldefrag("//host/p;par?q#a#b") == ("//host/p;par?q", "a#b")
assert type(urldefrag("http://a/b#f")) is DefragResult
assert urldefrag("http://a/b#f").url == "http://a/b"
assert urldefrag(b"http://a/b#f") == (b"http://a/b", b"f")
assert type(urldefrag(b"http://a/b#f")).__name__ == "DefragResultBytes"
assert urldefrag(b"http://a/b") == (b"http://a/b", b"")
