"""Run model-written code where it cannot hurt anything: the evaluation sandbox.

Each worker is a fork server (``_zygote.py``) started inside fresh network,
mount and PID namespaces (``unshare``), so a sample has no network, a private
size-limited /tmp, and every process it leaves behind dies with it. Samples
run as a per-worker unprivileged uid with RLIMIT_CPU/AS/FSIZE/NPROC, in a
temporary folder, with a scrubbed environment, and are killed (with their
whole namespace's leftovers) on timeout. Where root or namespaces are missing
the ``basic`` mode still isolates by session, limits and an audit hook, but
only when asked for explicitly: the evaluation must not silently get weaker.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import select
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue
from typing import Iterable, Iterator, Literal, Mapping

from amigo.errors import AmigoError

Mode = Literal["auto", "strict", "basic"]
ZYGOTE = Path(__file__).with_name("_zygote.py")
SAFE_PATH = "/usr/local/go/bin:/usr/local/cargo/bin:/root/.cargo/bin:/usr/local/bin:/usr/bin:/bin"
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")


class SandboxError(AmigoError):
    """The sandbox could not start or a worker died: the message says what to do."""


@dataclass(frozen=True)
class Limits:
    """Per-sample limits. ``cpu_s`` defaults to the wall limit rounded up, plus one."""

    wall_s: float = 10.0
    cpu_s: int | None = None
    memory_mb: int | None = 1024
    file_mb: int = 16

    def as_job(self) -> dict:
        cpu = self.cpu_s if self.cpu_s is not None else int(math.ceil(self.wall_s)) + 1
        return {"wall_s": self.wall_s, "cpu_s": cpu, "memory_mb": self.memory_mb, "file_mb": self.file_mb}


@dataclass(frozen=True)
class ExecResult:
    """What one sample did: ``status`` is passed, failed, timeout or error."""

    status: str
    exit_code: int | None
    signal: int | None
    duration_s: float
    output: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class Job:
    """One program to run: Python source (``code``) or a command over ``files``."""

    code: str | None = None
    argv: tuple[str, ...] | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = Limits()
    env: Mapping[str, str] = field(default_factory=dict)


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: nothing of the harness's (keys, tokens) reaches a sample."""
    env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "GOFLAGS": "-mod=mod",
           "GOCACHE": "/tmp/gocache", "GOPATH": "/tmp/gopath", "CARGO_HOME": "/tmp/cargo"}
    for key, value in (extra or {}).items():
        if any(word in key.upper() for word in _SECRET_WORDS):
            raise SandboxError(f"refusing to pass {key} into the sandbox: it looks like a secret")
        env[key] = value
    return env


def exposed_paths() -> list[str]:
    """Folders a sample must be able to read: this interpreter and the toolchains."""
    paths = {sys.base_prefix, sys.prefix, *(p for p in sys.path if p and os.path.isdir(p))}
    home = Path.home()
    for name in (".cargo", ".rustup"):
        if (home / name).is_dir():
            paths.add(str(home / name))
    # keep only the outermost folders
    roots: list[str] = []
    for p in sorted(os.path.abspath(p) for p in paths):
        if not any(p == r or p.startswith(r + os.sep) for r in roots):
            roots.append(p)
    return roots


def strict_available() -> tuple[bool, str]:
    """Whether the namespace sandbox can start here, and if not, why."""
    if os.geteuid() != 0:
        return False, "strict mode needs root (to run samples as a separate unprivileged uid)"
    if not shutil.which("unshare"):
        return False, "the `unshare` command (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private", "true"],
        capture_output=True, text=True, timeout=30,
    )
    if probe.returncode != 0:
        return False, f"the kernel refused new namespaces: {probe.stderr.strip()}"
    return True, "network, mount and PID namespaces; samples run as an unprivileged uid"


class _Worker:
    """One zygote process and the pipe to it (used by one thread at a time)."""

    def __init__(self, index: int, strict: bool, nproc: int, tmpfs_mb: int) -> None:
        self.index = index
        self.strict = strict
        self.uid = 3_000_000 + (os.getpid() % 100_000) * 64 + index
        self.config = {"strict": strict, "uid": self.uid, "nproc": nproc, "tmpfs_mb": tmpfs_mb,
                       "expose": exposed_paths()}
        self.proc: subprocess.Popen[bytes] | None = None
        self._start()

    def _start(self) -> None:
        argv = [sys.executable, "-I", str(ZYGOTE), json.dumps(self.config)]
        if self.strict:
            argv = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child",
                    "--mount-proc", "--propagation", "private", *argv]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=scrubbed_env(), cwd="/", start_new_session=True,
        )
        hello = self._read_line(60.0)
        if hello is None or not hello.get("ready"):
            err = self.proc.stderr.read().decode("utf-8", "replace") if self.proc.stderr else ""
            self.close()
            raise SandboxError(f"sandbox worker failed to start: {err.strip() or 'no answer'}")

    def _read_line(self, timeout: float) -> dict | None:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def run(self, payload: dict) -> ExecResult:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(payload) + "\n").encode())
            self.proc.stdin.flush()
            answer = self._read_line(float(payload["limits"]["wall_s"]) + 60.0)
        except (BrokenPipeError, OSError, ValueError):
            answer = None
        if answer is None:
            self.close()
            self._start()
            return ExecResult("error", None, None, 0.0, "[sandbox] worker died; restarted it")
        return ExecResult(answer["status"], answer["exit_code"], answer["signal"],
                          answer["duration_s"], answer["output"])

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()  # unshare --kill-child takes the whole namespace with it
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        self.proc = None


class Sandbox:
    """A pool of sandbox workers. Use as a context manager; ``run``/``map`` are thread-safe."""

    def __init__(self, workers: int | None = None, mode: Mode = "auto", nproc: int = 32,
                 tmpfs_mb: int = 256) -> None:
        ok, why = strict_available() if mode in ("auto", "strict") else (False, "basic mode requested")
        if mode == "strict" and not ok:
            raise SandboxError(f"the strict sandbox is unavailable: {why}. Run as root on Linux "
                               "with util-linux `unshare`, or pass --sandbox basic to accept a weaker one.")
        if mode == "auto" and not ok:
            raise SandboxError(f"the strict sandbox is unavailable: {why}. Pass --sandbox basic "
                               "(Sandbox(mode='basic')) to run samples with limits and an audit "
                               "hook only, knowing a hostile sample could write to your files.")
        if not ok and os.geteuid() == 0:
            raise SandboxError(f"the strict sandbox is unavailable ({why}) and the basic one would run "
                               "model-written code as root: refusing. Fix the namespaces (util-linux "
                               "`unshare`) or run the evaluation as an ordinary user with --sandbox basic.")
        self.mode: str = "strict" if ok else "basic"
        self.description = why
        count = workers or os.cpu_count() or 1
        self._workers: list[_Worker] = []
        try:
            for i in range(count):
                self._workers.append(_Worker(i, ok, nproc, tmpfs_mb))
        except BaseException:
            self.close()
            raise
        self._idle: Queue[_Worker] = Queue()
        for w in self._workers:
            self._idle.put(w)
        self._closed = threading.Event()

    @property
    def size(self) -> int:
        return len(self._workers)

    @property
    def sample_uids(self) -> tuple[int, ...]:
        """The uids samples run as (strict mode), for checking nothing is left running."""
        return tuple(w.uid for w in self._workers) if self.mode == "strict" else ()

    def run(self, job: Job) -> ExecResult:
        """Run one job on the next free worker (blocks while all are busy)."""
        if self._closed.is_set():
            raise SandboxError("the sandbox is closed")
        payload: dict = {
            "id": secrets.token_hex(4),
            "kind": "python" if job.code is not None else "command",
            "limits": job.limits.as_job(),
            "env": scrubbed_env(job.env),
            "files": dict(job.files),
            "marker": secrets.token_hex(16),
        }
        if job.code is not None:
            payload["code"] = job.code
        elif job.argv:
            payload["argv"] = list(job.argv)
        else:
            raise SandboxError("a job needs Python code or a command")
        worker = self._idle.get()
        try:
            return worker.run(payload)
        finally:
            self._idle.put(worker)

    def map(self, jobs: Iterable[Job]) -> Iterator[ExecResult]:
        """Run ``jobs`` in parallel on all workers, yielding results in input order."""
        with ThreadPoolExecutor(max_workers=self.size) as pool:
            yield from pool.map(self.run, jobs)

    def close(self) -> None:
        if getattr(self, "_closed", None) is not None:
            self._closed.set()
        for w in self._workers:
            w.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
