"""The sandbox's fork server: one per worker, stdlib only, run as a script.

Why a fork server: starting a fresh interpreter per sample costs ~30 ms of
CPU, forking a warm one ~2 ms, and forking also keeps each sample isolated
(it starts from this clean process, never from a previous sample).

In ``strict`` mode the harness starts this script with ``unshare --net
--mount --pid --fork --mount-proc`` as root, so this process is PID 1 of its
own PID namespace, has no network interfaces but loopback-down, and has a
private mount table. It then mounts a size-limited tmpfs over /tmp and
/dev/shm, and runs every sample as a dedicated unprivileged uid (so
RLIMIT_NPROC binds and files outside the sample's folder are read-only to
it). After each sample, ``kill(-1, SIGKILL)`` from PID 1 reaps everything
left in the namespace (fork-bomb children, daemons): it cannot reach any
process outside the namespace. ``kill(-1)`` is only ever called when
``os.getpid() == 1``.

In ``basic`` mode (no root or no namespaces) samples run in their own
session, killed by process group, with RLIMIT_NPROC above the user's current
count and sockets disabled by an audit hook only.

Protocol: one JSON object per line on stdin (a job), one per line on stdout
(its result).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

OUTPUT_TAIL = 4000
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_RDONLY = 1
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384


def _mount_tmpfs(target: str, size_mb: int) -> None:
    """Mount a private tmpfs (only ever called inside our own mount namespace)."""
    libc = ctypes.CDLL(None, use_errno=True)
    opts = f"size={size_mb}m,mode=1777".encode()
    rc = libc.mount(b"tmpfs", target.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, opts)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on {target}: {os.strerror(err)}")


def _bind(source: str, target: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(source.encode(), target.encode(), None, _MS_BIND | _MS_REC, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bind {source} on {target}: {os.strerror(err)}")


def _blocked_ancestor(path: str) -> str | None:
    """The topmost folder above ``path`` that other users cannot traverse (e.g. /root)."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    current = ""
    for part in parts[:-1]:
        current += os.sep + part
        if not os.stat(current).st_mode & 0o001:
            return current
    return None


def _expose(paths: list[str]) -> None:
    """Make ``paths`` (the interpreter, toolchains) readable to the sample uid.

    A folder such as /root (mode 700) hides the Python standard library from an
    unprivileged uid. In our private mount namespace we cover that folder with
    an empty tmpfs (hiding everything else in it, such as keys) and bind-mount
    back only the needed paths.
    """
    by_ancestor: dict[str, list[str]] = {}
    for path in paths:
        if os.path.isdir(path):
            ancestor = _blocked_ancestor(path)
            if ancestor:
                by_ancestor.setdefault(ancestor, []).append(os.path.abspath(path))
    stage_root = "/tmp/.amigo-expose"
    for n, (ancestor, needed) in enumerate(sorted(by_ancestor.items())):
        staged = []
        for k, path in enumerate(sorted(set(needed))):
            stage = f"{stage_root}/{n}-{k}"
            os.makedirs(stage)
            _bind(path, stage)
            staged.append((stage, path))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mount(b"tmpfs", ancestor.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                      b"size=1m,mode=755") != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount tmpfs on {ancestor}: {os.strerror(err)}")
        for stage, path in staged:
            os.makedirs(path, exist_ok=True)
            _bind(stage, path)
            libc.umount2(stage.encode(), 2)  # MNT_DETACH: the staging copy is not needed
    if os.path.isdir(stage_root):
        shutil.rmtree(stage_root, ignore_errors=True)


def _read_only_everything() -> None:
    """Remount every mount read-only in our namespace except our own tmpfs folders.

    Only this namespace's copy of each mount changes (propagation is private),
    so the host keeps writing as before; a sample can write only to /tmp and
    /dev/shm, which are private, size-limited and vanish with the worker.
    """
    keep = ("/tmp", "/dev", "/proc", "/sys")
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        points = [line.split()[4] for line in fh]
    for point in points:
        point = point.replace("\\040", " ")
        if any(point == k or point.startswith(k + "/") for k in keep):
            continue
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
        if libc.mount(None, point.encode(), None, flags, None) != 0 and point == "/":
            err = ctypes.get_errno()
            raise OSError(err, f"remount / read-only: {os.strerror(err)}")


def _block_network() -> None:
    """Refuse socket creation in this interpreter (defence in depth; strict mode has no network)."""

    def hook(event: str, args: tuple) -> None:
        if event in ("socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo"):
            raise PermissionError("network access is disabled in the Amigo evaluation sandbox")

    sys.addaudithook(hook)


def _set_limits(job: dict, nproc: int) -> None:
    lim = job["limits"]
    cpu = int(lim["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if lim.get("memory_mb"):
        mem = int(lim["memory_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    fsize = int(lim["file_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(job: dict, workdir: str, uid: int | None, nproc: int, out_fd: int, marker_w: int) -> None:
    """Runs in the forked child: drop privileges, limit, then run the sample. Never returns."""
    try:
        os.setpgid(0, 0)
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            if os.getuid() == 0 or os.geteuid() == 0:
                os._exit(97)
        os.chdir(workdir)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.closerange(3, marker_w)
        os.closerange(marker_w + 1, 1 << 16)
        os.environ.clear()
        os.environ.update(job["env"])
        os.environ["HOME"] = workdir
        os.environ["TMPDIR"] = workdir
        tempfile.tempdir = workdir
        _set_limits(job, nproc)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        if job["kind"] == "command":
            os.close(marker_w)
            argv = job["argv"]
            os.execvpe(argv[0], argv, os.environ)
        _block_network()
        sys.argv = ["sample.py"]
        sys.path[:0] = [workdir]
        # dont_inherit: a sample is compiled as its own module would be, without this file's
        # ``from __future__ import annotations`` (annotations are evaluated, as they are at import)
        code = compile(job["code"], "sample.py", "exec", dont_inherit=True)
        namespace = {"__name__": "__main__", "__file__": os.path.join(workdir, "sample.py")}
        marker = job["marker"].encode()
        del job
        exec(code, namespace)  # noqa: S102 - the whole point: inside the sandbox
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(marker_w, marker)
        os._exit(0)
    except SystemExit as exc:
        print(f"sample called exit({exc.code!r})", file=sys.stderr)
        _flush_quietly()
        os._exit(3)
    except BaseException:  # noqa: BLE001 - any failure of the sample is its result
        traceback.print_exc()
        _flush_quietly()
        os._exit(1)


def _flush_quietly() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass


class Zygote:
    """Serves jobs one at a time for one worker."""

    def __init__(self, config: dict) -> None:
        self.strict = bool(config["strict"])
        self.uid: int | None = config.get("uid") if self.strict else None
        self.nproc = int(config["nproc"])
        self.tmp_root = "/tmp"
        if self.strict:
            if os.getpid() != 1:
                raise SystemExit("strict sandbox must run as PID 1 of its own namespace")
            _mount_tmpfs("/tmp", int(config["tmpfs_mb"]))
            if os.path.isdir("/dev/shm"):
                _mount_tmpfs("/dev/shm", 16)
            _expose(list(config.get("expose", [])))
            _read_only_everything()
        else:
            self.tmp_root = config.get("tmp_root") or tempfile.gettempdir()
            # Count the user's processes now so the limit leaves room for them.
            self.nproc += _count_user_processes(os.getuid())

    def _reap_all(self) -> None:
        """Collect every zombie child (as PID 1 orphans land here)."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def _kill_everything_else(self, child: int) -> None:
        """Kill all sample processes: the whole namespace (strict) or the group (basic)."""
        if self.strict and os.getpid() == 1:
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                try:
                    os.kill(-1, signal.SIGKILL)  # PID 1 of our namespace: only our samples
                except ProcessLookupError:
                    break
                self._reap_all()
                time.sleep(0.001)
        else:
            try:
                os.killpg(child, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._reap_all()

    def run(self, job: dict) -> dict:
        start = time.monotonic()
        workdir = tempfile.mkdtemp(prefix="sample-", dir=self.tmp_root)
        try:
            for name, text in job.get("files", {}).items():
                path = os.path.join(workdir, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(text)
            if self.uid is not None:
                for root, dirs, files in os.walk(workdir):
                    for n in dirs + files:
                        os.chown(os.path.join(root, n), self.uid, self.uid)
                os.chown(workdir, self.uid, self.uid)
            out_path = os.path.join(workdir, ".amigo-output")
            out_fd = os.open(out_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            if self.uid is not None:
                os.fchown(out_fd, self.uid, self.uid)
            marker_r, marker_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(marker_r)
                _child(job, workdir, self.uid, self.nproc, out_fd, marker_w)
            os.close(marker_w)
            status, code, sig = self._wait(pid, float(job["limits"]["wall_s"]), start)
            marker = _read_all(marker_r)
            os.close(marker_r)
            self._kill_everything_else(pid)
            # read through our own descriptor: the sample may have swapped the path for a symlink
            output = _tail_fd(out_fd)
            os.close(out_fd)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if status == "exited":
            passed = code == 0 and (job["kind"] == "command" or marker == job["marker"].encode())
            status = "passed" if passed else "failed"
            if code == 0 and not passed:
                output += "\n[sandbox] the program exited 0 without finishing (os._exit?)"
        elif status == "signaled":
            status = "failed"
            if sig == signal.SIGXCPU:
                status = "timeout"
            output += f"\n[sandbox] killed by signal {signal.Signals(sig).name}"
        return {
            "id": job["id"],
            "status": status,
            "exit_code": code,
            "signal": sig,
            "duration_s": round(time.monotonic() - start, 4),
            "output": output,
        }

    def _wait(self, pid: int, wall_s: float, start: float) -> tuple[str, int | None, int | None]:
        pidfd = os.pidfd_open(pid)
        try:
            remaining = wall_s - (time.monotonic() - start)
            ready, _, _ = select.select([pidfd], [], [], max(0.0, remaining))
            if not ready:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "timeout", None, None
            _, st = os.waitpid(pid, 0)
        finally:
            os.close(pidfd)
        if os.WIFSIGNALED(st):
            return "signaled", None, os.WTERMSIG(st)
        return "exited", os.WEXITSTATUS(st), None


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        r, _, _ = select.select([fd], [], [], 0)
        if not r:
            break
        data = os.read(fd, 4096)
        if not data:
            break
        chunks.append(data)
        if sum(map(len, chunks)) > 4096:
            break
    return b"".join(chunks)


def _tail_fd(fd: int) -> str:
    try:
        size = os.fstat(fd).st_size
        return os.pread(fd, OUTPUT_TAIL, max(0, size - OUTPUT_TAIL)).decode("utf-8", "replace")
    except OSError:
        return ""


def _count_user_processes(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


def main() -> None:
    config = json.loads(sys.argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    zygote = Zygote(config)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = zygote.run(job)
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            result = {"id": job.get("id"), "status": "error", "exit_code": None, "signal": None,
                      "duration_s": 0.0, "output": f"[sandbox] {type(exc).__name__}: {exc}"}
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
