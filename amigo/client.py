"""The one model client: OpenAI-compatible chat completions, streamed.

vLLM, llama.cpp's server, Ollama (``/v1``) and OpenAI all speak this API, so
switching servers is configuration, never code. Every failure becomes a
:class:`ModelServerError` whose message says what to do; callers never see a
transport traceback.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import httpx

from amigo.errors import ModelServerError
from amigo.server_state import dead_server_report

START_HINT = "start the embedded one with `amigo serve`, or set `endpoint` in amigo.toml / AMIGO_ENDPOINT"


class Cancelled(ModelServerError):
    """The caller cancelled the generation."""


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    seconds: float
    first_token_s: float | None


@dataclass
class StreamStats:
    """Filled in while a stream runs; read it after the iterator ends."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    chunks: int = 0
    first_token_s: float | None = None
    seconds: float = 0.0
    logprobs: list[float] = field(default_factory=list)  # per token, when the request asked for them
    stopped: str | None = None  # why the engine stopped reading before the end (its problem, in words), when it did


class ChatClient:
    """A small OpenAI-compatible chat client with timeouts, retries and cancellation."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers=headers,
            transport=transport,
        )
        self._read_timeout = read_timeout
        # the network streams of the connections this client opened (see close); weak, so a
        # connection the pool drops is not kept
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_config(cls, config: Any) -> "ChatClient":
        return cls(
            config.endpoint, config.adapter or config.model, api_key=config.api_key,
            connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
            retries=config.retries,
        )

    def close(self) -> None:
        """Close the connections. A stream another thread is reading, or still waiting for its
        headers, ends at once with :class:`Cancelled`: closing a socket does not wake a read
        blocked on it in another thread (it would wait out ``read_timeout``, and the process at
        exit with it), so every socket this client opened is shut down first."""
        with self._connections_lock:
            self._closed = True
            opened = list(self._connections)
        for network_stream in opened:
            _shut_down(network_stream)
        self._http.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called: nothing more will stream."""
        return self._closed

    def __enter__(self) -> "ChatClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public -----------------------------------------------------------------

    def models(self) -> list[str]:
        """The model ids the server offers (a cheap liveness check)."""
        response = self._send("GET", "/models", None)
        try:
            return [m["id"] for m in response.json().get("data", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ModelServerError(f"{self.base_url}/models answered something that is not a model list") from None

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        cancel: threading.Event | None = None,
        stats: StreamStats | None = None,
        **params: Any,
    ) -> Iterator[str]:
        """Yield text deltas as the server produces them.

        Retries happen only before the first token: a half-streamed answer is
        never silently restarted. ``cancel`` is checked between chunks; setting
        it closes the connection, which makes llama.cpp and vLLM stop generating.
        """
        body = {"model": self.model, "messages": list(messages), "stream": True, **params}
        body.setdefault("stream_options", {"include_usage": True})
        yield from self._stream_post(f"{self.base_url}/chat/completions", body, cancel, stats, _chat_delta)

    def stream_choices(
        self,
        messages: Sequence[dict[str, str]],
        n: int,
        cancel: threading.Event | None = None,
        stats: list[StreamStats] | None = None,
        **params: Any,
    ) -> Iterator[tuple[int, str]]:
        """Yield (choice index, text delta) of ``n`` answers to one prompt, asked for at once
        (OpenAI's ``n``; llama-server evaluates the prompt once and copies it to a slot per
        answer, each sampling with ``seed`` + its index). ``stats`` holds one StreamStats per
        choice. A server that ignores ``n`` sends choice 0 only; closing the stream stops all."""
        body = {"model": self.model, "messages": list(messages), "stream": True, "n": n, **params}
        body.setdefault("stream_options", {"include_usage": True})
        yield from self._stream_choices_post(f"{self.base_url}/chat/completions", body, cancel, None, _chat_delta,
                                             stats)

    def stream_text(
        self,
        prompt: str,
        cancel: threading.Event | None = None,
        stats: StreamStats | None = None,
        **params: Any,
    ) -> Iterator[str]:
        """Yield the deltas of a plain ``/completions`` request (no chat template).

        Fill-in-the-middle prompts go this way: the caller has already laid
        out the model's FIM tokens, so the server must not wrap them in a
        chat turn. Same retries, timeouts and cancellation as :meth:`stream`.
        """
        body = {"model": self.model, "prompt": prompt, "stream": True, **params}
        body.setdefault("stream_options", {"include_usage": True})
        yield from self._stream_post(f"{self.base_url}/completions", body, cancel, stats, _text_delta)

    def stream_infill(
        self,
        prefix: str,
        suffix: str,
        extra: Sequence[dict[str, str]] = (),
        cancel: threading.Event | None = None,
        stats: StreamStats | None = None,
        **params: Any,
    ) -> Iterator[str]:
        """Yield the deltas of llama.cpp's ``/infill`` (the server lays out the model's own FIM tokens).

        ``/infill`` lives at the server's root, beside ``/v1``; ``extra`` is
        repository context as ``{"filename", "text"}`` chunks.
        """
        root = self.base_url[:-3] if self.base_url.endswith("/v1") else self.base_url
        body = {"input_prefix": prefix, "input_suffix": suffix, "input_extra": list(extra), "stream": True, **params}
        yield from self._stream_post(f"{root}/infill", body, cancel, stats, _infill_delta)

    def _stream_post(
        self, url: str, body: dict[str, Any], cancel: threading.Event | None, stats: StreamStats | None,
        deltas: "Callable[[dict[str, Any]], Iterator[Delta]]",
    ) -> Iterator[str]:
        for _, text in self._stream_choices_post(url, body, cancel, stats, deltas):
            yield text

    def _stream_choices_post(
        self, url: str, body: dict[str, Any], cancel: threading.Event | None, stats: StreamStats | None,
        deltas: "Callable[[dict[str, Any]], Iterator[Delta]]", choices: list[StreamStats] | None = None,
    ) -> Iterator[tuple[int, str]]:
        stats = stats if stats is not None else StreamStats()
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            if self._closed:
                raise Cancelled("the client was closed before the answer streamed")
            try:
                with self._http.stream("POST", url, json=body, extensions={"trace": self._trace}) as response:
                    if response.status_code >= 400:
                        response.read()
                        self._raise_for_status(response, retryable_ok=attempt <= self.retries)
                    yield from self._iter_sse(response, cancel, stats, started, deltas, choices)
                    stats.seconds = time.monotonic() - started
                    return
            except (httpx.HTTPError, _ClosedEmpty, ModelServerError) if self._closed else ():
                # (matched only once close() was called: then a read that failed is our doing,
                # not a server that dropped the connection or crashed)
                raise Cancelled("the client was closed while the answer streamed") from None
            except _Retry as retry:
                self._backoff(attempt, retry.reason)
            except _ClosedEmpty as exc:
                # a server that is shutting down (a restart onto a new model drains it) may take the
                # request and close the stream before any event: nothing was shown, so ask again,
                # unless the server says it refuses this request (asking again would not help)
                refusal = self._refusal(url, body)
                if refusal:
                    raise ModelServerError(refusal) from None
                if attempt <= self.retries:
                    self._backoff(attempt, "closed before any event")
                    continue
                raise ModelServerError(str(exc)) from None
            except httpx.ConnectError as exc:
                crashed = self._crashed()
                if stats.chunks == 0 and attempt <= self.retries and not crashed:
                    self._backoff(attempt, "connect")
                    continue
                raise ModelServerError(crashed or self._unreachable(exc)) from None
            except httpx.TimeoutException as exc:
                if stats.chunks == 0 and attempt <= self.retries and isinstance(exc, httpx.ConnectTimeout):
                    self._backoff(attempt, "connect timeout")
                    continue
                raise ModelServerError(
                    f"the model server at {self.base_url} did not answer within "
                    f"{self._read_timeout:g} s; it may be overloaded: try again, or raise read_timeout"
                ) from None
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                raise ModelServerError(self._dropped(stats.chunks, exc, self._crashed())) from None
            except httpx.HTTPError as exc:
                raise ModelServerError(
                    self._crashed() or f"the connection to the model server at {self.base_url} failed "
                    f"({type(exc).__name__}: {exc}); check that it is running and try again"
                ) from None

    def complete(self, messages: Sequence[dict[str, str]], cancel: threading.Event | None = None, **params: Any) -> Completion:
        """Stream to the end and return the whole answer."""
        stats = StreamStats()
        text = "".join(self.stream(messages, cancel=cancel, stats=stats, **params))
        return Completion(text, stats.prompt_tokens, stats.completion_tokens, stats.finish_reason,
                          stats.seconds, stats.first_token_s)

    def post_json(self, path: str, body: dict[str, Any] | None) -> httpx.Response:
        """POST (or GET when body is None) to ``base_url + path``; errors as ModelServerError."""
        return self._send("POST" if body is not None else "GET", path, body)

    # -- internals --------------------------------------------------------------

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: each connection opened becomes known to :meth:`close` (one opened
        as it closes is shut down at once). A socket is known from its connect, not from a
        response, so a request still waiting for its headers can be freed too."""
        network_stream = info.get("return_value")
        if not event.endswith((".connect_tcp.complete", ".start_tls.complete")) or network_stream is None:
            return
        with self._connections_lock:
            self._connections.add(network_stream)
            closed = self._closed
        if closed:
            _shut_down(network_stream)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, f"{self.base_url}{path}", json=body)
                if response.status_code >= 400:
                    self._raise_for_status(response, retryable_ok=attempt <= self.retries)
                return response
            except _Retry as retry:
                self._backoff(attempt, retry.reason)
            except httpx.ConnectError as exc:
                crashed = self._crashed()
                if attempt <= self.retries and not crashed:
                    self._backoff(attempt, "connect")
                    continue
                raise ModelServerError(crashed or self._unreachable(exc)) from None
            except httpx.TimeoutException:
                raise ModelServerError(
                    f"the model server at {self.base_url} did not answer in time; try again, or raise read_timeout"
                ) from None
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                raise ModelServerError(self._dropped(0, exc, self._crashed())) from None
            except httpx.HTTPError as exc:
                raise ModelServerError(
                    self._crashed() or f"the connection to the model server at {self.base_url} failed "
                    f"({type(exc).__name__}: {exc})"
                ) from None

    # -- why a connection failed: three different stories ------------------------

    def _crashed(self) -> str | None:
        """The crash report when Amigo started this server and it has died, else None."""
        return dead_server_report(self.base_url)

    def _unreachable(self, exc: Exception) -> str:
        """No connection at all, and no crash of ours to name: nothing listening, or a network problem."""
        if "refused" in str(exc).lower():
            return (f"cannot reach the model server at {self.base_url}: nothing is listening there "
                    f"(connection refused); {START_HINT}")
        return f"cannot reach the model server at {self.base_url} ({exc}); {START_HINT}"

    def _dropped(self, chunks: int, exc: Exception | None, crashed: str | None) -> str:
        """The server closed the connection before the answer was complete; ``crashed`` is
        what :meth:`_crashed` found (looked up once by the caller: it may wait seconds)."""
        if crashed:
            return crashed
        where = f"after {chunks} pieces of the answer" if chunks else "before sending any of the answer"
        why = f" ({exc})" if exc else ""
        return (f"the model server at {self.base_url} closed the connection {where}{why}; it may have been "
                "restarted, or interrupted this request for another one (llama-cpp-python does unless started "
                "with --interrupt_requests False, as `amigo serve` does): try again")

    def _refusal(self, url: str, body: dict[str, Any]) -> str | None:
        """Why the server refuses this request, asked without streaming; None when it takes it.

        llama-cpp-python closes an event stream empty, with HTTP 200, on a request it refuses (a
        prompt longer than its context) and gives the reason only to a plain request. One token is
        asked for: the refusal is about the prompt, and an accepted probe should cost little."""
        probe = {k: v for k, v in body.items() if k not in ("stream", "stream_options", "n")}
        response = None
        for _ in range(2):  # the pooled connection the empty stream came on may have been reset since
            try:
                response = self._http.post(url, json={**probe, "stream": False, "max_tokens": 1})
                break
            except httpx.HTTPError:
                continue
        if response is None or response.status_code < 400:
            return None
        return (f"the model server at {self.base_url} refused the request (HTTP {response.status_code}): "
                f"{_error_detail(response)}")

    @staticmethod
    def _backoff(attempt: int, reason: str) -> None:
        time.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))

    def _raise_for_status(self, response: httpx.Response, retryable_ok: bool) -> None:
        status = response.status_code
        if status in (429, 502, 503, 504) and retryable_ok:
            raise _Retry(f"HTTP {status}")
        detail = _error_detail(response)
        if status in (401, 403):
            raise ModelServerError(
                f"the model server at {self.base_url} refused the API key (HTTP {status}): "
                "set AMIGO_API_KEY to a valid key"
            )
        if status == 404:
            raise ModelServerError(
                f"the model server at {self.base_url} has no such model or route (HTTP 404: {detail}); "
                "check `endpoint` (it usually ends in /v1) and `model`"
            )
        raise ModelServerError(f"the model server at {self.base_url} answered HTTP {status}: {detail}")

    def _iter_sse(
        self, response: httpx.Response, cancel: threading.Event | None, stats: StreamStats, started: float,
        deltas: "Callable[[dict[str, Any]], Iterator[Delta]]", choices: list[StreamStats] | None = None,
    ) -> Iterator[tuple[int, str]]:
        """Yield (choice index, text) of each event; with ``choices`` (one per choice asked for),
        each choice's finish reason, log-probabilities and timing go to its own stats. A stream
        that ends without ``[DONE]`` or a finish reason was cut off (a dropped stream), which is
        not the same as a complete answer that happens to be empty (the engine reports that)."""
        def stats_of(index: int) -> StreamStats:
            return choices[index] if choices is not None and index < len(choices) else stats

        events = 0
        done = False
        for line in response.iter_lines():
            if cancel is not None and cancel.is_set():
                raise Cancelled("generation cancelled")
            if not line or line.startswith(":") or not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError:
                raise ModelServerError(
                    f"the model server at {self.base_url} sent a stream line that is not JSON: {data[:120]!r}"
                ) from None
            if not isinstance(chunk, dict):
                raise ModelServerError(f"the model server at {self.base_url} sent an unexpected stream chunk")
            if "error" in chunk:
                raise ModelServerError(f"the model server reported an error: {_short(chunk['error'])}")
            events += 1
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                stats.prompt_tokens = usage.get("prompt_tokens", stats.prompt_tokens)
                stats.completion_tokens = usage.get("completion_tokens", stats.completion_tokens)
            for choice in chunk.get("choices") or []:
                if isinstance(choice, dict):
                    _keep_logprobs(choice.get("logprobs"), stats_of(_index(choice)).logprobs)
            for index, finish, text in deltas(chunk):
                own = stats_of(index)
                if finish:
                    stats.finish_reason = own.finish_reason = finish
                if text:
                    stats.chunks += 1
                    if own is not stats:
                        own.chunks += 1
                    if stats.first_token_s is None:
                        stats.first_token_s = time.monotonic() - started
                    if own.first_token_s is None:
                        own.first_token_s = time.monotonic() - started
                    yield index, text
        if not done and stats.finish_reason is None:
            crashed = self._crashed()
            if events == 0 and not crashed:
                raise _ClosedEmpty(
                    f"the model server at {self.base_url} closed the stream without sending any event; "
                    "is it an OpenAI-compatible /v1 endpoint? If it is, it may have dropped the request: try again"
                )
            raise ModelServerError(self._dropped(stats.chunks, None, crashed))


Delta = tuple[int, "str | None", "str | None"]  # (choice index, finish reason, text)


def _index(choice: dict[str, Any]) -> int:
    index = choice.get("index", 0)
    return index if isinstance(index, int) and index >= 0 else 0


def _chat_delta(chunk: dict[str, Any]) -> Iterator[Delta]:
    """(choice index, finish reason, text) of each choice of a ``chat.completion.chunk``."""
    for choice in chunk.get("choices") or []:
        if isinstance(choice, dict):
            delta = choice.get("delta") or {}
            yield _index(choice), choice.get("finish_reason"), delta.get("content") if isinstance(delta, dict) else None


def _text_delta(chunk: dict[str, Any]) -> Iterator[Delta]:
    """(choice index, finish reason, text) of each choice of a ``text_completion`` chunk."""
    for choice in chunk.get("choices") or []:
        if isinstance(choice, dict):
            text = choice.get("text")
            yield _index(choice), choice.get("finish_reason"), text if isinstance(text, str) else None


def _infill_delta(chunk: dict[str, Any]) -> Iterator[Delta]:
    """llama.cpp's ``/infill`` stream: ``{"content": ..., "stop": bool}`` per chunk."""
    text = chunk.get("content")
    yield 0, ("stop" if chunk.get("stop") else None), text if isinstance(text, str) else None


def _keep_logprobs(logprobs: Any, into: list[float]) -> None:
    """Append the token log-probabilities of one stream chunk (OpenAI's ``logprobs.content``)."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    for item in content or []:
        value = item.get("logprob") if isinstance(item, dict) else None
        if isinstance(value, (int, float)):
            into.append(float(value))


class _Retry(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class _ClosedEmpty(ModelServerError):
    """The stream ended before any event (retried while retries are left, else reported as it is)."""


def _short(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("message", value)
    return str(value)[:300]


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict) and "error" in body:
        return _short(body["error"])
    if isinstance(body, dict) and "detail" in body:
        return _short(body["detail"])
    return str(body)[:300]


def _shut_down(network_stream: Any) -> None:
    """Shut the socket under httpcore's ``network_stream`` down (both ways), so a read blocked on
    it returns."""
    sock = network_stream.get_extra_info("socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed by the server or by the reader
            pass
