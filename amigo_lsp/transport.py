"""stdio transport: one reader thread hands whole messages to the loop.

pygls' own stdio reader asks its thread pool for every header line and body
(three thread hand-offs per message); on a busy machine each hand-off waits
for a CPU slice, which is what sets the tail latency of cheap requests like
code actions. Reading whole frames on one thread and scheduling one callback
per message keeps the order and cuts the hand-offs to one.
"""

from __future__ import annotations

import logging
from typing import BinaryIO, Iterator

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def read_frames(stream: BinaryIO) -> Iterator[bytes]:
    """Yield message bodies from an LSP byte stream until end of file.

    Header blocks without a usable Content-Length are skipped (the body
    cannot be found without it); a length over the limit is read and dropped.
    """
    while True:
        length: int | None = None
        while True:
            line = stream.readline()
            if not line:
                return
            if not line.strip():
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    length = None
        if length is None or length < 0:
            continue
        body = stream.read(length)
        if len(body) < length:
            return
        if length > MAX_MESSAGE_BYTES:
            log.warning("dropped a %d-byte message (limit %d)", length, MAX_MESSAGE_BYTES)
            continue
        yield body
