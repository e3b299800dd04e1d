"""A real OpenAI-compatible HTTP server (stdlib) that streams a recorded answer.

It is a real server on a real socket speaking the same SSE protocol as
llama.cpp and vLLM, so the whole client path runs; only the words are fixed,
which is what exact assertions need. ``delay_s`` spaces the chunks so tests
can cancel or act mid-stream.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recording:
    """What the server answers next, and what it was asked."""

    answer: str = ""
    chunk_chars: int = 8
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    streams_finished: int = 0
    streams_aborted: int = 0


class RecordedModel:
    """``with RecordedModel(answer) as model: model.base_url``"""

    def __init__(self, answer: str = "", delay_s: float = 0.0, chunk_chars: int = 8) -> None:
        self.recording = Recording(answer=answer, delay_s=delay_s, chunk_chars=chunk_chars)
        recording = self.recording

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "recorded", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                recording.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                answer = recording.answer
                pieces = [answer[i:i + recording.chunk_chars] for i in range(0, len(answer), recording.chunk_chars)]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for piece in pieces:
                        chunk = {"id": "rec", "object": "chat.completion.chunk", "model": body.get("model"),
                                 "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                        self._chunk(f"data: {json.dumps(chunk)}\n\n")
                        if recording.delay_s:
                            time.sleep(recording.delay_s)
                    done = {"id": "rec", "object": "chat.completion.chunk", "model": body.get("model"),
                            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 10, "completion_tokens": len(pieces), "total_tokens": 10 + len(pieces)}}
                    self._chunk(f"data: {json.dumps(done)}\n\n")
                    self._chunk("data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    recording.streams_finished += 1
                except (BrokenPipeError, ConnectionResetError):
                    recording.streams_aborted += 1

            def _chunk(self, text: str) -> None:
                data = text.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "RecordedModel":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
