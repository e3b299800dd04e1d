"""stdio transport: one reader thread hands whole messages to the loop.

pygls' own stdio reader asks its thread pool for every header line and body
(three thread hand-offs per message); on a busy machine each hand-off waits
for a CPU slice, which is what sets the tail latency of cheap requests like
code actions. Reading whole frames on one thread and scheduling one callback
per message keeps the order and cuts the hand-offs to one.

The reader takes raw bytes from the file descriptor (``os.read``), never
through ``sys.stdin.buffer``: a thread blocked inside a buffered reader holds
its lock, and the interpreter aborts at exit when it cannot take that lock to
close standard input ("could not acquire lock for <stdin> at interpreter
shutdown"). A thread blocked in ``os.read`` holds nothing.

Framing errors never end the stream. A header block without a usable
``Content-Length`` (missing, ``abc``, ``3.5``), stray bytes, or a length that
does not fit the body are logged and the reader resynchronises on the next
valid header. A complete header block cannot occur inside a well-formed JSON
body (JSON strings hold no raw line breaks), so finding one inside a body
proves the length was wrong. A length over :data:`MAX_MESSAGE_BYTES` is
refused at once (nothing is buffered for it), and the bytes after it are
skipped up to the next header.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from typing import Any, Callable, Iterator

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024  # a header block longer than this is garbage
READ_CHUNK = 64 * 1024

_START = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)
_LENGTH_LINE = re.compile(rb"content-length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r?\n", re.IGNORECASE)
_LENGTH_SO_FAR = re.compile(rb"content-length[ \t]*:[ \t]*\d{0,18}[ \t]*\r?", re.IGNORECASE)  # may still become one
# Content-Type and the like; a second Content-Length is not one of them (it starts the next message).
_OTHER_LINE = re.compile(rb"(?!content-length[ \t]*:)[A-Za-z0-9-]+[ \t]*:[^\r\n]*\r?\n", re.IGNORECASE)
_LINE_SO_FAR = re.compile(rb"[A-Za-z0-9-]*(?:[ \t]*:[^\r\n]*)?\r?")
_END = re.compile(rb"\r?\n")
# A whole header block from its Content-Length line to the blank line that ends it.
_BLOCK = re.compile(_LENGTH_LINE.pattern + rb"(?:" + _OTHER_LINE.pattern + rb")*\r?\n", re.IGNORECASE)
_HEADER_LINES = re.compile(rb"(?:" + _OTHER_LINE.pattern + rb"|\r?\n)*")
_KEEP = 64  # the longest Content-Length line expected (header start to its line break)


class _Ended(Exception):
    """End of input."""


Read = Callable[[int], bytes]


class FrameReader:
    """Message bodies from an LSP byte stream; ``read(n)`` returns b"" at end of input."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._buf = bytearray()
        self._eof = False
        self.errors = 0  # framing errors seen (for tests and the log)

    def _error(self, level: int, message: str, *args: object) -> None:
        self.errors += 1
        log.log(level, "LSP framing: " + message, *args)

    def _drop(self, count: int, why: str) -> None:
        """Discard ``count`` bytes from the front, logging them unless they are well-formed headers."""
        dropped = bytes(self._buf[:count])
        del self._buf[:count]
        if dropped.strip() and _HEADER_LINES.fullmatch(dropped) is None:
            self._error(logging.WARNING, "skipped %d stray bytes %s: %r", len(dropped), why, dropped[:60])

    def _find_start(self) -> None:
        """Move the buffer's front to the next ``Content-Length:``."""
        while True:
            match = _START.search(self._buf)
            if match is not None:
                self._drop(match.start(), "before a header")
                return
            keep = min(len(self._buf), _KEEP)
            self._drop(len(self._buf) - keep, "with no header")
            self._fill()

    def _fill(self) -> None:
        """Read more input; raise _Ended at end of input."""
        if self._eof:
            raise _Ended
        chunk = self._read(READ_CHUNK)
        if not chunk:
            self._eof = True
            raise _Ended
        self._buf += chunk

    def _header(self) -> tuple[int, int] | None:
        """(body length, header length) of the block at the front; None when it is not usable.

        An unusable block is logged and its ``Content-Length:`` dropped, so the
        next search starts after it. Waits for more input only while the block
        may still become valid.
        """
        while True:
            first = _LENGTH_LINE.match(self._buf)
            if first is None:
                if (b"\n" in self._buf or len(self._buf) > MAX_HEADER_BYTES
                        or _LENGTH_SO_FAR.fullmatch(self._buf) is None):
                    line = bytes(self._buf.split(b"\n", 1)[0]).partition(b":")[2].strip()
                    self._error(logging.WARNING, "bad Content-Length %r: skipped to the next header", line[:40])
                    self._skip_start()
                    return None
                self._fill()
                continue
            pos = first.end()
            while (line := _OTHER_LINE.match(self._buf, pos)) is not None:
                pos = line.end()
            end = _END.match(self._buf, pos)
            if end is not None:
                return int(first.group(1)), end.end()
            tail = bytes(self._buf[pos:])
            if b"\n" in tail or _LINE_SO_FAR.fullmatch(tail) is None or len(self._buf) > MAX_HEADER_BYTES:
                self._error(logging.WARNING, "no blank line after the header (got %r): skipped to the next header",
                            tail[:40])
                self._skip_start()
                return None
            self._fill()

    def _skip_start(self) -> None:
        del self._buf[:_START.match(self._buf).end()]  # type: ignore[union-attr]

    def _block_inside(self, start: int, end: int) -> int | None:
        """Where a complete header block starts in ``[start, end)`` of the buffer, if one does.

        A block's Content-Length line ends in a line break within a few bytes
        of its start, and compact JSON has none: one ``find`` (memchr) rules
        most bodies out before the pattern runs, from just before the first
        line break on.
        """
        limit = min(len(self._buf), end + MAX_HEADER_BYTES)
        newline = self._buf.find(b"\n", start, limit)
        if newline < 0:
            return None
        inner = _BLOCK.search(self._buf, max(start, newline - _KEEP), limit)
        return inner.start() if inner is not None and inner.start() < end else None

    def _body(self, length: int, header: int) -> bytes | None:
        """The body after a ``header``-byte block, or None when a header starts inside it."""
        end = header + length
        scanned = header
        while True:
            inner = self._block_inside(max(header, scanned - MAX_HEADER_BYTES), end)
            if inner is not None:
                self._error(logging.WARNING, "a message was shorter than its Content-Length %d: "
                            "resynchronised on the header inside it", length)
                del self._buf[:inner]
                return None
            if len(self._buf) >= end:
                body = bytes(self._buf[header:end])
                del self._buf[:end]
                return body
            scanned = len(self._buf)
            try:
                self._fill()
            except _Ended:
                self._error(logging.WARNING, "input ended inside a message (%d of %d bytes)",
                            len(self._buf) - header, length)
                raise

    def frames(self) -> Iterator[bytes]:
        """Yield each message body until end of input, resynchronising after framing errors."""
        try:
            while True:
                self._find_start()
                found = self._header()
                if found is None:
                    continue
                length, header = found
                if length > MAX_MESSAGE_BYTES:
                    self._error(logging.ERROR, "refused a message of %d bytes (the limit is %d); "
                                "its bytes are skipped up to the next header", length, MAX_MESSAGE_BYTES)
                    del self._buf[:header]
                    continue
                body = self._body(length, header)
                if body is not None:
                    yield body
        except _Ended:
            return


def frame(body: bytes) -> bytes:
    """One LSP message: Content-Length header, blank line, body."""
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def raw_reader(stream: Any) -> Read:
    """``os.read`` on the stream's descriptor (no buffered reader's lock held while blocked).

    A stream without a descriptor (an in-memory one, in tests) is read through its own ``read``.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream.read
    return functools.partial(os.read, fd)


def read_frames(read: Read) -> Iterator[bytes]:
    """Message bodies from ``read`` (``os.read`` on a descriptor, or a stream's ``read``)."""
    return FrameReader(read).frames()
