"""Which constraints the configured model server honours, and how to send them.

Detection uses documented endpoints, then behaviour:

- vLLM answers ``GET /version``; its FastAPI schema (``/openapi.json``) lists
  ``structured_outputs`` on chat requests from 0.12 on. Older servers only
  know ``guided_*``, which newer ones silently ignore, so we never send those:
  a vLLM without ``structured_outputs`` is treated as unconstrained.
- llama.cpp's own ``llama-server`` answers ``GET /props``; llama-cpp-python's
  server (FastAPI) lists a ``grammar`` field in its chat request schema.
- Ollama answers ``GET /api/version``; it and OpenAI get no constraint.

Then, for a server that claims grammar support, one tiny request with a
one-word grammar checks that the server really obeys it (a proxy in between
may drop unknown fields). The result is cached per (base_url, model) for the
life of the process. Whatever we send, the answer is still validated by
``amigo.edits``: a constraint makes good answers likely, never trusted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from amigo.errors import ConfigError

Kind = Literal["llama.cpp", "llama-cpp-python", "vllm", "ollama", "openai-compatible", "unreachable"]

PROBE_GRAMMAR = 'root ::= "amigo-ok"'
PROBE_ANSWER = "amigo-ok"


@dataclass(frozen=True)
class Backend:
    """What one model server can do. ``grammar_via`` says where a GBNF grammar
    goes in the request body (``"grammar"`` or ``"structured_outputs"``);
    None means the server cannot be constrained."""

    base_url: str
    model: str
    kind: Kind
    grammar_via: str | None = None
    json_schema_via: str | None = None
    version: str | None = None
    verified: bool = False
    note: str = ""

    @property
    def constrainable(self) -> bool:
        return self.grammar_via is not None or self.json_schema_via is not None

    def describe(self) -> str:
        """One line for ``amigo doctor`` / a status bar."""
        name = self.kind + (f" {self.version}" if self.version else "")
        if self.grammar_via:
            how = f"constrained decoding via {self.grammar_via!r}" + (" (verified)" if self.verified else "")
        elif self.json_schema_via:
            how = f"JSON-schema decoding via {self.json_schema_via!r}"
        else:
            how = "free decoding (no constraint support)"
        return f"{name} at {self.base_url}: {how}" + (f"; {self.note}" if self.note else "")

    def __str__(self) -> str:
        return self.describe()


_CACHE: dict[tuple[str, str], Backend] = {}
_LOCK = threading.Lock()


def clear_probe_cache() -> None:
    """Forget every probe (after the person switches servers)."""
    with _LOCK:
        _CACHE.clear()


def _root(base_url: str) -> str:
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _get_json(http: httpx.Client, url: str) -> Any:
    try:
        response = http.get(url)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _chat_request_fields(openapi: Any) -> set[str]:
    """Property names of the chat-completion request in a FastAPI schema."""
    if not isinstance(openapi, dict):
        return set()
    schemas = (openapi.get("components") or {}).get("schemas") or {}
    fields: set[str] = set()
    for name, schema in schemas.items():
        if "chatcompletionrequest" in name.replace("_", "").lower() and isinstance(schema, dict):
            fields.update((schema.get("properties") or {}).keys())
    return fields


def _detect(http: httpx.Client, base_url: str, model: str) -> Backend:
    root = _root(base_url)
    version = _get_json(http, f"{root}/version")
    if isinstance(version, dict) and isinstance(version.get("version"), str):
        fields = _chat_request_fields(_get_json(http, f"{root}/openapi.json"))
        v = version["version"]
        if "structured_outputs" in fields:
            return Backend(base_url, model, "vllm", "structured_outputs", "structured_outputs", v)
        if fields and any(f.startswith("guided_") for f in fields):
            return Backend(base_url, model, "vllm", None, None, v,
                           note="this vLLM only has the removed guided_* parameters; upgrade to 0.12 or later")
        if not fields:
            return Backend(base_url, model, "vllm", None, None, v,
                           note="its /openapi.json is not available, so structured outputs cannot be confirmed")
    props = _get_json(http, f"{root}/props")
    if isinstance(props, dict) and ("default_generation_settings" in props or "total_slots" in props):
        build = props.get("build_info") if isinstance(props.get("build_info"), str) else None
        return Backend(base_url, model, "llama.cpp", "grammar", "json_schema", build)
    fields = _chat_request_fields(_get_json(http, f"{root}/openapi.json"))
    if "grammar" in fields:
        return Backend(base_url, model, "llama-cpp-python", "grammar", None)
    ollama = _get_json(http, f"{root}/api/version")
    if isinstance(ollama, dict) and "version" in ollama:
        return Backend(base_url, model, "ollama", None, None, str(ollama["version"]))
    return Backend(base_url, model, "openai-compatible")


def constraint_body(backend: Backend, grammar: str) -> dict[str, Any]:
    """The request-body fields that carry ``grammar`` to ``backend``."""
    if backend.grammar_via == "structured_outputs":
        return {"structured_outputs": {"grammar": grammar}}
    if backend.grammar_via == "grammar":
        return {"grammar": grammar}
    raise ConfigError(f"{backend.describe()}: it takes no grammar")


def json_schema_body(backend: Backend, schema: dict[str, Any]) -> dict[str, Any]:
    """The request-body fields that carry a JSON schema to ``backend``."""
    if backend.json_schema_via == "structured_outputs":
        return {"structured_outputs": {"json": schema}}
    if backend.json_schema_via == "json_schema":
        return {"json_schema": schema}
    raise ConfigError(f"{backend.describe()}: it takes no JSON schema")


def _verify(http: httpx.Client, backend: Backend, api_key: str | None) -> Backend:
    """Send a one-word grammar; a server that answers anything else ignores it."""
    body = {
        "model": backend.model,
        "messages": [{"role": "user", "content": "Reply with one word."}],
        "max_tokens": 12,
        "temperature": 0,
        "stream": False,
        **constraint_body(backend, PROBE_GRAMMAR),
    }
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = http.post(f"{backend.base_url.rstrip('/')}/chat/completions", json=body, headers=headers)
    except httpx.HTTPError as err:
        # No answer is no evidence either way (a busy CPU server may be slow):
        # keep what the documented endpoints said, marked as not verified.
        return Backend(**{**backend.__dict__, "note": f"not verified: the test request failed ({type(err).__name__})"})
    try:
        text = response.json()["choices"][0]["message"]["content"] if response.status_code == 200 else None
    except (ValueError, KeyError, IndexError, TypeError):
        text = None
    if isinstance(text, str) and text.strip() == PROBE_ANSWER:
        return Backend(**{**backend.__dict__, "verified": True})
    seen = f"HTTP {response.status_code}" if text is None else f"{text[:40]!r}"
    return Backend(**{
        **backend.__dict__, "grammar_via": None, "json_schema_via": None, "verified": False,
        "note": f"it ignored a test grammar (answered {seen}), so its output cannot be constrained",
    })


def probe_backend(
    base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0, verify: bool = True,
    refresh: bool = False,
) -> Backend:
    """Find out (once per process) what the server at ``base_url`` can constrain."""
    key = (base_url.rstrip("/"), model)
    with _LOCK:
        if key in _CACHE and not refresh:
            return _CACHE[key]
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), headers=headers) as http:
        try:
            http.get(f"{_root(base_url)}/", timeout=min(timeout, 5.0))
        except httpx.HTTPError as err:
            backend = Backend(base_url, model, "unreachable", note=f"cannot connect ({type(err).__name__})")
            return backend  # not cached: the server may come up later
        backend = _detect(http, base_url, model)
        if backend.grammar_via and verify:
            backend = _verify(http, backend, api_key)
    with _LOCK:
        _CACHE[key] = backend
    return backend
