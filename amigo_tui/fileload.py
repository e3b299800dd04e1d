"""Loading a file for display without ever loading a huge one whole.

The view shows text files as they are, binary files as a notice, non-UTF-8
files decoded with replacement characters (read-only), and files over the
editing limit one page at a time (read-only): a page is read with a seek.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amigo.filetypes import BINARY_SNIFF_BYTES, looks_binary

PAGE_BYTES = 128 * 1024
_COUNT_CHUNK = 1 << 20


@dataclass(frozen=True)
class FilePage:
    """What the file view shows: ``kind`` is text, binary, not-utf8, huge or missing."""

    path: str
    kind: str
    text: str
    size: int
    page: int = 0
    pages: int = 1
    first_line: int = 1
    notice: str = ""

    @property
    def editable(self) -> bool:
        """Only a whole UTF-8 text file under the limit can be sent to the model."""
        return self.kind == "text"


def load_page(root: Path, rel: str, max_bytes: int, page: int = 0, page_bytes: int = PAGE_BYTES) -> FilePage:
    """Read ``rel`` for display (``page`` matters only for files over ``max_bytes``)."""
    full = root / rel
    try:
        size = full.stat().st_size
        with full.open("rb") as fh:
            head = fh.read(BINARY_SNIFF_BYTES)
    except OSError as exc:
        return FilePage(rel, "missing", "", 0, notice=f"{rel}: cannot be read ({exc.strerror})")
    if looks_binary(head):
        return FilePage(rel, "binary", "", size,
                        notice=f"{rel}: binary file ({size:,} bytes); not shown, not editable")
    if size > max_bytes:
        return _huge_page(full, rel, size, max_bytes, page, page_bytes)
    data = full.read_bytes()
    try:
        return FilePage(rel, "text", data.decode("utf-8"), size)
    except UnicodeDecodeError as exc:
        return FilePage(rel, "not-utf8", data.decode("utf-8", "replace"), size,
                        notice=f"{rel}: not UTF-8 (byte {exc.start}); shown read-only, convert it to UTF-8 to edit")


def page_bounds(fh, size: int, page: int, page_bytes: int) -> tuple[int, int]:
    """Byte range of ``page``: from the first line start at or after ``page * page_bytes``
    to the first line start at or after the next page's offset (so pages never split a line)."""
    return _line_start_at(fh, size, page * page_bytes), _line_start_at(fh, size, (page + 1) * page_bytes)


def _line_start_at(fh, size: int, offset: int) -> int:
    if offset <= 0:
        return 0
    if offset >= size:
        return size
    fh.seek(offset - 1)
    position = offset - 1
    while True:
        chunk = fh.read(65536)
        if not chunk:
            return size
        newline = chunk.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(chunk)


def _huge_page(full: Path, rel: str, size: int, max_bytes: int, page: int, page_bytes: int) -> FilePage:
    pages = max(1, -(-size // page_bytes))
    page = min(max(0, page), pages - 1)
    with full.open("rb") as fh:
        start, end = page_bounds(fh, size, page, page_bytes)
        fh.seek(0)
        lines_before = 0
        remaining = start
        while remaining > 0:
            chunk = fh.read(min(_COUNT_CHUNK, remaining))
            if not chunk:
                break
            lines_before += chunk.count(b"\n")
            remaining -= len(chunk)
        fh.seek(start)
        data = fh.read(end - start)
    notice = (f"{rel}: {size:,} bytes, over the {max_bytes:,}-byte editing limit; "
              f"page {page + 1}/{pages} (read-only; [ and ] turn pages)")
    return FilePage(rel, "huge", data.decode("utf-8", "replace"), size, page, pages, lines_before + 1, notice)
