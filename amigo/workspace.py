"""The person's files: read safely, write atomically, commit narrowly, undo exactly.

Safety rules this module enforces for every front end:

* A change applies only to the bytes it was computed from (SHA-256), else it
  is refused as stale: nothing the person typed meanwhile is overwritten.
* Writes go to a temporary file (beside the undo journal when that is on the
  same file system, so a kill leaves nothing in ``git status``; else in the
  file's folder), then ``os.replace``: a crash leaves either the old or the
  new file, never half of one. Mode, encoding (the UTF-8 BOM included) and newline style are
  kept, because the text carries its own BOM and line endings (amigo.edits
  keeps both) and is encoded back unchanged.
* Paths outside the repository, inside ``.git/`` (or any git directory: a
  bare repository, ``--separate-git-dir``, ``GIT_DIR``) or through a symlink
  that leaves it are refused; without a work tree nothing is edited.
* Check-and-replace is atomic across processes: every write and undo holds a
  lock per repository and re-checks the bytes under it, so two front ends
  applying at once never lose one another's change.
* A symlink inside the repository is edited through (its target is written,
  the link stays a link); a file with several hard links is refused, because
  a rename would silently split them.
* Commits name exactly the edited files (never ``git add -A``); nothing is
  ever reset. Undo restores the exact previous bytes from a journal kept
  under ``$XDG_STATE_HOME/amigo`` (never inside the repository).
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator, Sequence

from amigo.errors import InputError, RefusedError, StaleError
from amigo.events import FileChange
from amigo.filetypes import looks_binary
from amigo.paths import repo_relpath
from amigo.xdg import state_dir

LOCK_TIMEOUT_S = 30.0
TEMP_SUFFIX = ".amigo-tmp"
# ".NAME.RANDOM.amigo-tmp": what _write_temp names its files (and all that cleaning removes).
_TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}" + re.escape(TEMP_SUFFIX) + "$")


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


@dataclass(frozen=True)
class _Write:
    """One planned file write: where it really goes and what to put back on undo."""

    rel: str  # repository-relative path of the real file (a link's target, not the link)
    before: bytes | None
    after: bytes
    mode: int | None


@dataclass(frozen=True)
class GitLayout:
    """Where git keeps its own files for a folder, as git itself reports it.

    Asking git (rather than looking for ``.git``) covers every layout: bare
    repositories, ``--separate-git-dir``, ``GIT_DIR``/``GIT_WORK_TREE`` and
    linked worktrees.
    """

    git_dir: Path
    common_dir: Path
    bare: bool
    inside_git_dir: bool
    top: Path | None  # the work tree's top folder; None without a work tree


def _state_dir() -> Path:
    return state_dir()


def git_layout(folder: Path) -> GitLayout | None:
    """The git layout around ``folder`` (None outside any repository or without git).

    One ``git rev-parse``: without a work tree ``--show-toplevel`` fails last,
    after the other answers were printed, which is how bare repositories show.
    """
    try:
        import git  # GitPython; a machine without git simply has no layouts
    except ImportError:
        return None
    try:
        _, out, _ = git.Git(str(folder)).execute(
            ["git", "rev-parse", "--is-bare-repository", "--is-inside-git-dir", "--absolute-git-dir",
             "--git-common-dir", "--show-toplevel"], with_extended_output=True, with_exceptions=False)
    except (git.GitCommandError, OSError):
        return None
    lines = out.splitlines()
    if len(lines) < 4:
        return None
    bare, inside = lines[0] == "true", lines[1] == "true"
    common = Path(lines[3])
    common = (common if common.is_absolute() else folder / common).resolve()
    top = Path(lines[4]).resolve() if len(lines) > 4 and not bare and not inside else None
    return GitLayout(Path(lines[2]).resolve(), common, bare, inside, top)


def looks_like_git_dir(folder: Path) -> bool:
    """True for a folder git would take for a repository's own (HEAD, objects/, refs/)."""
    return (folder / "HEAD").is_file() and (folder / "objects").is_dir() and (folder / "refs").is_dir()


def _no_work_tree(folder: Path, layout: GitLayout | None) -> str | None:
    """Why ``folder`` has no work tree Amigo may edit (None when it has one, or is a plain folder)."""
    if layout is not None and layout.bare:
        return (f"{folder} is in a bare git repository ({layout.git_dir}): it has no work tree, "
                "so there is nothing to edit; run Amigo in a checkout (git clone or git worktree add)")
    if layout is not None and layout.inside_git_dir:
        return (f"{folder} is inside git's own folder ({layout.git_dir}); Amigo never edits git's "
                "files; run it in the work tree")
    for candidate in (folder, *folder.parents):
        if looks_like_git_dir(candidate):
            return (f"{folder} is inside a git directory ({candidate}); Amigo never edits git's "
                    "files; run it in the work tree")
    return None


def _repo_root(folder: Path, layout: GitLayout | None) -> Path | None:
    """The work tree's top for ``folder`` from its layout (without git: the nearest ``.git``)."""
    if layout is not None:
        return layout.top
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def find_repo_root(start: Path) -> Path | None:
    """The top of the git work tree containing ``start``, or None outside git (or without a work tree)."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    return _repo_root(here, git_layout(here) if here.is_dir() else None)


NAME_MAX_BYTES = 255  # the longest file name Linux file systems take (ext4, xfs, btrfs, tmpfs)


def _check_name_lengths(path: str) -> None:
    """Refuse a path with a name the file system cannot hold, naming it (instead of an OSError later)."""
    for part in path.replace("\\", "/").split("/"):
        size = len(part.encode("utf-8", "surrogateescape"))
        if size > NAME_MAX_BYTES:
            raise InputError(f"{part[:40]}...: a file name of {size} bytes; file systems allow at most "
                             f"{NAME_MAX_BYTES}, so pick a shorter name")


def _default_mode() -> int:
    """The mode a new file gets from this process's umask (0o666 masked), read without changing it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc: the classic read (set and restore)
    os.umask(mask)
    return 0o666 & ~mask


class Workspace:
    """A folder Amigo edits: a git work tree, or a plain folder (no commit then)."""

    def __init__(self, root: Path | str, max_file_bytes: int = 1024 * 1024,
                 layout: GitLayout | None = None) -> None:
        root_path = Path(root).resolve()
        if not root_path.is_dir():
            raise InputError(f"{root}: not a folder; run Amigo inside your repository or pass --repo")
        if layout is None or layout.top != root_path:  # a layout found for a folder of this tree is this one's
            layout = git_layout(root_path)
        refusal = _no_work_tree(root_path, layout)
        if refusal:
            raise RefusedError(refusal)
        self.root = root_path
        self.max_file_bytes = max_file_bytes
        # git's own folders, wherever this layout keeps them (inside the tree too, e.g. GIT_DIR=meta)
        self.git_dirs: tuple[Path, ...] = (layout.git_dir, layout.common_dir) if layout else ()
        self.is_git = layout.top == root_path if layout else (root_path / ".git").exists()
        journal_key = hashlib.sha1(str(self.root).encode()).hexdigest()[:16]
        self.journal_path = _state_dir() / "undo" / f"{journal_key}.jsonl"
        self.lock_path = self.journal_path.with_suffix(".lock")
        self.temp_dir = self.journal_path.with_suffix(".tmp.d")  # this repository's write temporaries

    @classmethod
    def discover(cls, start: Path | str, max_file_bytes: int = 1024 * 1024) -> "Workspace":
        """The git work tree around ``start``, else ``start`` itself (a plain folder)."""
        start_path = Path(start).resolve()
        folder = start_path if start_path.is_dir() else start_path.parent
        layout = git_layout(folder) if folder.is_dir() else None
        return cls(_repo_root(folder, layout) or folder, max_file_bytes=max_file_bytes, layout=layout)

    # -- paths ------------------------------------------------------------------

    def relpath(self, path: Path | str) -> str:
        """Normalise ``path`` (absolute, or relative to the root) to a safe relative path.

        Refuses what would leave the repository: ``..``, absolute paths
        elsewhere, ``.git/``, any other git directory (``GIT_DIR``, a separate
        or bare git dir inside the tree) and symlinks that point outside. The
        general rule lives in :func:`amigo.paths.repo_relpath`, shared with what
        is read into prompts; the git layouts of this repository are checked here.
        """
        _check_name_lengths(str(path))
        rel = repo_relpath(self.root, path)
        self._refuse_git_dir(path, Path(os.path.realpath(self.root / rel)))
        return rel

    def _refuse_git_dir(self, path: Path | str, real: Path) -> None:
        """Refuse ``real`` when it lies in a git directory, whatever that directory is called."""
        for git_dir in self.git_dirs:
            if real == git_dir or git_dir in real.parents:
                raise RefusedError(f"{path}: inside git's own folder {git_dir}; Amigo never edits git's files")
        folder = real.parent
        while folder != self.root and self.root in folder.parents:
            if looks_like_git_dir(folder):
                raise RefusedError(f"{path}: inside a git directory ({folder.relative_to(self.root)}/); "
                                   "Amigo never edits git's files")
            folder = folder.parent

    def abspath(self, rel: str) -> Path:
        return self.root / self.relpath(rel)

    def real_relpath(self, path: Path | str) -> str:
        """The repository-relative path of the file ``path`` really names (a link's target)."""
        rel = self.relpath(path)
        real = Path(os.path.realpath(self.root / rel))
        return PurePosixPath(*real.relative_to(self.root).parts).as_posix()

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
        if looks_binary(data):
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

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold this repository's write lock (every apply and undo that writes files takes it: the
        CLI's and the TUI's; the editor applies to its own buffers, checked by document version).

        The lock is an ``flock`` on a file beside the undo journal, so it is
        released by the kernel when a holder dies, even by kill -9.
        """
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise RefusedError(f"cannot create the write lock {self.lock_path} ({exc.strerror}); nothing was "
                               "changed; make that folder writable or point XDG_STATE_HOME elsewhere") from None
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RefusedError(
                            f"another Amigo process has been writing in {self.root} for over "
                            f"{LOCK_TIMEOUT_S:.0f} s (lock {self.lock_path}); nothing was changed; try again"
                        ) from None
                    time.sleep(0.005)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def check_fresh(self, changes: Iterable[FileChange]) -> None:
        """Raise StaleError when any file no longer has the bytes a change was computed from."""
        for change in changes:
            rel = self.relpath(change.path)
            now = self.current_sha(rel)
            if now != change.base_sha256:
                if change.base_sha256 is None:
                    message = f"{rel}: was created meanwhile; the proposal is stale, ask again"
                elif now is None:
                    message = f"{rel}: was deleted meanwhile; the proposal is stale, ask again"
                else:
                    message = (f"{rel}: changed on disk since the proposal was made; it is stale and was not "
                               "applied (your changes are kept); ask again")
                raise StaleError(message, rel)

    def check_writable(self, path: str, size: int) -> None:
        """Refuse, before anything is shown or written, a result Amigo could not write safely.

        ``size`` is the result's length in bytes. A file with several hard
        links is refused: an atomic rename gives the name a new inode, and the
        other links would silently keep the old text.
        """
        rel = self.relpath(path)
        if size > self.max_file_bytes:
            raise RefusedError(f"{rel}: the result would be {size:,} bytes, over the "
                               f"{self.max_file_bytes:,}-byte limit (max_file_bytes); nothing was changed")
        target = Path(os.path.realpath(self.root / rel))
        if target.is_file() and target.stat().st_nlink > 1:
            raise RefusedError(
                f"{rel}: has {target.stat().st_nlink} hard links; replacing it atomically would split them "
                "(the other names would keep the old text), so Amigo does not edit it; make it a single "
                "file or a symlink, or edit it by hand"
            )

    def _submodule_of(self, rel: str) -> str | None:
        """The nested repository (submodule) holding ``rel``, or None when it is this repository's."""
        folder = (self.root / rel).parent
        while folder != self.root and self.root in folder.parents:
            if (folder / ".git").exists():
                return folder.relative_to(self.root).as_posix()
            folder = folder.parent
        return None

    def check_can_commit(self, paths: Sequence[str] = ()) -> None:
        """Refuse a commit request up front, before any file is touched."""
        if not self.is_git:
            raise RefusedError(f"{self.root} is not a git repository: cannot commit (apply without --commit)")
        for rel in paths:
            sub = self._submodule_of(rel)
            if sub:
                raise RefusedError(
                    f"{rel} is inside the submodule {sub}, which this repository cannot commit; "
                    f"apply without --commit and commit in {sub}"
                )
        git_dir = self.git_dirs[0] if self.git_dirs else self.root / ".git"
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

        Under the repository's lock every file is checked fresh (so a change
        applied by another process meanwhile makes this one stale instead of
        being overwritten), then all are written; on a failed write or commit
        the files already replaced are restored, so the change lands whole or
        not at all.
        """
        with self.locked():
            self.check_fresh(changes)
            planned = self._plan(changes, texts or {})
            paths = tuple(w.rel for w in planned)
            if commit_message is not None:
                self.check_can_commit(paths)
            created_dirs = self._write_all(planned)
            commit = None
            if commit_message is not None:
                try:
                    commit = self.commit(paths, commit_message)
                except RefusedError as exc:
                    self._roll_back(planned, created_dirs)
                    raise RefusedError(f"{exc}; the files were restored, nothing was changed") from None
            journal_id = self._journal_append(planned, created_dirs, commit, proposal_id)
        return ApplyResult(paths, commit, journal_id)

    def _plan(self, changes: Sequence[FileChange], texts: dict[str, str]) -> list[_Write]:
        """Each change as a write to its real file; refuses links that would merge two changes."""
        planned: list[_Write] = []
        seen: dict[str, str] = {}
        for change in changes:
            rel = self.relpath(change.path)
            after = texts.get(change.path, change.new_text).encode("utf-8")
            self.check_writable(rel, len(after))
            real = self.real_relpath(rel)
            if real in seen:
                raise RefusedError(f"{seen[real]} and {rel} are the same file ({real}, through a link); "
                                   "this proposal edits it twice, so nothing was applied; ask again")
            seen[real] = rel
            full = self.root / real
            before = full.read_bytes() if full.exists() else None
            mode = stat.S_IMODE(full.stat().st_mode) if full.exists() else None
            planned.append(_Write(real, before, after, mode))
        return planned

    def _write_all(self, planned: Sequence[_Write]) -> list[str]:
        """Write every planned file; returns the folders created (outermost first). All or nothing."""
        created: list[str] = []
        done: list[_Write] = []
        self._clean_stale_temps(self.temp_dir)
        try:
            for w in planned:
                created.extend(self._make_parents(w.rel))
                self._clean_stale_temps((self.root / w.rel).parent)
                self._atomic_write(w.rel, w.after, w.mode)
                done.append(w)
        except OSError as exc:
            self._roll_back(done, created)
            raise RefusedError(f"writing {w.rel} failed ({exc.strerror}); nothing was changed") from None
        return created

    def _roll_back(self, done: Sequence[_Write], created_dirs: Sequence[str]) -> None:
        for w in reversed(done):
            self._restore(w.rel, w.before, w.mode)
        self._remove_dirs(created_dirs)

    def _make_parents(self, rel: str) -> list[str]:
        """Create the missing folders above ``rel``; returns them (repository-relative, outermost first)."""
        missing = []
        folder = (self.root / rel).parent
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            folder.mkdir()
        return [f.relative_to(self.root).as_posix() for f in reversed(missing)]

    def _remove_dirs(self, created_dirs: Sequence[str]) -> list[str]:
        """Remove folders Amigo created, innermost first, when they are empty; returns those kept."""
        kept = []
        for rel in reversed(created_dirs):
            try:
                (self.root / rel).rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                kept.append(rel)  # something else lives there now: it stays
        return kept

    def _clean_stale_temps(self, folder: Path) -> None:
        """Remove temporaries a killed Amigo left in ``folder`` (safe: the caller holds the lock)."""
        try:
            names = [n for n in os.listdir(folder) if n.endswith(TEMP_SUFFIX) and _TEMP_RE.match(n)]
        except OSError:
            return
        for name in names:
            try:
                (folder / name).unlink()
            except OSError:
                pass

    def _atomic_write(self, rel: str, data: bytes, mode: int | None) -> None:
        """Replace ``rel`` by ``data`` in one rename, from this repository's temporary folder when
        it is on the same file system (else, or when the rename says otherwise, from the file's own)."""
        full = self.root / rel
        mode = _default_mode() if mode is None else mode
        for folder in dict.fromkeys((self._temp_folder(full.parent), full.parent)):
            tmp = _write_temp(folder, full.name, data, mode)
            try:
                os.replace(tmp, full)
                return
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                if exc.errno != errno.EXDEV or folder == full.parent:
                    raise
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

    def _temp_folder(self, folder: Path) -> Path:
        """``temp_dir`` when a rename from it into ``folder`` can work (same device), else ``folder``."""
        try:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
            if self.temp_dir.stat().st_dev == folder.stat().st_dev:
                return self.temp_dir
        except OSError:
            pass
        return folder

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
        self.check_can_commit(paths)
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

    def _committed_as_is(self, commit: str | None, paths: Sequence[str]) -> bool:
        """True when ``commit`` is in HEAD's history and HEAD still holds ``paths`` as the work tree does.

        Then an undo is committed too (a later commit of other files does not
        stop it); history is never rewritten.
        """
        if not commit or not self.is_git or self.head() is None:
            return False
        try:
            self._git("merge-base", "--is-ancestor", commit, "HEAD")
        except RefusedError:
            return False
        return not self._git("status", "--porcelain", "--untracked-files=all", "--", *paths).strip()

    # -- undo -------------------------------------------------------------------

    def _journal_append(self, planned: Sequence[_Write], created_dirs: Sequence[str],
                        commit: str | None, proposal_id: str | None) -> str:
        journal_id = f"{time.time_ns():x}"
        entry = {
            "id": journal_id,
            "proposal_id": proposal_id,
            "time": time.time(),
            "commit": commit,
            "created_dirs": list(created_dirs),
            "files": [
                {
                    "path": w.rel,
                    "before": None if w.before is None else base64.b64encode(w.before).decode("ascii"),
                    "after_sha256": sha256_bytes(w.after),
                    "mode": w.mode,
                }
                for w in planned
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

        Files it created are removed, and so are the folders it created for
        them (when nothing else was put there). A change that Amigo committed
        and that is still in HEAD as committed is undone with a new commit;
        history is never rewritten.
        """
        with self.locked():
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
            paths = tuple(f["path"] for f in entry["files"])
            commit_again = self._committed_as_is(entry.get("commit"), paths)
            if commit_again:
                self.check_can_commit(paths)
            self._clean_stale_temps(self.temp_dir)
            for f in entry["files"]:
                before = None if f["before"] is None else base64.b64decode(f["before"])
                self._clean_stale_temps((self.root / f["path"]).parent)
                self._restore(f["path"], before, f.get("mode"))
            self._remove_dirs(entry.get("created_dirs", []))
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


def _write_temp(folder: Path, name: str, data: bytes, mode: int) -> Path:
    """``data`` in a new file ``.NAME.RANDOM.amigo-tmp`` in ``folder``, fsynced, with ``mode``."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=TEMP_SUFFIX, dir=folder)
    try:
        _fill(fd, data, mode)
    except BaseException:
        os.close(fd)
        os.unlink(tmp_name)
        raise
    os.close(fd)
    return Path(tmp_name)


def _fill(fd: int, data: bytes, mode: int) -> None:
    """Write all of ``data`` to ``fd``, set ``mode`` and flush it to the disk."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fchmod(fd, mode)
    os.fsync(fd)
