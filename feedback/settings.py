"""Where the feedback settings come from, and where the database lives.

The settings object is ``amigo.config.FeedbackSettings`` (the ``[feedback]``
table of the one configuration); it is re-exported here for feedback's callers.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from amigo import xdg
from amigo.config import FeedbackSettings

__all__ = ["FeedbackSettings", "db_path", "is_excluded"]


def db_path(settings: FeedbackSettings | None) -> Path:
    """The database file: ``settings.db_path`` when set, else under the XDG data dir."""
    configured = settings.db_path if settings is not None else None
    if configured:
        return Path(os.path.expandvars(str(configured))).expanduser()
    return xdg.data_dir() / "feedback.db"


def is_excluded(settings: FeedbackSettings | None, repo_root: Path | None, repo_id: str,
                remote: str | None) -> bool:
    """True when ``exclude_repos`` names this repository.

    An entry matches the repository's root path (``~`` expanded, shell globs
    allowed, or any folder above it), its id (``amigo feedback stats`` shows
    ids) or its remote URL (globs allowed).
    """
    entries = list(settings.exclude_repos) if settings is not None else []
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
