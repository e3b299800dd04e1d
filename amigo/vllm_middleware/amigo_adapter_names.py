"""Stable adapter names on vLLM: a switched adapter never changes under a request in flight.

vLLM (0.32) reloads an adapter under the same name in place, keeping its
internal id, so a request still generating continues on the new weights from
its next token: half of its answer comes from each model. This ASGI
middleware, which ``amigo serve --backend vllm`` installs in vLLM's own API
server (``--middleware amigo_adapter_names.AdapterNames``), makes the switch
the issue of a name instead:

- ``POST /v1/load_lora_adapter`` for NAME loads the adapter under a fresh
  name, ``NAME@N``, which vLLM gives a fresh id; only when that load succeeded
  does NAME point at it, atomically (one assignment between two requests);
- every request whose JSON body asks for ``model: NAME`` is sent to the name
  NAME points at, at the moment it arrives, and keeps it to its end;
- the previous version is unloaded once its last request has finished;
- ``GET /v1/models`` lists the version under NAME, so clients see only the
  names they use.

It runs inside vLLM's process with vLLM's Python, so it imports nothing but the
standard library. Its state lives in the API server process: with vLLM's
``--api-server-count`` above 1 each process would keep its own, so Amigo does not
start vLLM that way.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("amigo.adapter_names")
VERSION_MARK = "@"
LOAD_PATH = "/v1/load_lora_adapter"
UNLOAD_PATH = "/v1/unload_lora_adapter"
MODELS_PATH = "/v1/models"
# How long an old version waits for its last request before it is unloaded anyway.
DRAIN_LIMIT_S = 3600.0


def versioned(name: str, number: int) -> str:
    """The name vLLM knows the ``number``-th load of ``name`` by."""
    return f"{name}{VERSION_MARK}{number}"


def with_model(body: bytes, targets: dict[str, str]) -> tuple[bytes, str | None]:
    """A JSON request ``body`` with its ``model`` sent to the version its name points at, and the
    model name the request will be served by (None when the body names none)."""
    try:
        request = json.loads(body)
    except ValueError:
        return body, None
    if not isinstance(request, dict) or not isinstance(request.get("model"), str):
        return body, None
    model = request["model"]
    if model not in targets:
        return body, model
    request["model"] = targets[model]
    return json.dumps(request).encode(), targets[model]


def listed_under_names(body: bytes, targets: dict[str, str]) -> bytes:
    """vLLM's ``/v1/models`` answer with each current version listed under its name, and the
    versions being drained (or names now pointing elsewhere) left out."""
    try:
        listing = json.loads(body)
        cards = listing["data"]
    except (ValueError, KeyError, TypeError):
        return body
    names = {version: name for name, version in targets.items()}
    kept = []
    for card in cards:
        card_id = card.get("id") if isinstance(card, dict) else None
        if card_id in names:
            kept.append({**card, "id": names[card_id]})
        elif card_id not in targets and not (isinstance(card_id, str) and VERSION_MARK in card_id
                                             and card_id.rsplit(VERSION_MARK, 1)[0] in targets):
            kept.append(card)
    listing["data"] = kept
    return json.dumps(listing).encode()


class AdapterNames:
    """The ASGI middleware (see the module's docstring)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.targets: dict[str, str] = {}  # served name -> the version vLLM serves it as
        self.in_flight: Counter[str] = Counter()
        self.numbers = itertools.count(1)
        self.locks: dict[str, asyncio.Lock] = {}
        self.drains: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == MODELS_PATH:
            return await self._models(scope, receive, send)
        if method != "POST" or b"json" not in _header(scope, b"content-type"):
            return await self.app(scope, receive, send)
        body, more = await _read_body(receive)
        if more is not None:  # the client left while sending: let vLLM see what it saw
            return await self.app(scope, _replay(body, receive, more), send)
        if path == LOAD_PATH:
            return await self._load(scope, body, receive, send)
        if path == UNLOAD_PATH:
            return await self._unload(scope, body, receive, send)
        body, model = with_model(body, self.targets)
        if model is None:
            return await self.app(_with_length(scope, body), _replay(body, receive), send)
        self.in_flight[model] += 1
        try:
            await self.app(_with_length(scope, body), _replay(body, receive), send)
        finally:
            self.in_flight[model] -= 1

    async def _load(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        """Load under a fresh version name; point the name at it only once vLLM accepted it."""
        try:
            request = json.loads(body)
            name = request["lora_name"]
        except (ValueError, KeyError, TypeError):
            return await self.app(_with_length(scope, body), _replay(body, receive), send)
        if (not isinstance(name, str) or not name or VERSION_MARK in name
                or await self._is_base_model(scope, name)):  # vLLM answers these itself
            return await self.app(_with_length(scope, body), _replay(body, receive), send)
        async with self.locks.setdefault(name, asyncio.Lock()):
            version = versioned(name, next(self.numbers))
            inner = json.dumps({**request, "lora_name": version, "load_inplace": False}).encode()
            status, headers, answer = await _call(self.app, scope, inner)
            if status == 200:
                previous = self.targets.get(name, name)
                self.targets[name] = version
                log.info("adapter %r now served as %r from %s; %r drains", name, version,
                         request.get("lora_path"), previous)
                self._drain_later(scope, previous)
                answer = (f"Success: LoRA adapter '{name}' switched to {request.get('lora_path')} "
                          f"(served as '{version}'); requests in flight finish on the previous one.").encode()
                headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await _respond(send, status, headers, answer)

    async def _is_base_model(self, scope: Scope, name: str) -> bool:
        """Whether vLLM serves ``name`` as a base model (its card has no parent adapter base)."""
        listing = {**scope, "method": "GET", "path": MODELS_PATH, "raw_path": MODELS_PATH.encode(),
                   "query_string": b""}
        status, _, answer = await _call(self.app, listing, b"")
        try:
            cards = json.loads(answer)["data"] if status == 200 else []
        except (ValueError, KeyError, TypeError):
            cards = []
        return any(isinstance(c, dict) and c.get("id") == name and not c.get("parent") for c in cards)

    async def _unload(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        """Unloading a name unloads the version it points at, after its requests finished."""
        try:
            name = json.loads(body)["lora_name"]
        except (ValueError, KeyError, TypeError):
            name = None
        if name not in self.targets:
            return await self.app(_with_length(scope, body), _replay(body, receive), send)
        version = self.targets.pop(name)
        self._drain_later(scope, version)
        await _respond(send, 200, [(b"content-type", b"text/plain; charset=utf-8")],
                       f"Success: LoRA adapter '{name}' removed once its requests finish.".encode())

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, headers, answer = await _call(self.app, scope, b"", receive)
        if status == 200 and self.targets:
            answer = listed_under_names(answer, self.targets)
        await _respond(send, status, headers, answer)

    def _drain_later(self, scope: Scope, version: str) -> None:
        """Unload ``version`` once no request uses it (the served name already points elsewhere)."""
        task = asyncio.get_running_loop().create_task(self._drain(dict(scope), version))
        self.drains.add(task)
        task.add_done_callback(self.drains.discard)

    async def _drain(self, scope: Scope, version: str) -> None:
        waited = 0.0
        while self.in_flight[version] > 0 and waited < DRAIN_LIMIT_S:
            await asyncio.sleep(0.2)
            waited += 0.2
        if version in self.targets.values():  # loaded again under another name meanwhile: keep it
            return
        status, _, answer = await _call(self.app, {**scope, "path": UNLOAD_PATH, "raw_path": UNLOAD_PATH.encode()},
                                        json.dumps({"lora_name": version}).encode())
        if status == 200:
            log.info("adapter version %r unloaded after its last request", version)
        elif status != 404:  # 404: never loaded under that name (a first load of a new name)
            log.warning("could not unload adapter version %r: %s %s", version, status, answer[:300])


def _header(scope: Scope, name: bytes) -> bytes:
    return next((v.lower() for k, v in scope.get("headers", []) if k.lower() == name), b"")


def _with_length(scope: Scope, body: bytes) -> Scope:
    """``scope`` with its Content-Length matching ``body`` (rewritten bodies change length)."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole request body; and the message that ended it early (a disconnect), if any."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks), None


def _replay(body: bytes, receive: Receive, last: Message | None = None) -> Receive:
    """A ``receive`` that gives ``body`` once, then ``last`` (if any), then the client's own messages
    (so that vLLM still hears a disconnect and stops generating)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if last is not None:
        pending.append(last)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _call(app: App, scope: Scope, body: bytes,
                receive: Receive | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run one request through the app (vLLM) and collect its whole answer."""
    scope = _with_length({**scope, "method": "POST" if body else scope["method"]}, body) if body else scope
    status, headers, chunks = 500, [], []

    async def collect(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    async def quiet() -> Message:  # no client behind an internal call: it never disconnects
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    await app(scope, _replay(body, receive or quiet) if body else (receive or quiet), collect)
    return status, headers, b"".join(chunks)


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})
