"""The files the tree and the finder offer: what git tracks plus untracked, not-ignored files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"})


def list_repo_files(root: Path) -> list[str]:
    """Repository-relative paths (forward slashes), sorted; one ``git ls-files`` call in a work tree.

    Outside git (or when git fails) the folder is walked, skipping the usual
    tool folders and never following symlinked folders.
    """
    paths = _git_files(root) if (root / ".git").exists() else None
    if paths is None:
        paths = _walk(root)
    return sorted(set(paths))


def _git_files(root: Path) -> list[str] | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "-c", "core.quotepath=off", "ls-files", "-z",
             "--cached", "--others", "--exclude-standard"],
            capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return [raw.decode("utf-8", "surrogateescape") for raw in out.stdout.split(b"\0") if raw]


def _walk(root: Path) -> list[str]:
    paths: list[str] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        paths.extend(prefix + name for name in files)
    return paths


def build_tree(paths: list[str]) -> dict[str, dict | None]:
    """Nest paths into folders: ``{"src": {"a.py": None}, "README.md": None}`` (None = a file)."""
    tree: dict[str, dict | None] = {}
    for path in paths:
        node = tree
        *folders, name = path.split("/")
        for folder in folders:
            child = node.get(folder)
            if not isinstance(child, dict):
                child = node[folder] = {}
            node = child
        node.setdefault(name, None)
    return tree
