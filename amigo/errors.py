"""Errors every front end can show as-is: each message says what to do next."""

from __future__ import annotations


class AmigoError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing message."""


class ConfigError(AmigoError):
    """Bad configuration: the message names the file and the key."""


class ModelServerError(AmigoError):
    """The model server is down, slow, or answered something unusable."""


class RefusedError(AmigoError):
    """A change was refused to protect the person's work (stale, unsafe path, ...)."""


class InputError(AmigoError):
    """A file or request Amigo cannot work on (binary, too large, not UTF-8, missing)."""


class StaleError(RefusedError):
    """A change refused because ``path`` no longer has the bytes it was computed from."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path
