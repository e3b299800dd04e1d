"""email_utils.unquote: Also strip single quotes around the string."""

SETUP = ""

REFERENCE = r'''def unquote(str):
    """Remove quotes from a string."""
    if len(str) > 1:
        if str.startswith('"') and str.endswith('"'):
            return str[1:-1].replace('\\\\', '\\').replace('\\"', '"')
        if str.startswith("'") and str.endswith("'"):
            return str[1:-1]
        if str.startswith('<') and str.endswith('>'):
            return str[1:-1]
    return str
'''

# the asked behaviour: one pair of single quotes around the string is removed
assert unquote("'abc'") == "abc"
assert unquote("'a b@c'") == "a b@c"
assert unquote("''") == ""

# a lone or unmatched single quote is kept, as for double quotes
assert unquote("'") == "'"
assert unquote("'abc") == "'abc"
assert unquote("abc'") == "abc'"
assert unquote("\"abc'") == "\"abc'"
assert unquote("'abc\"") == "'abc\""
assert unquote("a'b'c") == "a'b'c"

# the behaviour is kept for double quotes (with their escapes), angle brackets and plain strings
assert unquote('"a\\"b"') == 'a"b'
assert unquote('"a\\\\b"') == "a\\b"
assert unquote('""') == ""
assert unquote('"') == '"'
assert unquote("<x@y>") == "x@y"
assert unquote("<>") == ""
assert unquote("<") == "<"
assert unquote("abc") == "abc"
assert unquote("") == ""
