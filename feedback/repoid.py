"""A repository's identity that survives moving or recloning it, and says nothing of its path.

The id is a hash of the repository's root commit (the same for every clone),
else of its ``origin`` remote URL, else ``"unknown"`` (a repository with no
commit and no remote: its records cannot be followed up).
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

UNKNOWN = "unknown"


@dataclass(frozen=True)
class RepoIdentity:
    id: str
    remote: str | None


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def identify(repo_root: Path | None) -> RepoIdentity:
    """The id of the repository at ``repo_root`` (``unknown`` outside a git repository)."""
    if repo_root is None:
        return RepoIdentity(UNKNOWN, None)
    remote = _git(repo_root, "config", "--get", "remote.origin.url") or None
    roots = _git(repo_root, "rev-list", "--max-parents=0", "HEAD")
    if roots:
        first = sorted(roots.split())[0]
        return RepoIdentity("c" + hashlib.sha256(first.encode()).hexdigest()[:16], remote)
    if remote:
        return RepoIdentity("r" + hashlib.sha256(remote.encode()).hexdigest()[:16], remote)
    return RepoIdentity(UNKNOWN, None)


def head_commit(repo_root: Path) -> tuple[str, float] | None:
    """(sha, commit time) of HEAD, or None when there is no commit."""
    out = _git(repo_root, "log", "-1", "--format=%H %ct", "HEAD")
    if not out:
        return None
    sha, _, when = out.partition(" ")
    return sha, float(when)
