"""A real OpenAI-compatible HTTP server that streams a recorded answer (for the TUI tests).

It speaks the same wire protocol as llama.cpp's and vLLM's servers (SSE
``chat.completion.chunk`` events), so the engine's real client is exercised;
only the text is recorded instead of generated.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ANSWERS = Path(__file__).parent / "answers"


class RecordedServer:
    """Serve ``answer`` in pieces of ``piece_chars`` characters, ``delay_s`` apart."""

    def __init__(self, answer: str, piece_chars: int = 6, delay_s: float = 0.0, port: int = 0) -> None:
        self.answer = answer
        self.piece_chars = piece_chars
        self.delay_s = delay_s
        self.requests: list[dict] = []
        self.disconnected = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                return

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json({"object": "list", "data": [{"id": "recorded", "object": "model"}]})
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(body)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                text = server.answer
                pieces = [text[i:i + server.piece_chars] for i in range(0, len(text), server.piece_chars)]
                try:
                    for piece in pieces:
                        self._event({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                        if server.delay_s:
                            time.sleep(server.delay_s)
                    self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 100, "completion_tokens": len(pieces)}})
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    server.disconnected.set()
                self.close_connection = True

            def _event(self, payload: dict) -> None:
                chunk = {"id": "rec", "object": "chat.completion.chunk", "model": "recorded", **payload}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            def _json(self, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "RecordedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def recorded(name: str) -> str:
    return (ANSWERS / name).read_text(encoding="utf-8")
