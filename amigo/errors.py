"""Errors every front end can show as-is: each message says what to do next."""

from __future__ import annotations

# One meaning per exit status, for `amigo` and every subcommand: 0 done (applied,
# ok), 1 refused or failed (a down server included), 2 bad usage (argparse uses
# 2 too), 3 the person rejected the proposal.
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3


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


class UsageError(InputError):
    """The command line itself is wrong (a bad option value, a missing choice): exit 2."""


def exit_status(err: AmigoError) -> int:
    """The exit status a command returns for ``err``: 2 for bad usage, else 1 (refused or failed)."""
    return EXIT_USAGE if isinstance(err, UsageError) else EXIT_FAIL
