"""Small helpers the test suites share (import as ``from helpers import ...``)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """Run a real git command in ``repo`` and return its standard output."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class RecordedModelServer:
    """A real OpenAI-compatible HTTP server on 127.0.0.1 that streams recorded answers.

    ``answer`` is the text to stream (or a function of the request body that
    returns it). ``behaviour`` simulates broken servers: "ok", "garbage" (a
    non-JSON stream), "empty" (a stream with no content), "status:NNN",
    "hang" (accepts, then says nothing). ``chunk_delay`` slows streaming so
    tests can cancel mid-stream. Every request body is kept in ``requests``.
    """

    def __init__(self, answer: str | Callable[[dict], str] = "", behaviour: str = "ok",
                 chunk_delay: float = 0.0, chunk_size: int = 8) -> None:
        self.answer = answer
        self.behaviour = behaviour
        self.chunk_delay = chunk_delay
        self.chunk_size = chunk_size
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "recorded"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append(body)
                if outer.behaviour.startswith("status:"):
                    self._json(int(outer.behaviour.split(":")[1]), {"error": {"message": "recorded failure"}})
                    return
                if outer.behaviour == "hang":
                    time.sleep(30)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                if outer.behaviour == "garbage":
                    self.wfile.write(b"data: this is not json\n\n")
                    return
                text = outer.answer(body) if callable(outer.answer) else outer.answer
                if outer.behaviour == "empty":
                    text = ""
                try:
                    for i in range(0, len(text), outer.chunk_size):
                        chunk = {"choices": [{"index": 0, "delta": {"content": text[i:i + outer.chunk_size]}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        if outer.chunk_delay:
                            time.sleep(outer.chunk_delay)
                    final = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 11, "completion_tokens": max(1, len(text) // 4)}}
                    self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cancelled

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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
