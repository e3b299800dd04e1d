"""A server that is really up, and a client that says what really happened (issue: fresh machines).

The real embedded server is started, made to crash with SIGSEGV mid-stream
(what llama.cpp's AMX path does on the first completion on CPUs that report
AMX), and the person must read "crashed (SIGSEGV)" with the server's log, not
"cannot reach". Refused, dropped and empty are three different messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from amigo import server_state
from amigo.client import ChatClient
from amigo.config import EMBEDDED_MODEL
from amigo.errors import ModelServerError
from amigo.serve import ServerProcess, server_command

from helpers import RecordedModelServer
from test_client import MESSAGES, closed_port
from test_engine import session_for

LONG_PROMPT = [{"role": "user", "content": "Count from 1 to 300, one number per line."}]


def test_refused_dropped_and_empty_are_three_messages(repo):
    client = ChatClient(f"http://127.0.0.1:{closed_port()}/v1", "m", retries=0)
    with pytest.raises(ModelServerError, match="nothing is listening there \\(connection refused\\)"):
        client.complete(MESSAGES)
    with RecordedModelServer("x" * 80, behaviour="drop") as server:
        with pytest.raises(ModelServerError, match="closed the connection after 5 pieces of the answer") as dropped:
            ChatClient(server.base_url, "m").complete(MESSAGES)
        assert "empty" not in str(dropped.value) and "cannot reach" not in str(dropped.value)
    with RecordedModelServer("x", behaviour="empty") as server:
        session, _ = session_for(repo, server, context_budget=0)
        request = session.make_request("Add a docstring.", "users.py")
        with pytest.raises(ModelServerError, match="the model returned an empty answer"):
            session.propose(request)


def test_a_crash_left_by_a_server_amigo_started_is_named(tmp_path):
    """The record a starter keeps is what lets another process name the crash."""
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {i}\n" for i in range(30)) + "ggml_amx_init: tiles\n", encoding="utf-8")
    url = f"http://127.0.0.1:{closed_port()}/v1"
    server_state.write_record(server_state.ServerRecord(url, 999999, "llama-cpp-python", str(log), time.time(), -11))
    with pytest.raises(ModelServerError) as err:
        ChatClient(url, "m", retries=0).complete(MESSAGES)
    message = str(err.value)
    assert "crashed (SIGSEGV)" in message and str(log) in message
    assert "ggml_amx_init: tiles" in message and "line 11\n" in message and "line 10\n" not in message  # 20 lines
    assert "AMX" in message and "cannot reach" not in message


@pytest.mark.model
@pytest.mark.slow
def test_segfault_mid_stream_is_reported_as_a_crash_with_its_log(tmp_path):
    server = ServerProcess(log_path=tmp_path / "server.log").start(timeout=180)
    try:
        client = ChatClient(server.base_url, EMBEDDED_MODEL, retries=0)
        got: list[str] = []
        failure: list[BaseException] = []

        def read() -> None:
            try:
                for piece in client.stream(LONG_PROMPT, max_tokens=400, temperature=0):
                    got.append(piece)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                failure.append(exc)

        reader = threading.Thread(target=read)
        reader.start()
        deadline = time.monotonic() + 60
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got, "the server streamed nothing"
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSEGV)
        reader.join(30)
        assert failure and isinstance(failure[0], ModelServerError)
        message = str(failure[0])
        assert f"the model server at {server.base_url}" in message
        assert "crashed (SIGSEGV)" in message and str(tmp_path / "server.log") in message
        assert "last " in message and "lines of the log" in message
        assert "cannot reach" not in message
        # A new request to the dead server says the same, not "cannot reach".
        with pytest.raises(ModelServerError, match="crashed \\(SIGSEGV\\)"):
            client.complete(MESSAGES, max_tokens=4)
        assert "crashed (SIGSEGV)" in (server.death_report() or "")
    finally:
        server.stop()
    assert server_state.read_record(server.base_url) is None  # stopped on purpose: no record left


@pytest.mark.model
@pytest.mark.slow
def test_doctor_reports_a_dead_server_as_dead(tmp_path, repo):
    server = ServerProcess(log_path=tmp_path / "server.log").start(timeout=180)
    env = {**os.environ, "AMIGO_ENDPOINT": server.base_url, "AMIGO_MODEL": EMBEDDED_MODEL,
           "AMIGO_DECODING": "free"}
    try:
        up = subprocess.run([sys.executable, "-m", "amigo", "doctor"], cwd=repo, env=env, capture_output=True,
                            text=True, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "server:      up" in up.stdout and "one-token completion" in up.stdout
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSEGV)
        server.process.wait(10)
        down = subprocess.run([sys.executable, "-m", "amigo", "doctor"], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=120)
    finally:
        server.stop()
    assert down.returncode == 1
    assert "server:      up" not in down.stdout
    assert "crashed (SIGSEGV)" in down.stdout and str(tmp_path / "server.log") in down.stdout


def test_a_server_that_dies_on_its_first_completion_is_not_up(tmp_path):
    """What a llama.cpp built for another CPU does: /v1/models answers, the first completion kills it.

    The stand-in is a real HTTP server process (the crashing native build cannot be had on
    demand); ServerProcess must not call it up, and must say how it died.
    """
    script = tmp_path / "fake_server.py"
    script.write_text(textwrap.dedent('''
        import json, os, signal, sys
        from http.server import BaseHTTPRequestHandler, HTTPServer
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_GET(self):
                body = json.dumps({"data": [{"id": "m"}]}).encode()
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                self.wfile.write(body)
            def do_POST(self):
                print("ggml_cpu: AMX tile config", flush=True)
                os.kill(os.getpid(), signal.SIGSEGV)
        print("listening", flush=True)
        HTTPServer(("127.0.0.1", int(sys.argv[sys.argv.index("--port") + 1])), H).serve_forever()
    '''), encoding="utf-8")
    binary = tmp_path / "llama-server"
    binary.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n", encoding="utf-8")
    binary.chmod(0o755)
    server = ServerProcess(model_path=tmp_path / "m.gguf", backend="llama-server", binary=binary,
                           log_path=tmp_path / "server.log")
    with pytest.raises(ModelServerError) as err:
        server.start(timeout=60)
    message = str(err.value)
    assert message.startswith("on its first completion: ") or message.startswith("while starting: ")
    assert "crashed (SIGSEGV)" in message and "AMX tile config" in message and "AMX" in message
    assert server_state.read_record(server.base_url) is None


def test_llama_cpp_python_is_told_to_queue_requests(tmp_path):
    cmd = server_command(Path("m.gguf"), "127.0.0.1", 8080)
    assert cmd[cmd.index("--interrupt_requests") + 1] == "False"


@pytest.mark.model
@pytest.mark.slow
def test_concurrent_requests_to_the_embedded_server_all_get_whole_answers(model_server):
    """Three front ends at once (an editor, the TUI, the CLI): none may get an empty or cut stream."""
    client = ChatClient(model_server, EMBEDDED_MODEL, retries=0, read_timeout=300)
    prompts = ["Name three colours.", "Write a Python function that adds two numbers.", "Say hello in French."]
    results: dict[int, object] = {}

    def ask(i: int) -> None:
        try:
            results[i] = client.complete([{"role": "user", "content": prompts[i]}], max_tokens=48, temperature=0)
        except BaseException as exc:  # noqa: BLE001
            results[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)  # each arrives while the one before is streaming
    for thread in threads:
        thread.join(300)
    for i in range(3):
        result = results[i]
        assert not isinstance(result, BaseException), f"request {i}: {result}"
        assert result.text.strip(), f"request {i} got an empty answer"
        assert result.finish_reason in ("stop", "length")


@pytest.mark.model
def test_entering_a_started_server_does_not_start_another(tmp_path):
    server = ServerProcess(log_path=tmp_path / "server.log").start(timeout=180)
    first = server.process
    with server as entered:
        assert entered is server and server.process is first and first.poll() is None
    assert first.poll() is not None  # leaving the block stopped the one server there was
