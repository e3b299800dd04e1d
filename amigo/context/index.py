"""The repository index: every source file's tags, kept fresh cheaply.

``refresh`` lists the files, compares each one's size and mtime with what it
already knows (in memory, then in the SQLite cache) and re-parses only what
changed, in worker processes when there is a lot to parse. One index per
repository root lives in memory for the life of the process (the LSP server
and the TUI ask many times); the cache makes the first ask of a new process
cheap too.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from amigo.context import files as filelist
from amigo.context.cache import CachedFile, TagCache
from amigo.context.pool import UNCHANGED, Job, Parsed, parse_files
from amigo.context.tags import FileTags
from amigo.context.watch import TreeWatch, watch_tree
from amigo.errors import RefusedError
from amigo.paths import repo_relpath

LINK_OUT = "symlink out of the repository"


@dataclass
class Entry:
    """One indexed (or deliberately skipped) file."""

    size: int
    mtime_ns: int
    digest: str
    tags: FileTags | None
    skip: str | None = None


@dataclass
class Refresh:
    """What one refresh did (for notes, timings and incremental graph updates)."""

    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    parsed_lines: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    listing_skipped: dict[str, list[str]] = field(default_factory=dict)
    is_git: bool = False


@dataclass
class _Scope:
    """What a refresh looks at (decided by its list step)."""

    listing: filelist.Listing
    targeted: set[str] | None  # only these files can have changed (the watch says); None: all
    forced: set[str]  # files the watch named: read again, whatever their size and mtime
    gone: set[str]  # files that left the listing (targeted mode)


@dataclass
class _Checked:
    """What a refresh's stat step found: files to parse, and cache rows its stats settled."""

    jobs: list[Job] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # of the jobs' files, for sharing them out
    rows: list[tuple[str, CachedFile]] = field(default_factory=list)
    present: set[str] = field(default_factory=set)  # every path looked at


def _entry_of(found: CachedFile) -> Entry:
    """An index entry from a cache row or a parse result (tags rebuilt from its record)."""
    tags = FileTags.from_record(found.record) if found.record is not None else None
    return Entry(found.size, found.mtime_ns, found.digest, tags, found.skip)


def _link_stays_inside(root: Path, path: str) -> bool:
    """Whether the symlink ``path`` ends inside the repository (and outside ``.git/``).

    A link that leaves it is never read: its text would reach the prompt,
    which may go to a remote server (the rule is :func:`amigo.paths.repo_relpath`).
    """
    try:
        repo_relpath(root, path)
    except RefusedError:
        return False
    return True


class RepoIndex:
    """Tags of every source file under ``root``; call :meth:`refresh` before use."""

    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        self.root = root
        self.cache_dir = cache_dir
        self.entries: dict[str, Entry] = {}
        self.generation = 0
        self.lock = threading.RLock()
        self._cache: TagCache | None = None
        self._cache_loaded = False
        self.cache_notes: list[str] = []
        self.derived: dict[str, object] = {}  # rank structures keyed by name, see rank.py
        self._listing: filelist.Listing | None = None
        self._watch: TreeWatch | None = None  # changed files, from the kernel (see watch.py)
        self._watch_tried = False
        self._unsettled = False  # a refresh drained the watch's events and did not finish
        self._linked: set[str] = set()  # symlinks and hard links: stat them on every refresh

    def _open_cache(self) -> TagCache:
        if self._cache is None:
            self._cache = TagCache(self.cache_dir)
        return self._cache

    def refresh(self, parallel: bool = True) -> Refresh:
        """Bring the index up to date with the disk; return what changed."""
        with self.lock:
            report = self._refresh(parallel)
            self._unsettled = False  # the events drained by this refresh are all accounted for
            return report

    def _refresh(self, parallel: bool) -> Refresh:
        """:meth:`refresh` in its steps: list, stat, parse, merge (each timed in the report)."""
        report = Refresh()
        timings = report.timings
        known = len(self.entries)
        t0 = time.perf_counter()
        scope = self._list_step(report)
        t1 = time.perf_counter()
        timings["list files"] = t1 - t0
        cache = self._open_cache()
        cached: dict[str, CachedFile] = {}
        if not self._cache_loaded:  # a new process: what earlier ones parsed
            cached = cache.load(str(self.root))
            self._cache_loaded = True
        t2 = time.perf_counter()
        if cached:
            timings["load cache"] = t2 - t1
        if scope.targeted is not None and not scope.targeted and not scope.gone:
            timings["check files"] = time.perf_counter() - t2
            return report  # the watch saw nothing happen
        checked = self._stat_step(scope, cached, report)
        t3 = time.perf_counter()
        timings["check files"] = t3 - t2
        rows = checked.rows + self._merge_step(self._parse_step(checked, parallel), cached, report)
        t4 = time.perf_counter()
        if checked.jobs:
            timings["parse"] = t4 - t3
        self._drop_removed(scope, checked.present, report)
        self._write_cache(cache, rows, report)
        if rows or report.removed:
            timings["write cache"] = time.perf_counter() - t4
        if len(self.entries) > known:
            # files in path order, whether they came from the workers (in whatever order
            # they shared them out) or from the cache (in git's order): the graph numbers
            # files in this order and ranking ties follow it, so the same tree always
            # gives the same context
            self.entries = dict(sorted(self.entries.items()))
        if report.changed or report.removed:
            self.generation += 1
        return report

    # ---- the steps of a refresh ------------------------------------------------------
    def _list_step(self, report: Refresh) -> _Scope:
        """Which files this refresh looks at: every listed one, or (the watch saw all
        that happened) only those the watch names. The listing is redone when it may be
        stale."""
        listing = self._listing
        targeted: set[str] | None = None
        forced: set[str] = set()
        gone: set[str] = set()
        relist = listing is None
        if listing is not None and self._watch is not None:
            changes = self._watch.changes(self.entries.__contains__)
            forced = changes.paths
            if changes.full or self._unsettled:
                # folders came or went, the watch lost track, or the last refresh failed
                # after draining its events: check everything
                relist = True
            else:
                # a symlink's target (or a hard link's other name) changes out of sight
                targeted = changes.paths | self._linked
                relist = changes.relist or not all(  # an ignore file or git's index changed,
                    os.path.lexists(os.path.join(str(self.root), path)) for path in targeted)  # or a file went
            self._unsettled = True  # until this refresh completes (see refresh)
        if relist or (targeted is None and not filelist.still_valid(self.root, listing)):
            before = listing
            listing = self._listing = self._list_and_watch()
            if targeted is not None and before is not None:
                old, new = set(before.paths), set(listing.paths)
                gone = old - new
                targeted = (targeted | (new - old)) - gone
        assert listing is not None
        report.is_git = listing.is_git
        report.listing_skipped = listing.skipped
        return _Scope(listing, targeted, forced, gone)

    def _stat_step(self, scope: _Scope, cached: dict[str, CachedFile], report: Refresh) -> _Checked:
        """Stat each file in ``scope``: settle what the stat decides alone (unchanged, a
        skip, a cache hit, too large) and queue the rest for parsing."""
        checked = _Checked()
        root = str(self.root)
        for path in scope.listing.paths if scope.targeted is None else sorted(scope.targeted):
            checked.present.add(path)
            st = self._stat(path, os.path.join(root, path), report)
            if st is not None:
                self._check(path, st, path in scope.forced, cached.get(path), checked, report)
        return checked

    def _stat(self, path: str, full: str, report: Refresh) -> os.stat_result | None:
        """The stat of a regular file to read, or None (the file is marked skipped)."""
        try:
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                self._linked.add(path)
                if not _link_stays_inside(self.root, path):
                    self._mark_skipped(path, LINK_OUT, report)
                    return None
                st = os.stat(full)
            elif st.st_nlink > 1:
                self._linked.add(path)
            else:
                self._linked.discard(path)
        except OSError as err:
            self._mark_skipped(path, "symlink loop" if err.errno == errno.ELOOP
                               else "missing (broken symlink?)" if err.errno == errno.ENOENT
                               else f"unreadable ({err.strerror})", report)
            return None
        if not stat.S_ISREG(st.st_mode):
            self._mark_skipped(path, "not a regular file", report)
            return None
        return st

    def _mark_skipped(self, path: str, reason: str, report: Refresh) -> None:
        old = self.entries.get(path)
        if old is None or old.skip != reason:
            self.entries[path] = Entry(0, 0, "", None, reason)
            report.changed.append(path)

    def _check(self, path: str, st: os.stat_result, forced: bool, hit: CachedFile | None,
               checked: _Checked, report: Refresh) -> None:
        """Settle one regular file from its stat, or queue it for parsing."""
        old = self.entries.get(path)
        if not forced and old is not None and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
            return  # (a file the watch names is read again: same size and time prove little)
        if old is None and hit is not None and hit.size == st.st_size and hit.mtime_ns == st.st_mtime_ns:
            self.entries[path] = _entry_of(hit)
            report.changed.append(path)
            return
        if st.st_size > filelist.MAX_FILE_BYTES:
            self.entries[path] = Entry(st.st_size, st.st_mtime_ns, "", None, "too large")
            checked.rows.append((path, CachedFile(st.st_size, st.st_mtime_ns, "", None, "too large")))
            report.changed.append(path)
            return
        previous = old or (_entry_of(hit) if hit is not None else None)
        if previous is not None and old is None:
            self.entries[path] = previous
        checked.jobs.append((path, previous.digest if previous is not None and previous.digest else None))
        checked.sizes[path] = st.st_size

    def _parse_step(self, checked: _Checked, parallel: bool) -> list[Parsed]:
        """Read and parse the queued files (in worker processes when there are many), in
        path order whatever order the workers finished in."""
        return sorted(parse_files(str(self.root), checked.jobs, parallel, checked.sizes),
                      key=lambda result: result[0])

    def _merge_step(self, parsed: list[Parsed], cached: dict[str, CachedFile],
                    report: Refresh) -> list[tuple[str, CachedFile]]:
        """Put the parsed files into the index; return the rows the cache needs."""
        rows: list[tuple[str, CachedFile]] = []
        for path, item, lines in parsed:
            previous = self.entries.get(path)
            if item.skip == UNCHANGED and previous is not None:
                previous.size, previous.mtime_ns = item.size, item.mtime_ns
                rows.append((path, CachedFile(item.size, item.mtime_ns, previous.digest,
                                              previous.tags.to_record() if previous.tags else None,
                                              previous.skip)))
                if path in cached and path not in report.changed:
                    report.changed.append(path)  # first sight of it in this process
                continue
            self.entries[path] = _entry_of(item)
            report.changed.append(path)
            report.parsed_lines += lines
            if item.digest:
                rows.append((path, item))
        return rows

    def _drop_removed(self, scope: _Scope, present: set[str], report: Refresh) -> None:
        """Forget the files that are no longer listed."""
        gone = [p for p in self.entries if p not in present] if scope.targeted is None else sorted(scope.gone)
        for path in gone:
            del self.entries[path]
            self._linked.discard(path)
            report.removed.append(path)

    def _write_cache(self, cache: TagCache, rows: list[tuple[str, CachedFile]], report: Refresh) -> None:
        root = str(self.root)
        if rows:
            cache.store(root, rows)
        if report.removed:
            cache.forget(root, report.removed)
        self.cache_notes = list(cache.notes)

    def _list_and_watch(self) -> filelist.Listing:
        """List the files and watch their folders (again after every relist: watching a
        folder twice is harmless, missing a new one is not).

        The watch is set up after listing and the listing checked once more after: a
        folder created in between is then listed, watched and checked again, until the
        listing holds still (a tree that never does gets the full check next time).
        """
        listing = filelist.list_files(self.root)
        if not self._watch_tried:
            self._watch_tried = True
            self._watch = watch_tree(str(self.root))
        for _ in range(3):
            if self._watch is None:
                return listing
            try:
                self._watch.watch(listing.folders())
            except OSError:  # out of inotify watches: fall back to checking every file
                self._watch.close()
                self._watch = None
                return listing
            if filelist.still_valid(self.root, listing):
                return listing
            listing = filelist.list_files(self.root)
        self._watch.restless = True
        return listing

    def skipped(self) -> dict[str, list[str]]:
        """Files left out, grouped by reason."""
        out: dict[str, list[str]] = {}
        for path, entry in self.entries.items():
            if entry.skip:
                out.setdefault(entry.skip, []).append(path)
        return out

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None


_INDEXES: dict[tuple[str, str], RepoIndex] = {}
_INDEXES_LOCK = threading.Lock()


def index_for(root: Path, cache_dir: Path | None = None) -> RepoIndex:
    """The process-wide index of ``root`` (created on first use)."""
    key = (str(root), str(cache_dir or ""))
    with _INDEXES_LOCK:
        index = _INDEXES.get(key)
        if index is None:
            index = _INDEXES[key] = RepoIndex(root, cache_dir)
        return index


def forget_indexes() -> None:
    """Drop every in-memory index (tests and benchmarks use this to measure a cold process)."""
    with _INDEXES_LOCK:
        for index in _INDEXES.values():
            index.close()
        _INDEXES.clear()
