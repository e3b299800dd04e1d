"""textwrap.indent: Raise a TypeError when prefix is not a string."""

SETUP = ""

REFERENCE = '''def indent(text, prefix, predicate=None):
    """Adds 'prefix' to the beginning of selected lines in 'text'.

    If 'predicate' is provided, 'prefix' will only be added to the lines
    where 'predicate(line)' is True. If 'predicate' is not provided,
    it will default to adding 'prefix' to all non-empty lines that do not
    consist solely of whitespace characters.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
    if predicate is None:
        def predicate(line):
            return line.strip()

    def prefixed_lines():
        for line in text.splitlines(True):
            yield (prefix + line if predicate(line) else line)
    return ''.join(prefixed_lines())
'''

# the asked behaviour: a prefix that is not a str raises TypeError, before any line is seen
raises(TypeError, indent, "a\nb\n", 3)
raises(TypeError, indent, "a\n", b"> ")
raises(TypeError, indent, "", None)

# the documented behaviour is kept
assert indent("a\n\n  \nb\n", "> ") == "> a\n\n  \n> b\n"
assert indent("a\nb", "  ") == "  a\n  b"
assert indent("a\n\nb\n", "+", lambda line: True) == "+a\n+\n+b\n"
assert indent("", "> ") == ""
