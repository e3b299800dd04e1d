"""Which files a repository holds: the one place Amigo asks git for the list.

What git tracks plus untracked files it does not ignore, from one
``git ls-files -z`` call (100k files list in well under a second). The
context index filters it to parseable source, the check stage copies it, and
front ends show it (they ask here, never git themselves).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Tool and environment folders a walk outside git leaves out.
WALK_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"})


def git_ls_files(root: Path) -> list[str] | None:
    """Tracked and untracked, not ignored paths under the work tree ``root`` (repository-relative,
    forward slashes, in git's order, each once), or None when git is missing or fails.

    ``--no-optional-locks``: listing never takes git's index lock, which a person's own
    ``git commit`` at the same moment would otherwise trip over.
    """
    try:
        out = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), "-c", "core.quotepath=off", "ls-files", "-z",
             "--cached", "--others", "--exclude-standard"],
            capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    seen: set[str] = set()
    paths = []
    for raw in out.stdout.split(b"\0"):
        if raw:
            path = raw.decode("utf-8", "surrogateescape")
            if path not in seen:  # a path in conflict is listed once per stage
                seen.add(path)
                paths.append(path)
    return paths


def list_repo_files(root: Path) -> list[str]:
    """Every file a person would browse under ``root``: repository-relative, sorted.

    In a work tree, :func:`git_ls_files`; outside git (or when git fails) the
    folder is walked, skipping :data:`WALK_SKIP_DIRS` and never following
    symlinked folders.
    """
    paths = git_ls_files(root) if (root / ".git").exists() else None
    if paths is None:
        paths = _walk(root)
    return sorted(set(paths))


def _walk(root: Path) -> list[str]:
    paths: list[str] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if d not in WALK_SKIP_DIRS]
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        paths.extend(prefix + name for name in files)
    return paths
