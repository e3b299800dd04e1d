"""Hostile samples must be contained, nothing outside harmed, and the harness must finish.

These run real processes in the real sandbox (namespaces, a separate uid,
rlimits). The fork bomb is bounded by RLIMIT_NPROC (32 processes) and a 2 s
wall limit, so it cannot hurt the shared machine.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from amigo_train.eval.sandbox import Job, Limits, Sandbox, SandboxError, scrubbed_env, strict_available

STRICT, WHY = strict_available()
needs_strict = pytest.mark.skipif(not STRICT, reason=f"strict sandbox unavailable here: {WHY}")


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    if not STRICT:
        pytest.skip(f"strict sandbox unavailable here: {WHY}")
    with Sandbox(workers=2, mode="strict") as sb:
        yield sb


def _processes_of(uids: tuple[int, ...]) -> list[int]:
    """Host PIDs still running as one of the sample uids."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid in uids:
                    found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.fixture()
def victim_dir() -> Path:
    """A folder on the real disk (outside /tmp, which the sandbox replaces) with files to protect."""
    base = Path("/var/tmp") / f"amigo-eval-victim-{os.getpid()}-{time.monotonic_ns()}"
    base.mkdir(mode=0o755)
    (base / "keep.txt").write_text("precious\n")
    yield base
    for p in sorted(base.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    base.rmdir()


def test_normal_sample_passes_and_failures_are_reported(sandbox: Sandbox) -> None:
    ok = sandbox.run(Job(code="assert sum(range(4)) == 6\nprint('fine')"))
    assert ok.status == "passed" and "fine" in ok.output
    bad = sandbox.run(Job(code="assert 1 == 2, 'nope'"))
    assert bad.status == "failed" and "AssertionError: nope" in bad.output


def test_exit_calls_do_not_count_as_passing(sandbox: Sandbox) -> None:
    assert sandbox.run(Job(code="import sys; sys.exit(0)")).status == "failed"
    assert sandbox.run(Job(code="import os; os._exit(0)")).status == "failed"


@needs_strict
def test_fork_bomb_is_contained_and_cleaned_up(sandbox: Sandbox) -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    start = time.monotonic()
    result = sandbox.run(Job(code=bomb, limits=Limits(wall_s=2.0)))
    assert result.status == "timeout"
    assert time.monotonic() - start < 10
    assert _processes_of(sandbox.sample_uids) == []
    assert sandbox.run(Job(code="print('after the bomb')")).passed


def test_infinite_loop_and_sleep_are_killed_at_the_wall_limit(sandbox: Sandbox) -> None:
    for code in ("while True:\n    pass\n", "import time\ntime.sleep(60)\n"):
        start = time.monotonic()
        result = sandbox.run(Job(code=code, limits=Limits(wall_s=1.0)))
        assert result.status == "timeout"
        assert time.monotonic() - start < 5


def test_cpu_limit_catches_busy_loop_even_with_long_wall_limit(sandbox: Sandbox) -> None:
    result = sandbox.run(Job(code="while True:\n    pass\n", limits=Limits(wall_s=30.0, cpu_s=1)))
    assert result.status == "timeout" and result.duration_s < 10


def test_memory_bomb_fails_without_taking_memory(sandbox: Sandbox) -> None:
    code = "blocks = []\nwhile True:\n    blocks.append(bytearray(50_000_000))\n"
    result = sandbox.run(Job(code=code, limits=Limits(wall_s=10.0, memory_mb=256)))
    assert result.status == "failed" and "MemoryError" in result.output


def test_huge_file_is_stopped_by_the_file_size_limit(sandbox: Sandbox) -> None:
    code = "with open('big.bin', 'wb') as fh:\n    while True:\n        fh.write(b'x' * 1_000_000)\n"
    result = sandbox.run(Job(code=code, limits=Limits(wall_s=10.0, file_mb=4)))
    assert result.status == "failed"


@needs_strict
def test_writing_and_deleting_outside_its_folder_is_refused(sandbox: Sandbox, victim_dir: Path) -> None:
    code = f"""
import os, shutil
errors = []
for action in (
    lambda: open({str(victim_dir / 'keep.txt')!r}, 'w').write('pwned'),
    lambda: open({str(victim_dir / 'new.txt')!r}, 'w').write('pwned'),
    lambda: os.remove({str(victim_dir / 'keep.txt')!r}),
    lambda: shutil.rmtree({str(victim_dir)!r}),
    lambda: open('/var/tmp/amigo-eval-dropped-{os.getpid()}', 'w').write('x'),
):
    try:
        action()
        errors.append('allowed')
    except OSError as exc:
        errors.append(type(exc).__name__)
print(errors)
assert 'allowed' not in errors
"""
    result = sandbox.run(Job(code=code))
    assert result.passed, result.output
    assert (victim_dir / "keep.txt").read_text() == "precious\n"
    assert sorted(p.name for p in victim_dir.iterdir()) == ["keep.txt"]
    assert not Path(f"/var/tmp/amigo-eval-dropped-{os.getpid()}").exists()


def test_files_it_writes_in_its_folder_vanish(sandbox: Sandbox) -> None:
    code = "import os\nopen('note.txt', 'w').write('hi')\nprint(os.getcwd())\n"
    result = sandbox.run(Job(code=code))
    assert result.passed
    assert not Path(result.output.strip().splitlines()[0], "note.txt").exists()


@needs_strict
def test_sockets_cannot_reach_the_host_even_bypassing_python(sandbox: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(4.0)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    in_process = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
    fresh_interpreter = (
        "import subprocess, sys\n"
        f"code = \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)\"\n"
        "proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)\n"
        "print(proc.stderr)\n"
        "assert proc.returncode == 0\n"
    )
    first = sandbox.run(Job(code=in_process))
    second = sandbox.run(Job(code=fresh_interpreter))
    thread.join()
    server.close()
    assert first.status == "failed" and "network access is disabled" in first.output
    assert second.status == "failed" and ("unreachable" in second.output or "Errno" in second.output)
    assert accepted == []


@needs_strict
def test_environment_secrets_do_not_leak(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMIGO_EVAL_TEST_API_KEY", "sk-do-not-leak-0123")
    code = """
import os
seen = dict(os.environ)
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            seen[pid] = open(f'/proc/{pid}/environ', 'rb').read().decode('latin-1')
        except OSError:
            pass
print(seen)
"""
    result = sandbox.run(Job(code=code))
    assert result.passed
    assert "sk-do-not-leak-0123" not in result.output
    with pytest.raises(SandboxError, match="looks like a secret"):
        scrubbed_env({"OPENAI_API_KEY": "x"})


@needs_strict
def test_daemon_left_behind_is_killed(sandbox: Sandbox) -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(120)\n"
        "    os._exit(0)\n"
        "time.sleep(0.2)\n"
    )
    assert sandbox.run(Job(code=code)).passed
    assert _processes_of(sandbox.sample_uids) == []


def test_the_harness_finishes_a_mixed_hostile_batch(sandbox: Sandbox) -> None:
    jobs = [
        Job(code="while True: pass", limits=Limits(wall_s=1.0)),
        Job(code="import time; time.sleep(30)", limits=Limits(wall_s=1.0)),
        Job(code="x = 'a' * (1 << 40)", limits=Limits(memory_mb=256)),
        Job(code="raise SystemExit(0)"),
        Job(code="print('ok')"),
    ]
    statuses = [r.status for r in sandbox.map(jobs)]
    assert statuses == ["timeout", "timeout", "failed", "failed", "passed"]


def test_commands_run_in_the_sandbox_too(sandbox: Sandbox) -> None:
    job = Job(argv=("sh", "-c", "cat in.txt && test \"$(cat in.txt)\" = hello"), files={"in.txt": "hello"})
    assert sandbox.run(job).passed
    assert sandbox.run(Job(argv=("sh", "-c", "exit 3"))).status == "failed"


@needs_strict
def test_swapping_its_output_file_for_a_symlink_leaks_nothing(sandbox: Sandbox) -> None:
    code = ("import os\nos.remove('.amigo-output')\nos.symlink('/etc/shadow', '.amigo-output')\n"
            "print('swapped')\n")
    result = sandbox.run(Job(code=code))
    assert result.passed and "swapped" in result.output and "root:" not in result.output


@needs_strict
def test_process_count_is_capped_for_the_sample_uid(sandbox: Sandbox) -> None:
    code = (
        "import os, time\nn = 0\ntry:\n    for i in range(200):\n        if os.fork() == 0:\n"
        "            time.sleep(30)\n            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)\n"
    )
    result = sandbox.run(Job(code=code))
    assert result.passed and int(result.output.split()[0]) < 32
    assert _processes_of(sandbox.sample_uids) == []
