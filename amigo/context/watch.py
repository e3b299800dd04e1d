"""Which indexed files changed since the last look, told by the kernel (Linux inotify).

Without it, "nothing changed" costs a ``stat`` of every source file and of every
folder on every request: about 1 ms per 200 files, and most of a warm request
in a large tree. With a watch on each listed folder, a request first reads the
events queued since the last one: none means nothing changed; a few content
changes mean only those files are looked at again. Anything the watch cannot
describe exactly (a folder created or removed, a ``.gitignore`` or git's index
changed, a lost watch, a queue overflow) sends the caller back to the full
check, which remains the source of truth.

The kernel queues an event before the writing call returns, so a change made
before a request is always seen by it. That holds for local filesystems only:
on network and FUSE filesystems another machine's writes make no event, so
the watch is used only where :data:`LOCAL_FILESYSTEMS` lists the tree's type.
``AMIGO_NO_WATCH=1`` turns it off.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from dataclasses import dataclass, field

from amigo.config import switch_on

# Filesystem types whose every change on this machine raises an inotify event.
LOCAL_FILESYSTEMS = frozenset({
    "ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "f2fs", "bcachefs",
    "jfs", "reiserfs", "ramfs",
})
# The git files the file listing depends on (see files.Listing.stamp).
GIT_NAMES = frozenset({"index", "HEAD"})


@dataclass
class Changes:
    """What the events since the last look say: ``full``, check every file; ``relist``,
    ask git for the file list again (an ignore file or git's index changed); ``paths``,
    the listed files written, created or removed."""

    full: bool = False
    relist: bool = False
    paths: set[str] = field(default_factory=set)


def _mounts(mountinfo: str | None) -> list[tuple[str, str]] | None:
    """(mount point, filesystem type) of every mount, from ``mountinfo`` (default: this
    process's /proc/self/mountinfo); None when it cannot be read."""
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
                mountinfo = handle.read()
        except OSError:
            return None
    mounts = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # \040 is a space
        mounts.append((point, right.split()[0]))
    return mounts


def filesystem_type(path: str, mountinfo: str | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (None when unknown): the deepest
    mount point above it in ``mountinfo`` (default: this process's /proc/self/mountinfo)."""
    mounts = _mounts(mountinfo)
    if mounts is None:
        return None
    path = os.path.realpath(path)
    best, best_type = "", None
    for point, kind in mounts:
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, best_type = point, kind
    return best_type


def filesystem_types_under(path: str, mountinfo: str | None = None) -> set[str | None]:
    """Types of the filesystem holding ``path`` and of every mount inside it (a network
    share mounted into a work tree makes no events for the other side's writes either)."""
    mounts = _mounts(mountinfo)
    if mounts is None:
        return {None}
    path = os.path.realpath(path)
    inside = {kind for point, kind in mounts if point.startswith(path.rstrip("/") + "/")}
    return inside | {filesystem_type(path, mountinfo)}


class TreeWatch:
    """Watches the folders of one file listing (create with :func:`watch_tree`)."""

    def __init__(self, root: str, inotify, flags) -> None:
        self.root = root
        self._inotify = inotify
        self._flags = flags
        self._folders: dict[int, str] = {}  # watch descriptor -> folder ("" is the root)
        self._git_wd: int | None = None
        self._git_info_wd: int | None = None
        self.restless = False  # the folders would not hold still while watched: check all once
        self.mask = (flags.MODIFY | flags.ATTRIB | flags.CLOSE_WRITE | flags.CREATE | flags.DELETE
                     | flags.MOVED_FROM | flags.MOVED_TO | flags.DELETE_SELF | flags.MOVE_SELF
                     | flags.ONLYDIR | flags.DONT_FOLLOW)

    def watch(self, folders: list[str]) -> None:
        """Watch ``folders`` (repository-relative) and git's own; OSError when the kernel
        refuses more watches. A folder gone meanwhile is skipped: its parent's event
        already asks for the full check."""
        for folder in folders:
            wd = self._add(os.path.join(self.root, folder))
            if wd is not None:
                self._folders[wd] = folder
        git_dir = os.path.join(self.root, ".git")
        if self._git_wd is None and os.path.isdir(git_dir):
            self._git_wd = self._add(git_dir)
        if self._git_info_wd is None and os.path.isdir(os.path.join(git_dir, "info")):
            self._git_info_wd = self._add(os.path.join(git_dir, "info"))  # info/exclude ignores files too

    def _add(self, path: str) -> int | None:
        try:
            return self._inotify.add_watch(path, self.mask)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise

    def _forget(self, wd: int) -> None:
        """A watch the kernel dropped (folder deleted) or that no longer names its folder (moved)."""
        self._folders.pop(wd, None)
        if wd == self._git_wd:
            self._git_wd = None
        if wd == self._git_info_wd:
            self._git_info_wd = None
        try:
            self._inotify.rm_watch(wd)
        except OSError:
            pass  # already gone

    def changes(self, is_source) -> Changes:
        """Drain the events queued since the last call. ``is_source(path)``: whether a
        path is one of the listed files (events on other files are left out)."""
        flags = self._flags
        out = Changes(full=self.restless)
        self.restless = False
        try:
            events = self._inotify.read(timeout=0)
        except OSError:
            out.full = True
            return out
        for event in events:
            if event.mask & flags.Q_OVERFLOW:
                out.full = True
                continue
            if event.mask & (flags.IGNORED | flags.DELETE_SELF | flags.MOVE_SELF):
                self._forget(event.wd)
                out.full = True
                continue
            if event.wd == self._git_wd:
                # git writes its index for `git add`, but also when `git diff` or
                # `git status` refresh its stat cache: the list of files rarely changes
                out.relist = out.relist or event.name in GIT_NAMES or event.name == "info"
                continue
            if event.wd == self._git_info_wd:
                out.relist = out.relist or event.name == "exclude"
                continue
            folder = self._folders.get(event.wd)
            if folder is None:
                continue
            if event.mask & flags.ISDIR:
                if event.mask & ~(flags.ISDIR | flags.ATTRIB | flags.MODIFY | flags.CLOSE_WRITE):
                    out.full = True  # a folder came, went or moved: the listing changes
                continue
            path = f"{folder}/{event.name}" if folder else event.name
            if event.name == ".gitignore":
                out.relist = True
            elif is_source(path):
                out.paths.add(path)
            elif event.mask & (flags.CREATE | flags.MOVED_TO | flags.DELETE | flags.MOVED_FROM):
                # a new or vanished file the listing does not have yet: it may be a
                # source file (created under another name and renamed, say)
                from amigo.context.languages import tag_language
                if tag_language(path) is not None:
                    out.relist = True
        return out

    def close(self) -> None:
        try:
            self._inotify.close()
        except OSError:
            pass


def watch_tree(root: str) -> TreeWatch | None:
    """A watch for ``root``, or None where one cannot be trusted or had: not Linux,
    a network or FUSE filesystem holding the tree or mounted inside it,
    ``AMIGO_NO_WATCH`` set, or inotify unavailable."""
    if sys.platform != "linux" or switch_on("AMIGO_NO_WATCH"):
        return None
    if not filesystem_types_under(root) <= LOCAL_FILESYSTEMS:
        return None
    try:
        from inotify_simple import INotify, flags
        inotify = INotify(nonblocking=True)
    except (ImportError, OSError):
        return None
    return TreeWatch(root, inotify, flags)
