"""Facts about files by their name and first bytes: whether text at all.

One home for them, so every reader (the workspace, the context index, the
TUI, history mining) calls the same file binary.
"""

from __future__ import annotations

# How much of a file is looked at to call it binary (git and grep look at as much).
BINARY_SNIFF_BYTES = 8192


def looks_binary(head: bytes) -> bool:
    """NUL bytes in the first :data:`BINARY_SNIFF_BYTES`: not text, whatever the extension says."""
    return b"\0" in head[:BINARY_SNIFF_BYTES]
