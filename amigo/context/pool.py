"""The parse pool: files read, checked and parsed in worker processes.

:func:`parse_files` is what the index calls: a few files are parsed here; many
are cut into chunks of similar size that forked children (:func:`run_forked`)
or fresh interpreters (:func:`run_in_workers`, ``python -m
amigo.context.worker``) take one at a time from a shared pipe. Whatever a
worker took and did not hand back is parsed here, so a dead worker costs time,
never tags. The work of one file is :func:`process_file`; results travel as
marshal-able :class:`~amigo.context.cache.CachedFile` rows.
"""

from __future__ import annotations

import errno
import hashlib
import marshal
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterable, Iterator

from amigo import progress
from amigo.context import files as filelist
from amigo.context.cache import CachedFile
from amigo.context.languages import tag_language
from amigo.context.tags import extract
from amigo.filetypes import looks_binary

PARALLEL_MIN_FILES = 48  # fewer files than this are parsed here: starting workers costs more
UNCHANGED = "__same__"  # a result's ``skip`` when the content hash matched the old one

Job = tuple[str, str | None]  # (path, digest of the content already known, if any)
Parsed = tuple[str, CachedFile, int]  # (path, what was found, lines parsed)


def digest_of(data: bytes) -> str:
    """The content hash the index and the cache compare."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _skip_reason(data: bytes) -> str | None:
    if looks_binary(data):
        return "binary"
    if filelist.looks_minified(data):
        return "minified or generated (very long lines)"
    return None


def process_file(full: str, path: str, old_digest: str | None) -> Parsed:
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
        return path, CachedFile(st.st_size, st.st_mtime_ns, digest, None, UNCHANGED), 0
    reason = _skip_reason(data)
    if reason:
        return path, CachedFile(st.st_size, st.st_mtime_ns, digest, None, reason), 0
    tags = extract(data, tag_language(path))
    return path, CachedFile(st.st_size, st.st_mtime_ns, digest, tags.to_record(), None), tags.lines


def process_chunk(root: str, jobs: list[Job]) -> list[Parsed]:
    """Process many files in this process (the worker's body)."""
    return [process_file(os.path.join(root, path), path, old) for path, old in jobs]


def worker_count() -> int:
    """The CPUs this process may run on (one parse process each)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def parse_files(root: str, jobs: list[Job], parallel: bool,
                sizes: dict[str, int] | None = None) -> list[Parsed]:
    """Process ``jobs`` (in worker processes when there are many and ``parallel``), in
    whatever order they finish; ``sizes`` are the files' sizes if the caller has them."""
    workers = worker_count()
    if not parallel or workers < 2 or len(jobs) < PARALLEL_MIN_FILES:
        return process_chunk(root, jobs)
    if can_fork():
        return run_forked(root, jobs, workers, sizes)
    return run_in_workers(root, jobs, workers, sizes)


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


def _chunks(root: str, jobs: list[Job], n: int,
            sizes: dict[str, int] | None = None) -> list[list[Job]]:
    """``jobs`` in about ``n`` chunks of similar bytes, the largest files first (sizes from
    ``sizes`` when the caller has just stat-ed the files, else asked again)."""
    def size(job: Job) -> int:
        if sizes is not None and job[0] in sizes:
            return sizes[job[0]]
        try:
            return os.stat(os.path.join(root, job[0])).st_size
        except OSError:
            return 0

    sized = sorted(((size(job), job) for job in jobs), key=lambda item: item[0], reverse=True)
    target = max(1, sum(s for s, _ in sized) // max(1, n))
    chunks: list[list[Job]] = []
    current: list[Job] = []
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


def parse_chunks(root: str, chunks: list[list[Job]],
                 numbers: Iterable[int]) -> list[tuple[int, list[tuple[str, tuple, int]]]]:
    """A worker's body (forked or spawned): the chunks it takes, parsed, as marshal-able tuples."""
    return [(i, [(path, tuple(item), lines) for path, item, lines in process_chunk(root, chunks[i])])
            for i in numbers]


def _gather(root: str, chunks: list[list[Job]], payloads: list[bytes],
            results: list[Parsed], done: set[int]) -> list[Parsed]:
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


def _files_started(chunks: list[list[Job]], tokens: int) -> int:
    """Files in the chunks any process has taken from the pipe so far, for progress: tokens
    leave the pipe in order, so the chunks taken are those before the ones still in it."""
    import fcntl  # POSIX, as fork is
    import termios

    try:
        waiting = int.from_bytes(fcntl.ioctl(tokens, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder) // 4
    except OSError:
        return 0
    return sum(len(chunk) for chunk in chunks[: len(chunks) - waiting])


def run_forked(root: str, jobs: list[Job], workers: int,
               sizes: dict[str, int] | None = None) -> list[Parsed]:
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
    results: list[Parsed] = []
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


def run_in_workers(root: str, jobs: list[Job], workers: int,
                   sizes: dict[str, int] | None = None) -> list[Parsed]:
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
