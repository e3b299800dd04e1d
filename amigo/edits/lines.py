"""Line handling shared by parsing, matching and rendering.

Text is split after every ``"\\n"`` and nowhere else (``str.splitlines`` also
splits on ``\\r``, ``\\x0b``, ``\\u2028``..., which would break round trips of
files that contain them). A *raw* line keeps its ending; a line's *key* is the
line without ``"\\n"`` and without one ``"\\r"`` before it, so CRLF and LF
copies of a line compare equal.
"""

from __future__ import annotations


def split_lines(text: str) -> list[str]:
    """Raw lines of ``text``: every line but possibly the last ends with ``"\\n"``."""
    if not text:
        return []
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def key(raw: str) -> str:
    """The line without its terminator (``"\\n"``, ``"\\r\\n"`` or a final ``"\\r"``)."""
    if raw.endswith("\n"):
        raw = raw[:-1]
    if raw.endswith("\r"):
        raw = raw[:-1]
    return raw


def keys_of(text: str) -> list[str]:
    """``[key(line) for line in split_lines(text)]``, computed fast (whole files, every apply)."""
    if not text:
        return []
    parts = text.split("\n")
    if not parts[-1]:
        parts.pop()
    if "\r" in text:
        parts = [p[:-1] if p.endswith("\r") else p for p in parts]
    return parts


def newline_of(text: str) -> str:
    """The file's dominant newline: ``"\\r\\n"`` when most lines use it, else ``"\\n"``."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 > text.count("\n") else "\n"


def indent_of(line: str) -> str:
    """The leading whitespace of ``line``."""
    return line[: len(line) - len(line.lstrip())]


def strip_terminator(text: str, exact_lf: bool) -> str:
    """Drop the final newline: exactly one ``"\\n"`` (``exact_lf``) or a whole ``"\\r\\n"``."""
    if not text.endswith("\n"):
        return text
    if not exact_lf and text.endswith("\r\n"):
        return text[:-2]
    return text[:-1]


BOM = "\ufeff"


def split_bom(text: str) -> tuple[str, str]:
    """(``BOM`` or "", the rest): a UTF-8 byte order mark decoded as text is the file's
    encoding, not its content, so edits apply after it and keep it."""
    return (BOM, text[1:]) if text.startswith(BOM) else ("", text)
