"""What Amigo knows about the model servers it started: where they log and how they ended.

To an HTTP client a crashed server and an unreachable one look alike: the
connection is refused or drops. So whoever starts a server (``amigo serve``,
:class:`amigo.serve.ServerProcess`) keeps a small record of it under
``$XDG_STATE_HOME/amigo/servers/``, waits on the process, and writes down how
it ended. A client that then fails to talk to that address reads the record
and can say "the model server crashed (SIGSEGV)" with the tail of its log and
the likely cause, instead of "cannot reach". A server stopped on purpose
leaves no record behind.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from amigo.xdg import state_dir

LOG_TAIL_LINES = 20
# How long a client waits for the starter to write down a death it has just seen (a loaded
# machine can take seconds to run the waiting thread).
DEATH_WAIT_S = 5.0


@dataclass
class ServerRecord:
    """One server Amigo started: where it listens, its process and log, and how it ended (if it has)."""

    base_url: str
    pid: int
    backend: str
    log_path: str | None
    started: float
    returncode: int | None = None
    ended: float | None = None


def records_dir() -> Path:
    return state_dir() / "servers"


def record_path(base_url: str) -> Path:
    parts = urlsplit(base_url)
    host = (parts.hostname or "localhost").replace(":", "_")
    return records_dir() / f"{host}_{parts.port or 80}.json"


def write_record(record: ServerRecord) -> None:
    """Write atomically: a client may read while the starter writes."""
    path = record_path(record.base_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(record)), encoding="utf-8")
    os.replace(tmp, path)


def read_record(base_url: str) -> ServerRecord | None:
    try:
        data = json.loads(record_path(base_url).read_text(encoding="utf-8"))
        return ServerRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def remove_record(base_url: str) -> None:
    try:
        record_path(base_url).unlink()
    except OSError:
        pass


def mark_ended(base_url: str, returncode: int) -> None:
    """Note how the server at ``base_url`` ended (called by the process that waited on it)."""
    record = read_record(base_url)
    if record is not None:
        record.returncode = returncode
        record.ended = time.time()
        write_record(record)


def describe_exit(returncode: int) -> str:
    """``-11`` -> ``"crashed (SIGSEGV)"``; ``1`` -> ``"exited with code 1"``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        verb = "was killed" if -returncode in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT) else "crashed"
        return f"{verb} ({name})"
    return f"exited with code {returncode}"


def log_tail(log_path: str | Path | None, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log ('' when there is none)."""
    if not log_path:
        return ""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def likely_cause(returncode: int | None, log: str) -> str:
    """A best guess at why a server died, from its exit status and log, with what to do."""
    lowered = log.lower()
    if "address already in use" in lowered:
        return "the port is taken by another program: choose another with --port (or serve.port)"
    if "not enough" in lowered and "memory" in lowered or "out of memory" in lowered or "kv cache" in lowered:
        return ("the server ran out of memory: give it less to reserve (vLLM: --gpu-memory-utilization / "
                "VLLM_CPU_KVCACHE_SPACE; llama.cpp: a smaller --n_ctx), or free memory")
    if returncode is None:
        return "it is no longer running; start it again with `amigo serve`"
    if returncode in (-signal.SIGSEGV, -signal.SIGILL, -signal.SIGBUS):
        return ("a crash in llama.cpp's native code, most often a build for another CPU: a build with "
                "-march=native (GGML_NATIVE=ON) dies on the first completion on CPUs that report AMX. "
                "Rebuild the portable wheel: `rm -f .venv/.setup-serve && make setup-serve` "
                "(scripts/build-llama-wheel.sh picks flags this CPU has, never AMX)")
    if returncode == -signal.SIGKILL:
        return "it was killed with SIGKILL, often by the kernel's out-of-memory killer (see `dmesg`)"
    if returncode in (-signal.SIGTERM, -signal.SIGINT):
        return "it was stopped by a signal from outside; start it again with `amigo serve`"
    return "see the log above; start it again with `amigo serve` once the cause is fixed"


def crash_report(record: ServerRecord) -> str:
    """A complete, user-facing account of a server's death: how, where its log is, its last lines, the likely cause."""
    how = describe_exit(record.returncode) if record.returncode is not None else "is no longer running"
    tail = log_tail(record.log_path)
    parts = [f"the model server at {record.base_url} ({record.backend}, pid {record.pid}) {how}"]
    if record.log_path:
        parts.append(f"its log: {record.log_path}")
    parts.append("likely cause: " + likely_cause(record.returncode, tail))
    text = "; ".join(parts)
    if tail:
        text += f"\nlast {len(tail.splitlines())} lines of the log:\n{_indent(tail)}"
    return text


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_server_report(base_url: str, wait: float = DEATH_WAIT_S) -> str | None:
    """If Amigo started the server at ``base_url`` and it has died, say how; else None.

    Called by the client when a connection fails or a stream drops. The
    process that waits on the server may need a moment to reap it and write
    down how it died after the client saw the connection go, so the record is
    watched for up to ``wait`` seconds before a live process counts as alive
    (None) or a gone one as gone without a known cause.
    """
    deadline = time.monotonic() + wait
    while True:
        record = read_record(base_url)
        if record is None:
            return None
        if record.returncode is not None:
            return crash_report(record)
        if time.monotonic() >= deadline:
            # A process gone with no exit status written: its starter died too (or is stuck).
            return None if pid_alive(record.pid) else crash_report(record)
        time.sleep(0.05)
