"""The file tree's shape: repository paths nested into folders.

The list itself comes from the engine (``amigo.repofiles.list_repo_files``): a
front end never asks git.
"""

from __future__ import annotations


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
