"""Where Amigo keeps its own files: the XDG base directories, each with an ``amigo`` folder.

One home for these rules so that every part (the index cache, the undo
journal, the feedback store, built binaries, server records) agrees on them
and a test can move all of them at once by setting the XDG variables.
Nothing here creates a folder: callers create what they write.
"""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, *default: str) -> Path:
    base = os.environ.get(variable) or str(Path.home().joinpath(*default))
    return Path(base) / "amigo"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/amigo`` (default ``~/.config/amigo``): the person's settings."""
    return _xdg("XDG_CONFIG_HOME", ".config")


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/amigo`` (default ``~/.cache/amigo``): what can be rebuilt (index, wheels, binaries)."""
    return _xdg("XDG_CACHE_HOME", ".cache")


def data_dir() -> Path:
    """``$XDG_DATA_HOME/amigo`` (default ``~/.local/share/amigo``): what cannot be rebuilt (feedback, models)."""
    return _xdg("XDG_DATA_HOME", ".local", "share")


def state_dir() -> Path:
    """``$XDG_STATE_HOME/amigo`` (default ``~/.local/state/amigo``): undo journal, logs, server records."""
    return _xdg("XDG_STATE_HOME", ".local", "state")
