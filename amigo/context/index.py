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
import hashlib
import marshal
import os
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from amigo import progress
from amigo.context import files as filelist
from amigo.context.cache import CachedFile, TagCache
from amigo.context.languages import tag_language
from amigo.context.tags import FileTags, extract
from amigo.context.watch import TreeWatch, watch_tree
from amigo.errors import RefusedError
from amigo.filetypes import looks_binary
from amigo.paths import repo_relpath

PARALLEL_MIN_FILES = 48
LINK_OUT = "symlink out of the repository"
_SAME = "__same__"


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


def digest_of(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _skip_reason(data: bytes) -> str | None:
    if looks_binary(data):
        return "binary"
    if filelist.looks_minified(data):
        return "minified or generated (very long lines)"
    return None


def process_file(full: str, path: str, old_digest: str | None) -> tuple[str, CachedFile, int]:
    """Read, check and parse one file (runs in a worker process)."""
    try:
        st = os.stat(full)
        with open(full, "rb") as handle:
            data = handle.read(filelist.MAX_FILE_BYTES + 1)
    except OSError as err:
        reason = "symlink loop" if err.errno == errno.ELOOP else f"unreadable ({err.strerror})"
        return path, CachedFile(0, 0, "", None, reason), 0
    if len(data) > filelist.MAX_FILE_BYTES:
        return path, CachedFile(st.st_size, st.st_mtime_ns, "", None, "too large"), 0
    digest = digest_of(data)
    if digest == old_digest:
        return path, CachedFile(st.st_size, st.st_mtime_ns, digest, None, _SAME), 0
    reason = _skip_reason(data)
    if reason:
        return path, CachedFile(st.st_size, st.st_mtime_ns, digest, None, reason), 0
    tags = extract(data, tag_language(path))
    return path, CachedFile(st.st_size, st.st_mtime_ns, digest, tags.to_record(), None), tags.lines


def process_chunk(root: str, jobs: list[tuple[str, str | None]]) -> list[tuple[str, CachedFile, int]]:
    """Process many files in this process (the worker's body)."""
    return [process_file(os.path.join(root, path), path, old) for path, old in jobs]


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


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


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
        report = Refresh()
        t0 = time.perf_counter()
        known = len(self.entries)
        listing = self._listing
        targeted: set[str] | None = None  # only these files can have changed (the watch says)
        forced: set[str] = set()  # files the watch named: read again, whatever their size and mtime
        gone: set[str] = set()  # files that left the listing (targeted mode)
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
        report.is_git = listing.is_git
        report.listing_skipped = listing.skipped
        t1 = time.perf_counter()
        report.timings["list files"] = t1 - t0

        cached: dict[str, CachedFile] = {}
        cache = self._open_cache()
        if not self._cache_loaded:
            cached = cache.load(str(self.root))
            self._cache_loaded = True
        t2 = time.perf_counter()
        if cached:
            report.timings["load cache"] = t2 - t1

        root = str(self.root)
        jobs: list[tuple[str, str | None]] = []
        sizes: dict[str, int] = {}  # of the jobs' files, for sharing them out
        stat_changes: list[tuple[str, CachedFile]] = []
        present = set()
        if targeted is not None and not targeted and not gone:
            report.timings["check files"] = time.perf_counter() - t2
            return report
        for path in listing.paths if targeted is None else sorted(targeted):
            present.add(path)
            full = os.path.join(root, path)
            old = self.entries.get(path)
            try:
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    self._linked.add(path)
                    if not _link_stays_inside(self.root, path):
                        if old is None or old.skip != LINK_OUT:
                            self.entries[path] = Entry(0, 0, "", None, LINK_OUT)
                            report.changed.append(path)
                        continue
                    st = os.stat(full)
                elif st.st_nlink > 1:
                    self._linked.add(path)
                else:
                    self._linked.discard(path)
            except OSError as err:
                reason = ("symlink loop" if err.errno == errno.ELOOP
                          else "missing (broken symlink?)" if err.errno == errno.ENOENT
                          else f"unreadable ({err.strerror})")
                if old is None or old.skip != reason:
                    self.entries[path] = Entry(0, 0, "", None, reason)
                    report.changed.append(path)
                continue
            if not stat.S_ISREG(st.st_mode):
                if old is None or old.skip != "not a regular file":
                    self.entries[path] = Entry(0, 0, "", None, "not a regular file")
                    report.changed.append(path)
                continue
            if (path not in forced and old is not None and old.size == st.st_size
                    and old.mtime_ns == st.st_mtime_ns):
                continue  # (a file the watch names is read again: same size and time prove little)
            hit = cached.get(path)
            if old is None and hit is not None and hit.size == st.st_size and hit.mtime_ns == st.st_mtime_ns:
                tags = FileTags.from_record(hit.record) if hit.record is not None else None
                self.entries[path] = Entry(hit.size, hit.mtime_ns, hit.digest, tags, hit.skip)
                report.changed.append(path)
                continue
            if st.st_size > filelist.MAX_FILE_BYTES:
                self.entries[path] = Entry(st.st_size, st.st_mtime_ns, "", None, "too large")
                stat_changes.append((path, CachedFile(st.st_size, st.st_mtime_ns, "", None, "too large")))
                report.changed.append(path)
                continue
            previous = old or (Entry(hit.size, hit.mtime_ns, hit.digest,
                                     FileTags.from_record(hit.record) if hit.record else None,
                                     hit.skip) if hit is not None else None)
            if previous is not None and old is None:
                self.entries[path] = previous
            jobs.append((path, previous.digest if previous is not None and previous.digest else None))
            sizes[path] = st.st_size
        t3 = time.perf_counter()
        report.timings["check files"] = t3 - t2

        results = sorted(self._run_jobs(jobs, parallel, sizes), key=lambda result: result[0])
        rows: list[tuple[str, CachedFile]] = list(stat_changes)
        for path, item, lines in results:
            previous = self.entries.get(path)
            if item.skip == _SAME and previous is not None:
                previous.size, previous.mtime_ns = item.size, item.mtime_ns
                rows.append((path, CachedFile(item.size, item.mtime_ns, previous.digest,
                                              previous.tags.to_record() if previous.tags else None,
                                              previous.skip)))
                if path in cached and path not in report.changed:
                    report.changed.append(path)  # first sight of it in this process
                continue
            tags = FileTags.from_record(item.record) if item.record is not None else None
            self.entries[path] = Entry(item.size, item.mtime_ns, item.digest, tags, item.skip)
            report.changed.append(path)
            report.parsed_lines += lines
            if item.digest:
                rows.append((path, item))
        t4 = time.perf_counter()
        if jobs:
            report.timings["parse"] = t4 - t3

        for path in [p for p in self.entries if p not in present] if targeted is None else sorted(gone):
            del self.entries[path]
            self._linked.discard(path)
            report.removed.append(path)
        if rows:
            cache.store(root, rows)
        if report.removed:
            cache.forget(root, report.removed)
        if rows or report.removed:
            report.timings["write cache"] = time.perf_counter() - t4
        self.cache_notes = list(cache.notes)
        if len(self.entries) > known:
            # files in path order, whether they came from the workers (in whatever order
            # they shared them out) or from the cache (in git's order): the graph numbers
            # files in this order and ranking ties follow it, so the same tree always
            # gives the same context
            self.entries = dict(sorted(self.entries.items()))
        if report.changed or report.removed:
            self.generation += 1
        return report

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

    def _run_jobs(self, jobs: list[tuple[str, str | None]], parallel: bool,
                  sizes: dict[str, int]) -> list[tuple[str, CachedFile, int]]:
        workers = _workers()
        root = str(self.root)
        if not parallel or workers < 2 or len(jobs) < PARALLEL_MIN_FILES:
            return process_chunk(root, jobs)
        if can_fork():
            return run_forked(root, jobs, workers, sizes)
        return run_in_workers(root, jobs, workers, sizes)

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


def can_fork() -> bool:
    """Whether parse workers may be forked from this process.

    A forked worker starts in a millisecond with tree-sitter, the grammars and
    the compiled queries already loaded, where a fresh interpreter needs
    150-200 ms before it parses anything; and this process can parse a share
    itself meanwhile. Both are only safe while no other thread runs: a fork
    copies locks another thread may hold, and parsing here would take the GIL
    from a front end's event loop. So the CLI and scripts fork (Linux only;
    macOS system libraries are not fork-safe); the LSP server and the TUI,
    which index from a background thread, spawn fresh workers.
    """
    return (sys.platform == "linux" and threading.active_count() == 1
            and threading.current_thread() is threading.main_thread())


def _chunks(root: str, jobs: list[tuple[str, str | None]], n: int,
            sizes: dict[str, int] | None = None) -> list[list[tuple[str, str | None]]]:
    """``jobs`` in about ``n`` chunks of similar bytes, the largest files first (sizes from
    ``sizes`` when the caller has just stat-ed the files, else asked again)."""
    def size(job: tuple[str, str | None]) -> int:
        if sizes is not None and job[0] in sizes:
            return sizes[job[0]]
        try:
            return os.stat(os.path.join(root, job[0])).st_size
        except OSError:
            return 0

    sized = sorted(((size(job), job) for job in jobs), key=lambda item: item[0], reverse=True)
    target = max(1, sum(s for s, _ in sized) // max(1, n))
    chunks: list[list[tuple[str, str | None]]] = []
    current: list[tuple[str, str | None]] = []
    filled = 0
    for job_size, job in sized:
        current.append(job)
        filled += job_size + 1
        if filled >= target:
            chunks.append(current)
            current, filled = [], 0
    if current:
        chunks.append(current)
    return chunks


def take_chunks(tokens: int) -> Iterator[int]:
    """Chunk numbers read one at a time from a pipe that several processes share: a
    read of 4 bytes from a pipe is atomic, so each chunk goes to exactly one process."""
    while True:
        token = os.read(tokens, 4)
        if len(token) < 4:
            return
        yield int.from_bytes(token, "little")


INHERITABLE_PIPES = os.name == "posix"  # elsewhere a spawned worker gets a fixed share of chunks
MAX_CHUNKS = 1000  # their numbers (4 bytes each) fit a pipe of one page, the smallest Linux makes


def _token_pipe(count: int) -> int:
    """A pipe holding the numbers 0..count-1, its write end closed: readers see the end."""
    tokens, feed = os.pipe()
    try:
        os.write(feed, b"".join(i.to_bytes(4, "little") for i in range(count)))
    finally:
        os.close(feed)
    return tokens


def parse_chunks(root: str, chunks: list[list[tuple[str, str | None]]],
                 numbers: Iterable[int]) -> list[tuple[int, list[tuple[str, tuple, int]]]]:
    """A worker's body (forked or spawned): the chunks it takes, parsed, as marshal-able tuples."""
    return [(i, [(path, tuple(item), lines) for path, item, lines in process_chunk(root, chunks[i])])
            for i in numbers]


def _gather(root: str, chunks: list[list[tuple[str, str | None]]], payloads: list[bytes],
            results: list[tuple[str, CachedFile, int]], done: set[int]) -> list[tuple[str, CachedFile, int]]:
    """Add the workers' tags (a payload is written whole at the end, or is unreadable)
    to ``results``; parse here whatever chunk nobody handed back."""
    for payload in payloads:
        try:
            decoded = marshal.loads(payload)
        except (ValueError, EOFError, TypeError):
            continue  # a worker died: its chunks are done below
        for i, items in decoded:
            results.extend((path, CachedFile(*item), lines) for path, item, lines in items)
            done.add(i)
    for i in range(len(chunks)):
        if i not in done:
            results.extend(process_chunk(root, chunks[i]))
    return results


def _files_started(chunks: list[list[tuple[str, str | None]]], tokens: int) -> int:
    """Files in the chunks any process has taken from the pipe so far, for progress: tokens
    leave the pipe in order, so the chunks taken are those before the ones still in it."""
    import fcntl  # POSIX, as fork is
    import termios

    try:
        waiting = int.from_bytes(fcntl.ioctl(tokens, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder) // 4
    except OSError:
        return 0
    return sum(len(chunk) for chunk in chunks[: len(chunks) - waiting])


def run_forked(root: str, jobs: list[tuple[str, str | None]], workers: int,
               sizes: dict[str, int] | None = None) -> list[tuple[str, CachedFile, int]]:
    """Parse ``jobs`` here and in ``workers - 1`` forked children (see :func:`can_fork`).

    The work is cut into chunks (largest files first) that each process takes from
    a shared pipe as it becomes free, so a process slowed by the machine's other
    load takes fewer: nobody waits for a fixed share. Whatever a child took and did
    not hand back (it died, its pipe broke) is parsed here.
    """
    chunks = _chunks(root, jobs, min(8 * workers, MAX_CHUNKS), sizes)
    tokens = _token_pipe(len(chunks))
    children: list[tuple[int, int]] = []
    payloads: list[bytes] = []
    results: list[tuple[str, CachedFile, int]] = []
    done: set[int] = set()
    try:
        for _ in range(workers - 1):
            try:
                read_end, write_end = os.pipe()
            except OSError:
                break  # out of file descriptors: fewer workers
            try:
                pid = os.fork()
            except OSError:
                os.close(read_end)
                os.close(write_end)
                break
            if pid == 0:  # the child: parse, hand the tags back, leave without any cleanup
                code = 1
                try:
                    os.close(read_end)
                    mine = marshal.dumps(parse_chunks(root, chunks, take_chunks(tokens)))
                    with os.fdopen(write_end, "wb") as out:
                        out.write(mine)
                    code = 0
                finally:
                    os._exit(code)
            os.close(write_end)
            children.append((pid, read_end))
        with progress.task("indexing", len(jobs), "files") as reporter:
            for i in take_chunks(tokens):
                results.extend(process_chunk(root, chunks[i]))
                done.add(i)
                reporter.update(_files_started(chunks, tokens))
            reporter.update(len(jobs))  # children are finishing their last chunks
    finally:
        os.close(tokens)
        for pid, read_end in children:
            try:
                with os.fdopen(read_end, "rb") as handle:
                    payloads.append(handle.read())
            except OSError:
                pass
            finally:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass  # reaped by someone else (SIGCHLD ignored): the payload tells
    return _gather(root, chunks, payloads, results, done)


def run_in_workers(root: str, jobs: list[tuple[str, str | None]], workers: int,
                   sizes: dict[str, int] | None = None) -> list[tuple[str, CachedFile, int]]:
    """Parse ``jobs`` in ``workers`` fresh worker interpreters, which take chunks from a
    shared pipe as :func:`run_forked`'s processes do; what a failed worker took is done here."""
    chunks = _chunks(root, jobs, min(8 * workers, MAX_CHUNKS), sizes)
    tokens = _token_pipe(len(chunks))
    package_parent = str(Path(__file__).resolve().parents[2])  # importable even uninstalled
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (package_parent, os.environ.get("PYTHONPATH", "")) if p)}
    outputs: list[bytes] = []
    shared = INHERITABLE_PIPES

    def run_one(k: int) -> None:
        # a fixed share is every workers-th chunk of the size-ordered list: about even
        request = marshal.dumps((root, chunks, tokens if shared else list(range(k, len(chunks), workers))))
        try:
            proc = subprocess.Popen([sys.executable, "-m", "amigo.context.worker"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                    **({"pass_fds": (tokens,)} if shared else {}))
        except OSError:
            return
        try:
            out, _ = proc.communicate(request, timeout=3600)
            if proc.returncode == 0:
                outputs.append(out)
        except (OSError, subprocess.SubprocessError):
            proc.kill()
            proc.wait()

    threads = [threading.Thread(target=run_one, args=(k,), daemon=True) for k in range(workers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        os.close(tokens)
    return _gather(root, chunks, outputs, [], set())


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
