"""textwrap.shorten: Add type hints: text is str, width is int, and it returns str."""

SETUP = "from textwrap import TextWrapper"

REFERENCE = '''def shorten(text: str, width: int, **kwargs) -> str:
    """Collapse and truncate the given text to fit in the given width.

    The text first has its whitespace collapsed.  If it then fits in
    the *width*, it is returned as is.  Otherwise, as many words
    as possible are joined and then the placeholder is appended::

        >>> textwrap.shorten("Hello  world!", width=12)
        'Hello world!'
        >>> textwrap.shorten("Hello  world!", width=11)
        'Hello [...]'
    """
    w = TextWrapper(width=width, max_lines=1, **kwargs)
    return w.fill(' '.join(text.strip().split()))
'''

import inspect


def _is(annotation, kind):
    # the class itself, or a string of it ("str", also when annotations are postponed)
    for _ in range(3):
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, FUNCTION.__globals__)
            except Exception:
                return False
    return annotation is kind


# the asked hints: text: str, width: int, -> str (all three, with the right types)
_hints = FUNCTION.__annotations__
assert _is(_hints.get("text"), str), _hints
assert _is(_hints.get("width"), int), _hints
assert _is(_hints.get("return"), str), _hints

# the signature is kept: same parameters, kwargs still passed through
assert [(p.name, p.kind) for p in inspect.signature(shorten).parameters.values()] == [
    ("text", inspect.Parameter.POSITIONAL_OR_KEYWORD), ("width", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ("kwargs", inspect.Parameter.VAR_KEYWORD)]

# the documented behaviour is kept
assert shorten("Hello  world!", width=12) == "Hello world!"
assert shorten("Hello  world!", width=11) == "Hello [...]"
assert shorten("", 5) == ""
assert shorten("  a  b  c ", 5) == "a b c"
assert shorten("The quick brown fox", 10) == "The [...]"
assert shorten("The quick brown fox", 12, placeholder="...") == "The quick..."
raises(ValueError, shorten, "  a  b  c ", 3)
