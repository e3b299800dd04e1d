"""The person's files: read safely, write atomically, commit narrowly, undo exactly.

Safety rules this module enforces for every front end:

* A change applies only to the bytes it was computed from (SHA-256), else it
  is refused as stale: nothing the person typed meanwhile is overwritten.
* Writes go to a temporary file in the same folder, then ``os.replace``: a
  crash leaves either the old or the new file, never half of one. Mode,
  encoding (the UTF-8 BOM included) and newline style are kept, because the
  text carries its own line endings and is encoded back unchanged.
* Paths outside the repository, inside ``.git/`` or through a symlink that
  leaves it are refused.
* Commits name exactly the edited files (never ``git add -A``); nothing is
  ever reset. Undo restores the exact previous bytes from a journal kept
  under ``$XDG_STATE_HOME/amigo`` (never inside the repository).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from amigo.errors import InputError, RefusedError
from amigo.events import FileChange
from amigo.paths import repo_relpath

BINARY_SNIFF_BYTES = 8192


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


@dataclass(frozen=True)
class FileSnapshot:
    """A file as read: its text (line endings as on disk) and the hash of its bytes."""

    path: str  # repository-relative, forward slashes
    text: str
    sha256: str
    mode: int | None


@dataclass(frozen=True)
class ApplyResult:
    paths: tuple[str, ...]
    commit: str | None
    journal_id: str


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "amigo"


def find_repo_root(start: Path) -> Path | None:
    """The top of the git work tree containing ``start``, or None outside git."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


class Workspace:
    """A folder Amigo edits: a git work tree, or a plain folder (no commit then)."""

    def __init__(self, root: Path | str, max_file_bytes: int = 1024 * 1024) -> None:
        root_path = Path(root).resolve()
        if not root_path.is_dir():
            raise InputError(f"{root}: not a folder; run Amigo inside your repository or pass --repo")
        self.root = root_path
        self.max_file_bytes = max_file_bytes
        self.is_git = (self.root / ".git").exists()
        journal_key = hashlib.sha1(str(self.root).encode()).hexdigest()[:16]
        self.journal_path = _state_dir() / "undo" / f"{journal_key}.jsonl"

    @classmethod
    def discover(cls, start: Path | str, max_file_bytes: int = 1024 * 1024) -> "Workspace":
        """The git work tree around ``start``, else ``start`` itself (a plain folder)."""
        start_path = Path(start).resolve()
        root = find_repo_root(start_path)
        if root is None:
            root = start_path if start_path.is_dir() else start_path.parent
        return cls(root, max_file_bytes=max_file_bytes)

    # -- paths ------------------------------------------------------------------

    def relpath(self, path: Path | str) -> str:
        """Normalise ``path`` (absolute, or relative to the root) to a safe relative path.

        Refuses what would leave the repository: ``..``, absolute paths
        elsewhere, ``.git/`` and symlinks that point outside. The rule lives
        in :func:`amigo.paths.repo_relpath`, shared with what is read into prompts.
        """
        return repo_relpath(self.root, path)

    def abspath(self, rel: str) -> Path:
        return self.root / self.relpath(rel)

    # -- reading ----------------------------------------------------------------

    def read(self, path: Path | str) -> FileSnapshot:
        """Read a text file the model may edit; refuse binary, huge, non-UTF-8 or missing files."""
        rel = self.relpath(path)
        full = self.root / rel
        if not full.exists():
            raise InputError(f"{rel}: no such file (create it by asking for a new file, or check the path)")
        if full.is_dir():
            raise InputError(f"{rel}: is a folder; give a file")
        size = full.stat().st_size
        if size > self.max_file_bytes:
            raise InputError(
                f"{rel}: {size:,} bytes is over the {self.max_file_bytes:,}-byte limit; "
                "select a smaller file or raise max_file_bytes"
            )
        try:
            data = full.read_bytes()
        except OSError as exc:
            raise InputError(f"{rel}: cannot be read ({exc.strerror})") from None
        return self._snapshot(rel, data, full.stat().st_mode)

    def _snapshot(self, rel: str, data: bytes, mode: int | None) -> FileSnapshot:
        if b"\0" in data[:BINARY_SNIFF_BYTES]:
            raise InputError(f"{rel}: a binary file; Amigo edits text files only")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{rel}: not UTF-8 (byte {exc.start}); convert it to UTF-8 to edit it with Amigo"
            ) from None
        return FileSnapshot(rel, text, sha256_bytes(data), mode)

    def current_sha(self, rel: str) -> str | None:
        full = self.root / rel
        if not full.exists():
            return None
        return sha256_bytes(full.read_bytes())

    # -- writing ----------------------------------------------------------------

    def check_fresh(self, changes: Iterable[FileChange]) -> None:
        """Raise RefusedError when any file no longer has the bytes a change was computed from."""
        for change in changes:
            rel = self.relpath(change.path)
            now = self.current_sha(rel)
            if now != change.base_sha256:
                if change.base_sha256 is None:
                    raise RefusedError(f"{rel}: was created meanwhile; the proposal is stale, ask again")
                if now is None:
                    raise RefusedError(f"{rel}: was deleted meanwhile; the proposal is stale, ask again")
                raise RefusedError(
                    f"{rel}: changed on disk since the proposal was made; it is stale and was not applied "
                    "(your changes are kept); ask again"
                )

    def check_can_commit(self) -> None:
        """Refuse a commit request up front, before any file is touched."""
        if not self.is_git:
            raise RefusedError(f"{self.root} is not a git repository: cannot commit (apply without --commit)")
        git_dir = self.root / ".git"
        for marker, what in (("MERGE_HEAD", "a merge"), ("REBASE_HEAD", "a rebase"),
                             ("CHERRY_PICK_HEAD", "a cherry-pick"), ("rebase-merge", "a rebase"),
                             ("rebase-apply", "a rebase or am")):
            if (git_dir / marker).exists():
                raise RefusedError(f"{what} is in progress: finish or abort it first, or apply without --commit")
        staged = self._git("diff", "--cached", "--name-only")
        if staged.strip():
            raise RefusedError(
                "the git index has staged changes (" + ", ".join(staged.split()[:5]) + "): "
                "commit or unstage them first, or apply without --commit"
            )

    def apply(self, changes: Sequence[FileChange], texts: dict[str, str] | None = None,
              commit_message: str | None = None, proposal_id: str | None = None) -> ApplyResult:
        """Write ``changes`` (or ``texts[path]`` when given: a per-hunk selection) atomically.

        All files are checked fresh first; then all are written; on a failed
        write the files already replaced are restored, so the change lands
        whole or not at all.
        """
        if commit_message is not None:
            self.check_can_commit()
        self.check_fresh(changes)
        texts = texts or {}
        planned: list[tuple[str, bytes | None, bytes, int | None]] = []
        for change in changes:
            rel = self.relpath(change.path)
            full = self.root / rel
            before = full.read_bytes() if full.exists() else None
            mode = stat.S_IMODE(full.stat().st_mode) if full.exists() else None
            after = texts.get(change.path, change.new_text).encode("utf-8")
            if len(after) > self.max_file_bytes:
                raise RefusedError(f"{rel}: the result would be over the {self.max_file_bytes:,}-byte limit")
            planned.append((rel, before, after, mode))
        done: list[tuple[str, bytes | None, int | None]] = []
        try:
            for rel, before, after, mode in planned:
                self._atomic_write(rel, after, mode)
                done.append((rel, before, mode))
        except OSError as exc:
            for rel, before, mode in reversed(done):
                self._restore(rel, before, mode)
            raise RefusedError(f"writing {rel} failed ({exc.strerror}); nothing was changed") from None
        commit = None
        paths = tuple(rel for rel, *_ in planned)
        if commit_message is not None:
            commit = self.commit(paths, commit_message)
        journal_id = self._journal_append(planned, commit, proposal_id)
        return ApplyResult(paths, commit, journal_id)

    def _atomic_write(self, rel: str, data: bytes, mode: int | None) -> None:
        full = self.root / rel
        full.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{full.name}.", suffix=".amigo-tmp", dir=full.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, full)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _restore(self, rel: str, before: bytes | None, mode: int | None) -> None:
        if before is None:
            (self.root / rel).unlink(missing_ok=True)
        else:
            self._atomic_write(rel, before, mode)

    # -- git --------------------------------------------------------------------

    def _git(self, *args: str) -> str:
        import git  # GitPython: imported here so that plain folders never need it

        try:
            return git.Git(str(self.root)).execute(["git", *args])
        except git.GitCommandError as exc:
            raise RefusedError(f"git {' '.join(args[:2])} failed: {str(exc.stderr).strip()[:300]}") from None

    def commit(self, paths: Sequence[str], message: str) -> str:
        """Commit exactly ``paths`` with ``message``; returns the new commit's sha."""
        self.check_can_commit()
        self._git("add", "--", *paths)
        self._git("commit", "--quiet", "--no-verify", "-m", message, "--", *paths)
        return self._git("rev-parse", "HEAD").strip()

    def head(self) -> str | None:
        if not self.is_git:
            return None
        try:
            return self._git("rev-parse", "--verify", "--quiet", "HEAD").strip() or None
        except RefusedError:
            return None

    def uncommitted_diff(self, max_chars: int = 20000) -> str:
        """``git diff HEAD`` of the work tree (empty outside git or before the first commit)."""
        if not self.is_git or self.head() is None:
            return ""
        return self._git("diff", "HEAD", "--no-color")[:max_chars]

    # -- undo -------------------------------------------------------------------

    def _journal_append(self, planned: Sequence[tuple[str, bytes | None, bytes, int | None]],
                        commit: str | None, proposal_id: str | None) -> str:
        journal_id = f"{time.time_ns():x}"
        entry = {
            "id": journal_id,
            "proposal_id": proposal_id,
            "time": time.time(),
            "commit": commit,
            "files": [
                {
                    "path": rel,
                    "before": None if before is None else base64.b64encode(before).decode("ascii"),
                    "after_sha256": sha256_bytes(after),
                    "mode": mode,
                }
                for rel, before, after, mode in planned
            ],
        }
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        with self.journal_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return journal_id

    def _journal(self) -> list[dict]:
        if not self.journal_path.exists():
            return []
        entries = []
        for line in self.journal_path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn last line from a crash: the entry never completed
        return entries

    def last_change(self) -> dict | None:
        entries = self._journal()
        return entries[-1] if entries else None

    def undo(self) -> tuple[str, ...]:
        """Restore the exact bytes from before the last Amigo change; refuse if touched since.

        A change that Amigo committed (and that is still HEAD) is undone with a
        new commit; history is never rewritten.
        """
        entries = self._journal()
        if not entries:
            raise RefusedError("nothing to undo: Amigo has made no change in this repository")
        entry = entries[-1]
        for f in entry["files"]:
            if self.current_sha(f["path"]) != f["after_sha256"]:
                raise RefusedError(
                    f"{f['path']}: changed after Amigo's edit; undo refused so your later work is kept "
                    "(use git to revert by hand)"
                )
        commit_again = bool(entry.get("commit")) and self.head() == entry.get("commit")
        if commit_again:
            self.check_can_commit()
        for f in entry["files"]:
            before = None if f["before"] is None else base64.b64decode(f["before"])
            self._restore(f["path"], before, f.get("mode"))
        paths = tuple(f["path"] for f in entry["files"])
        if commit_again:
            existing = [p for p in paths if (self.root / p).exists()]
            removed = [p for p in paths if not (self.root / p).exists()]
            if removed:
                self._git("rm", "--cached", "--quiet", "--", *removed)
            if existing:
                self._git("add", "--", *existing)
            self._git("commit", "--quiet", "--no-verify", "-m", f"Undo Amigo change {entry['commit'][:12]}")
        remaining = entries[:-1]
        tmp = self.journal_path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(e) + "\n" for e in remaining), encoding="utf-8")
        os.replace(tmp, self.journal_path)
        return paths
