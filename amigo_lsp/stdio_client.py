"""A minimal blocking LSP client over a subprocess's stdio, for benchmarks, fuzzing and debugging.

It frames and reads raw JSON-RPC (so it can also send malformed bytes), answers
the server's own requests (configuration, progress creation, applyEdit) with a
pluggable handler, and records every notification it receives with a
timestamp. It is deliberately independent of pygls.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
import time
from typing import Any, Callable

from amigo_lsp.transport import frame

ServerRequestHandler = Callable[[str, Any], Any]


def default_handler(method: str, params: Any) -> Any:
    """What a plain editor answers: no settings, progress accepted, edits applied."""
    if method == "workspace/configuration":
        return [None for _ in (params or {}).get("items", [])]
    if method == "workspace/applyEdit":
        return {"applied": True}
    return None


class StdioClient:
    """``StdioClient([sys.executable, "-m", "amigo_lsp"])``; ``request()`` blocks for the answer."""

    def __init__(self, command: list[str] | None = None, env: dict[str, str] | None = None,
                 cwd: str | None = None, handler: ServerRequestHandler = default_handler,
                 stderr: Any = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen(command or [sys.executable, "-m", "amigo_lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=cwd)
        self.handler = handler
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._waiters: dict[Any, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.responses: dict[Any, dict[str, Any]] = {}  # every response, by id
        self.unmatched: list[dict[str, Any]] = []  # responses with a null id
        self.notifications: list[tuple[float, dict[str, Any]]] = []
        self.server_requests: list[tuple[float, dict[str, Any]]] = []
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- sending ----------------------------------------------------------------------

    def send_bytes(self, body: bytes) -> None:
        self.send_raw(frame(body))

    def send_raw(self, data: bytes) -> None:
        """Write ``data`` as it is, unframed (for framing tests)."""
        assert self.proc.stdin is not None
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.send_bytes(json.dumps(message).encode("utf-8"))

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request_async(self, method: str, params: Any = None, msg_id: Any = None) -> Any:
        msg_id = next(self._ids) if msg_id is None else msg_id
        with self._lock:
            self._waiters[msg_id] = queue.Queue(maxsize=1)
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def wait(self, msg_id: Any, timeout: float = 30.0) -> dict[str, Any]:
        with self._lock:
            waiter = self._waiters.get(msg_id)
            done = self.responses.get(msg_id)
        if done is not None:
            return done
        if waiter is None:
            raise KeyError(msg_id)
        try:
            return waiter.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no response to request {msg_id!r} within {timeout} s") from None

    def request(self, method: str, params: Any = None, timeout: float = 30.0) -> Any:
        """Send a request and return its result (raise RuntimeError on an error response)."""
        response = self.wait(self.request_async(method, params), timeout)
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response.get("result")

    def initialize(self, root_uri: str, options: Any = None, capabilities: dict[str, Any] | None = None) -> Any:
        caps = capabilities or {
            "window": {"workDoneProgress": True},
            "workspace": {"configuration": True, "workspaceEdit": {"documentChanges": True, "changeAnnotationSupport": {}}},
            "textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]}, "dataSupport": True}},
        }
        result = self.request("initialize", {"processId": None, "rootUri": root_uri, "capabilities": caps,
                                             "initializationOptions": options})
        self.notify("initialized", {})
        return result

    def close(self, timeout: float = 10.0) -> int:
        try:
            self.request("shutdown", None, timeout=timeout)
            self.notify("exit")
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    # -- receiving --------------------------------------------------------------------

    def _read_loop(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii", "replace").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                continue
            body = stream.read(length)
            try:
                message = json.loads(body)
            except ValueError:
                continue
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        now = time.monotonic()
        if "method" in message and "id" in message:
            self.server_requests.append((now, message))
            try:
                result = self.handler(message["method"], message.get("params"))
                answer: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"], "result": result}
            except Exception as exc:  # noqa: BLE001 - report to the server as an error response
                answer = {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32603, "message": str(exc)}}
            try:
                self.send(answer)
            except (OSError, ValueError):  # we closed the server's stdin: nothing can be answered
                pass
            return
        if "method" in message:
            self.notifications.append((now, message))
            return
        msg_id = message.get("id")
        with self._lock:
            if msg_id is None:
                self.unmatched.append(message)
                return
            self.responses[msg_id] = message
            waiter = self._waiters.pop(msg_id, None)
        if waiter is not None:
            waiter.put(message)

    def alive(self) -> bool:
        return self.proc.poll() is None
