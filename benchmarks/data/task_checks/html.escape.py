"""html.escape: Also replace backticks with &#x60; when quote is true."""

SETUP = ""

REFERENCE = '''def escape(s, quote=True):
    """
    Replace special characters "&", "<" and ">" to HTML-safe sequences.
    If the optional flag quote is true (the default), the quotation mark
    characters, both double quote (") and single quote (') characters are also
    translated.
    """
    s = s.replace("&", "&amp;") # Must be done first!
    s = s.replace("<", "&lt;")
    s = s.replace(">", "&gt;")
    if quote:
        s = s.replace('"', "&quot;")
        s = s.replace('\\'', "&#x27;")
        s = s.replace('`', "&#x60;")
    return s
'''

# the asked behaviour: backticks become &#x60; when quote is true (the default), and the & of it is not escaped again
assert escape("`") == "&#x60;"
assert escape("a`b`", quote=True) == "a&#x60;b&#x60;"
assert escape("`&`") == "&#x60;&amp;&#x60;"
assert escape("<`\"'>") == "&lt;&#x60;&quot;&#x27;&gt;"

# with quote false backticks (and quotes) stay
assert escape("`", quote=False) == "`"
assert escape("a`\"'&", False) == "a`\"'&amp;"

# the documented behaviour is kept
assert escape("<a href=\"x\">'&</a>") == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&lt;/a&gt;"
assert escape("<a href=\"x\">'&</a>", False) == "&lt;a href=\"x\"&gt;'&amp;&lt;/a&gt;"
assert escape("&amp;") == "&amp;amp;"
assert escape("plain") == "plain"
assert escape("") == ""
