"""Where the feedback settings come from, and where the database lives.

The settings object is ``amigo.config.FeedbackSettings`` (the ``[feedback]``
table of the one configuration). This module only reads its attributes by
name, so any object with the same fields works (tests build their own).
"""

from __future__ import annotations

import fnmatch
import os
from amigo import xdg
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

try:  # the real one, from the single configuration
    from amigo.config import FeedbackSettings
except ImportError:  # pragma: no cover - only while amigo.config is being written

    @dataclass
    class FeedbackSettings:  # type: ignore[no-redef]
        """Same fields as ``amigo.config.FeedbackSettings``."""

        enabled: bool = True
        db_path: str | None = None
        exclude_repos: list[str] = field(default_factory=list)
        retention_delay_s: int = 86400
        correction_window_s: int = 3600


class SettingsLike(Protocol):
    """The attributes feedback reads (``amigo.config.FeedbackSettings`` has them)."""

    enabled: bool
    db_path: str | None
    exclude_repos: list[str]
    retention_delay_s: int
    correction_window_s: int


def default_settings() -> SettingsLike:
    """Settings from the configuration of the current directory, else the defaults."""
    try:
        from amigo.config import load_config

        return load_config(None).feedback
    except ImportError:  # pragma: no cover
        return FeedbackSettings()


def db_path(settings: SettingsLike | None) -> Path:
    """The database file: ``settings.db_path`` when set, else under the XDG data dir."""
    configured = getattr(settings, "db_path", None) if settings is not None else None
    if configured:
        return Path(os.path.expandvars(str(configured))).expanduser()
    return xdg.data_dir() / "feedback.db"


def is_excluded(settings: SettingsLike | None, repo_root: Path | None, repo_id: str,
                remote: str | None) -> bool:
    """True when ``exclude_repos`` names this repository.

    An entry matches the repository's root path (``~`` expanded, shell globs
    allowed, or any folder above it), its id (``amigo feedback stats`` shows
    ids) or its remote URL (globs allowed).
    """
    entries = list(getattr(settings, "exclude_repos", None) or [])
    if not entries:
        return False
    root = repo_root.resolve() if repo_root is not None else None
    for raw in entries:
        entry = str(raw).strip()
        if not entry:
            continue
        if entry == repo_id:
            return True
        if remote and (entry == remote or fnmatch.fnmatchcase(remote, entry)):
            return True
        if root is not None:
            expanded = os.path.expandvars(os.path.expanduser(entry))
            if fnmatch.fnmatchcase(str(root), expanded):
                return True
            try:
                target = Path(expanded).resolve()
            except (OSError, RuntimeError):
                continue
            if root == target or target in root.parents:
                return True
    return False
