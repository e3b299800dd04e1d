"""Which files of a repository are worth indexing, listed fast.

In a git work tree the list comes from ``amigo.repofiles.git_ls_files`` (tracked
plus untracked-not-ignored), so even 100k files list in well under a second.
Outside git we walk the folder ourselves, honouring a top-level
``.gitignore`` and never following symlinked folders (no loops).
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from amigo.context.languages import tag_language
from amigo.repofiles import git_ls_files

MAX_FILE_BYTES = 1_000_000
MINIFIED_LINE_CHARS = 2_000
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", "third-party",
    "__pycache__", ".venv", "venv", "site-packages", ".tox", ".mypy_cache",
    ".pytest_cache", "dist", "build", "target", ".next", ".gradle", "bower_components",
})
GENERATED_SUFFIXES = (".min.js", ".min.css", "_pb2.py", "_pb2_grpc.py", ".pb.go",
                      ".generated.ts", ".generated.js", ".bundle.js", "-lock.json")


@dataclass
class Listing:
    """Candidate source files (repo-relative, forward slashes) and what was left out.

    ``stamp`` holds the mtimes of the folders the listing came from (and of git's
    index and ignore files): while none of them changes, no file was added,
    removed or newly ignored, so the listing can be reused without asking git.
    """

    paths: list[str]
    is_git: bool
    skipped: dict[str, list[str]] = field(default_factory=dict)
    stamp: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, path: str) -> None:
        self.skipped.setdefault(reason, []).append(path)

    def folders(self) -> list[str]:
        """The folders the listing came from ("" is the root): those ``stamp`` holds."""
        return [name for name in self.stamp if name != ".gitignore" and not name.startswith(".git/")]


def git_toplevel(folder: Path) -> Path | None:
    """The work tree root containing ``folder``, or None outside git (remembered per folder)."""
    key = str(folder)
    if key not in _TOPLEVELS:
        _TOPLEVELS[key] = _ask_toplevel(folder)
    return _TOPLEVELS[key]


_TOPLEVELS: dict[str, Path | None] = {}


def _ask_toplevel(folder: Path) -> Path | None:
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return Path(out.stdout.strip())


def is_vendored(path: str) -> bool:
    """True for paths inside vendored/generated trees or with generated names."""
    parts = path.split("/")
    if any(part in SKIP_DIRS for part in parts[:-1]):
        return True
    return parts[-1].endswith(GENERATED_SUFFIXES)


def _ignore_patterns(root: Path) -> list[str]:
    try:
        text = (root / ".gitignore").read_text("utf-8", "replace")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "!"))]


def _ignored(path: str, is_dir: bool, patterns: list[str]) -> bool:
    """A small subset of gitignore: globs on the name or on the anchored path."""
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        dir_only = pattern.endswith("/")
        pat = pattern.rstrip("/")
        if dir_only and not is_dir:
            continue
        if pat.startswith("/") or "/" in pat:
            if fnmatch.fnmatch(path, pat.lstrip("/")) or path.startswith(pat.lstrip("/") + "/"):
                return True
        elif fnmatch.fnmatch(name, pat):
            return True
    return False


def _walk_paths(root: Path, listing: Listing, walked: set[str]) -> list[str]:
    patterns = _ignore_patterns(root)
    paths: list[str] = []

    def onerror(err: OSError) -> None:
        where = os.path.relpath(err.filename, root) if err.filename else "?"
        listing.skip("unreadable folder", where)

    for folder, dirs, files in os.walk(root, onerror=onerror, followlinks=False):
        rel = os.path.relpath(folder, root)
        rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        walked.add(rel.rstrip("/"))
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS
                         and not _ignored(rel + d, True, patterns))
        for name in sorted(files):
            path = rel + name
            if not _ignored(path, False, patterns):
                paths.append(path)
    return paths


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _stamp(root: Path, paths: list[str], extra_dirs: set[str]) -> dict[str, int]:
    folders = set(extra_dirs) | {""}
    for path in paths:
        cut = path.rfind("/")
        while cut > 0:
            folder = path[:cut]
            if folder in folders:
                break
            folders.add(folder)
            cut = folder.rfind("/")
    base = str(root)
    stamp = {folder: _mtime(os.path.join(base, folder)) for folder in folders}
    git_dir = os.path.join(base, ".git")
    for name in ("index", "info/exclude", "HEAD"):
        stamp[f".git/{name}"] = _mtime(os.path.join(git_dir, name))
    stamp[".gitignore"] = _mtime(os.path.join(base, ".gitignore"))
    return stamp


def still_valid(root: Path, listing: Listing) -> bool:
    """True while nothing the listing depends on has changed on disk."""
    base = str(root)
    for name, mtime in listing.stamp.items():
        if _mtime(os.path.join(base, name)) != mtime:
            return False
    return bool(listing.stamp)


def list_files(root: Path) -> Listing:
    """Source files under ``root`` that a grammar can parse, vendored trees left out."""
    paths = git_ls_files(root) if git_toplevel(root) is not None else None
    listing = Listing([], is_git=paths is not None)
    walked: set[str] = set()
    if paths is None:
        paths = _walk_paths(root, listing, walked)
    listing.stamp = _stamp(root, paths, walked)
    for path in paths:
        if tag_language(path) is None:
            continue
        if is_vendored(path):
            listing.skip("vendored or generated", path)
            continue
        listing.paths.append(path)
    return listing


def looks_minified(data: bytes) -> bool:
    """Very long lines on average: minified or generated, useless as context."""
    if len(data) < MINIFIED_LINE_CHARS:
        return False
    lines = data.count(b"\n") + 1
    if len(data) / lines > 400:
        return True
    longest = 20 * MINIFIED_LINE_CHARS  # a shorter file cannot hold a longer line: no split
    return len(data) > longest and max(map(len, data[:200_000].split(b"\n"))) > longest
