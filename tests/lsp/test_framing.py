"""``amigo lsp`` under bad framing, and its exit status (issue 16, defect 7).

Each test runs the real ``amigo lsp`` process over pipes and writes raw
bytes to it. The server must exit 0 after ``shutdown`` + ``exit`` (it used
to abort with SIGABRT at interpreter shutdown), answer the next well-framed
request after any framing error, and refuse (and log) a message whose
Content-Length is absurd instead of waiting for it or exiting.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from amigo_lsp.stdio_client import StdioClient, frame
from amigo_lsp.transport import FrameReader

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261202
FUZZ_ROUNDS = 300
ANSWER_TIMEOUT_S = 20.0


def _start(log_path: Path, cwd: Path) -> StdioClient:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMIGO_FEEDBACK__ENABLED": "false"}
    log = log_path.open("wb")
    client = StdioClient([sys.executable, "-m", "amigo", "lsp", "--log-level", "INFO"], env=env, cwd=str(cwd),
                         stderr=log)
    log.close()  # the child holds its own copy
    return client


@pytest.fixture
def server(tmp_path: Path, repo: Path) -> Iterator[tuple[StdioClient, Path]]:
    log_path = tmp_path / "server.log"
    client = _start(log_path, repo)
    client.initialize(repo.as_uri())
    yield client, log_path
    if client.alive():
        client.proc.kill()
        client.proc.wait()


def _message(method: str, params: Any = None, msg_id: Any = None) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if msg_id is not None:
        body["id"] = msg_id
    return json.dumps(body).encode()


def _code_action(uri: str, msg_id: Any) -> bytes:
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}
    return _message("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": rng,
                                                "context": {"diagnostics": []}}, msg_id)


def _answered(client: StdioClient, msg_id: str) -> dict[str, Any]:
    """The response to ``msg_id`` (a request sent as raw bytes), waiting at most ANSWER_TIMEOUT_S."""
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while time.monotonic() < deadline:
        if msg_id in client.responses:
            return client.responses[msg_id]
        time.sleep(0.005)
    raise AssertionError(f"no answer to {msg_id!r}: the server stopped reading after bad framing")


def _send_then_sync(client: StdioClient, garbage: bytes, sync_id: str, uri: str) -> dict[str, Any]:
    """Write ``garbage`` then one well-framed request; return that request's response."""
    client.send_raw(garbage + frame(_code_action(uri, sync_id)))
    return _answered(client, sync_id)


def _close(client: StdioClient) -> int:
    """shutdown + exit; the exit status."""
    assert client.request("shutdown", None, timeout=ANSWER_TIMEOUT_S) is None
    client.notify("exit")
    return client.proc.wait(timeout=30)


def test_shutdown_then_exit_exits_0_every_time(tmp_path: Path, repo: Path) -> None:
    for run in range(3):
        log_path = tmp_path / f"run{run}.log"
        client = _start(log_path, repo)
        client.initialize(repo.as_uri())
        assert _close(client) == 0, log_path.read_text(errors="replace")
        assert "Fatal Python error" not in log_path.read_text(errors="replace")


def test_exit_without_shutdown_exits_1(tmp_path: Path, repo: Path) -> None:
    client = _start(tmp_path / "server.log", repo)
    client.initialize(repo.as_uri())
    client.notify("exit")
    assert client.proc.wait(timeout=30) == 1


def test_closing_stdin_ends_the_server_cleanly(tmp_path: Path, repo: Path) -> None:
    log_path = tmp_path / "server.log"
    client = _start(log_path, repo)
    client.initialize(repo.as_uri())
    _send_then_sync(client, b"", "before-close", (repo / "users.py").as_uri())  # a live session, not one still starting
    assert client.proc.stdin is not None
    client.proc.stdin.close()
    assert client.proc.wait(timeout=30) == 0
    assert "Fatal Python error" not in log_path.read_text(errors="replace")


BAD_FRAMES = {
    "header without Content-Length": b"Content-Type: application/vscode-jsonrpc\r\n\r\n{\"jsonrpc\":\"2.0\"}",
    "Content-Length: abc": b"Content-Length: abc\r\n\r\n{\"jsonrpc\":\"2.0\"}",
    "Content-Length: 3.5": b"Content-Length: 3.5\r\n\r\n{}\r",
    "negative length": b"Content-Length: -4\r\n\r\n{}{}",
    "too short a length": b"Content-Length: 5\r\n\r\n" + _message("textDocument/hover", {}, "cut"),
    "too long a length": b"Content-Length: 400\r\n\r\n" + _message("textDocument/hover", {}, "long"),
    "stray bytes": b"\x00\xffgarbage\r\n\r\n\x1b[2J",
    "no blank line after the header": b"Content-Length: 17\r\n{\"jsonrpc\":\"2.0\"}",
    "a header cut short": b"Content-Len",
    "two lengths in one header": b"Content-Length: 9\r\nContent-Length: 40\r\n",
    "a bare length header": b"Content-Length: 60\r\n\r\n",
    "a length of 5,000 digits": b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n{}",
}


def test_the_server_resynchronises_after_each_framing_error(server: tuple[StdioClient, Path], repo: Path) -> None:
    client, log_path = server
    uri = (repo / "users.py").as_uri()
    for n, (name, garbage) in enumerate(BAD_FRAMES.items()):
        response = _send_then_sync(client, garbage, f"sync-{n}", uri)
        assert "result" in response, (name, response)
        assert any(a["title"].startswith("Amigo: Edit") for a in response["result"]), (name, response)
    assert _close(client) == 0
    log = log_path.read_text(errors="replace")
    assert "bad Content-Length b'abc'" in log and "bad Content-Length b'3.5'" in log
    assert "shorter than its Content-Length 400" in log


def test_a_huge_length_is_refused_with_a_logged_error(server: tuple[StdioClient, Path], repo: Path) -> None:
    client, log_path = server
    uri = (repo / "users.py").as_uri()
    response = _send_then_sync(client, b"Content-Length: 100000000000\r\n\r\n{\"jsonrpc\":", "after-huge", uri)
    assert "result" in response
    assert client.alive()
    assert _close(client) == 0
    log = log_path.read_text(errors="replace")
    assert "ERROR" in log and "refused a message of 100000000000 bytes" in log


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """One byte-level mutation of a stream of frames."""
    buf = bytearray(data)
    kind = rng.randrange(7)
    if kind == 0 and buf:  # flip some bytes
        for _ in range(rng.randrange(1, 6)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif kind == 1:  # insert random bytes
        at = rng.randrange(len(buf) + 1)
        buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
    elif kind == 2 and buf:  # delete a range
        at = rng.randrange(len(buf))
        del buf[at:at + rng.randrange(1, 30)]
    elif kind == 3:  # cut the stream short
        del buf[rng.randrange(len(buf) + 1):]
    elif kind == 4:  # change a length's digits
        text = bytes(buf)
        at = text.find(b"Content-Length: ")
        end = text.find(b"\r", at)
        if at >= 0 and end >= 0:
            digits = rng.choice([b"0", b"1", b"999999", b"100000000000", b"-3", b"x", b"12 34", b"1e3"])
            buf[at + 16:end] = digits
    elif kind == 5:  # a header line dropped or doubled
        at = bytes(buf).find(b"\r\n\r\n")
        if at >= 0:
            buf[at:at + 4] = rng.choice([b"\r\n", b"\r\n\r\n\r\n", b"\n\n", b"\r\nContent-Length: 7\r\n\r\n"])
    else:  # raw newlines and NULs
        at = rng.randrange(len(buf) + 1)
        buf[at:at] = rng.choice([b"\r\n", b"\n\n", b"\0" * 5, b"\r\n\r\n"])
    return bytes(buf)


def test_byte_level_fuzz_never_stops_the_server_reading(server: tuple[StdioClient, Path], repo: Path) -> None:
    """Mutated streams of real messages, each followed by one good request that must be answered."""
    client, log_path = server
    uri = (repo / "users.py").as_uri()
    rng = random.Random(SEED)
    hover = {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}
    samples = [
        frame(_code_action(uri, 10_000)),
        frame(_message("textDocument/hover", hover, 10_001)),
        frame(_message("$/cancelRequest", {"id": 10_000})),
        frame(_message("textDocument/didSave", {"textDocument": {"uri": uri}})),
        frame(_message("workspace/executeCommand", {"command": "amigo.reject", "arguments": ["nope"]}, 10_002)),
    ]
    for n in range(FUZZ_ROUNDS):
        stream = b"".join(rng.choice(samples) for _ in range(rng.randrange(1, 4)))
        for _ in range(rng.randrange(1, 4)):
            stream = _mutate(rng, stream)
        response = _send_then_sync(client, stream, f"fuzz-{n}", uri)
        assert "result" in response, (n, stream[:200], response)
    assert client.alive()
    assert _close(client) == 0
    assert "Fatal Python error" not in log_path.read_text(errors="replace")


def test_the_same_frames_whatever_the_pipe_delivers_at_a_time() -> None:
    """A pipe hands over any number of bytes per read: one at a time must give what one read gives."""
    good = [_message("a", {}, n) for n in range(3)]
    stream = b"".join(garbage + frame(body) for garbage, body in zip(BAD_FRAMES.values(), good * 4))
    whole = list(FrameReader(io.BytesIO(stream).read).frames())
    assert set(good) <= set(whole)
    for size in (1, 2, 7, 100):
        source = io.BytesIO(stream)
        assert list(FrameReader(lambda n: source.read(min(n, size))).frames()) == whole
