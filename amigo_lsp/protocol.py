"""A pygls protocol that answers every request, whatever arrives.

pygls structures messages inside ``json.loads``'s object hook; when params do
not fit it reports the error through ``window/showMessage`` and sends no
response, so the client waits forever. Here messages stay plain dicts until
the top level, where they are checked and structured: every request gets a
result or a JSON-RPC error (invalid request, invalid params, method not
found, not initialized), notifications that do not fit are logged, and the
server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
from typing import Any, Callable, Generator

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol, lsp_method

from amigo_lsp.transport import frame

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002

# The params of the workspace/executeCommand being handled (for its workDoneToken).
current_command: contextvars.ContextVar[types.ExecuteCommandParams | None] = contextvars.ContextVar(
    "amigo_current_command", default=None)

_ALLOWED_BEFORE_INIT = {types.INITIALIZE, types.EXIT, types.CANCEL_REQUEST}


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


class AmigoProtocol(LanguageServerProtocol):
    """LanguageServerProtocol with top-level validation and request-aware cancellation."""

    initialized_once = False  # set by the initialize handler
    shutting_down = False  # set once ``shutdown`` has been answered
    on_cancel_request: Callable[[Any], None] | None = None  # also told of each ``$/cancelRequest``
    frames_with_headers = True  # what set_writer was told: frame messages, or hand over bare bodies

    def set_writer(self, writer: Any, include_headers: bool = True) -> None:
        """Remember whether messages are framed (send_error writes through the same writer)."""
        super().set_writer(writer, include_headers)
        self.frames_with_headers = include_headers

    def structure_message(self, data: dict[str, Any]) -> Any:  # noqa: D401 - pygls hook
        """Keep every object a dict during parsing; :meth:`handle_message` structures the top level."""
        return data

    def send_error(self, msg_id: Any, code: int, message: str) -> None:
        """A JSON-RPC error response (``id`` null when the request's id is unusable)."""
        body = json.dumps({"jsonrpc": "2.0", "id": msg_id if _valid_id(msg_id) else None,
                           "error": {"code": code, "message": message}}).encode("utf-8")
        if self.writer is None:
            log.error("no client to send an error to: %s", message)
            return
        written = self.writer.write(frame(body) if self.frames_with_headers else body)
        if inspect.isawaitable(written):  # an asynchronous writer (TCP, websockets)
            asyncio.ensure_future(written)

    def handle_message(self, message: Any) -> None:
        try:
            self._handle_checked(message)
        except Exception:  # noqa: BLE001 - the loop must survive anything a client sends
            log.exception("unexpected failure handling a message")
            if isinstance(message, dict) and "method" in message and _valid_id(message.get("id")):
                self.send_error(message["id"], INTERNAL_ERROR, "internal error in the Amigo server; see its log")

    def _handle_checked(self, message: Any) -> None:
        if not isinstance(message, dict):
            self.send_error(None, INVALID_REQUEST, "invalid request: a JSON-RPC message must be an object")
            return
        has_id = "id" in message
        msg_id = message.get("id")
        method = message.get("method")
        if message.get("jsonrpc") != "2.0":
            if has_id:
                self.send_error(msg_id, INVALID_REQUEST, "invalid request: 'jsonrpc' must be \"2.0\"")
            return
        if "method" not in message:
            self._handle_response_dict(message)
            return
        if not isinstance(method, str):
            if has_id:
                self.send_error(msg_id, INVALID_REQUEST, "invalid request: 'method' must be a string")
            return
        if has_id and not _valid_id(msg_id):
            self.send_error(None, INVALID_REQUEST, "invalid request: 'id' must be a string or an integer")
            return
        if has_id and not self.initialized_once and method not in _ALLOWED_BEFORE_INIT:
            self.send_error(msg_id, SERVER_NOT_INITIALIZED, "the server is not initialized yet: send 'initialize' first")
            return
        if method == types.INITIALIZE and self.initialized_once:
            if has_id:
                self.send_error(msg_id, INVALID_REQUEST, "the server is already initialized")
            return
        if has_id and _is_notification(method):
            self.send_error(msg_id, INVALID_REQUEST, f"{method} is a notification: send it without an id")
            return
        if self.shutting_down and method != types.EXIT:
            if has_id:
                self.send_error(msg_id, INVALID_REQUEST, "the server is shutting down")
            return
        if method == types.CANCEL_REQUEST and self.on_cancel_request is not None:
            self._cancel_generation(message.get("params"))
        try:
            structured = super().structure_message(message)
        except JsonRpcException as exc:
            detail = _cause(exc)
            if has_id:
                self.send_error(msg_id, INVALID_PARAMS, f"invalid params for {method}: {detail}")
            else:
                log.warning("ignored %s notification with invalid params: %s", method, detail)
            return
        super().handle_message(structured)

    def _handle_response_dict(self, message: dict[str, Any]) -> None:
        """A response from the client to one of our requests; a malformed one fails that request."""
        msg_id = message.get("id")
        if not _valid_id(msg_id):
            log.warning("ignored a response with an unusable id: %r", msg_id)
            return
        try:
            structured = super().structure_message(message)
        except JsonRpcException as exc:
            detail = _cause(exc)
            log.warning("malformed response to request %r: %s", msg_id, detail)
            # answered as an error response, so the request waiting for it fails instead of hanging
            super().handle_message(types.ResponseErrorMessage(id=msg_id, error=types.ResponseError(
                code=INVALID_PARAMS, message=f"malformed response: {detail}")))
            return
        if not hasattr(structured, "jsonrpc"):
            log.warning("ignored a message that is neither request nor response: %r", message)
            return
        super().handle_message(structured)

    def _cancel_generation(self, params: Any) -> None:
        """``$/cancelRequest``: also stop a generation the request started (pygls cancels only its future)."""
        msg_id = params.get("id") if isinstance(params, dict) else None
        if not _valid_id(msg_id):
            return
        try:
            self.on_cancel_request(msg_id)  # type: ignore[misc]
        except Exception:  # noqa: BLE001
            log.exception("cancelling request %r failed", msg_id)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """pygls' shutdown, then refuse every request but ``exit``."""
        yield from super().lsp_shutdown(*args)
        self.shutting_down = True

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Generator[Any, Any, Any]:
        """Remember the params (their workDoneToken) for the command handler, then run it."""
        current_command.set(params)
        result = yield from super().lsp_workspace__execute_command(params)
        return result


def _is_notification(method: str) -> bool:
    """True for LSP methods that are notifications (their message type has no id)."""
    message_type = types.METHOD_TO_TYPES.get(method, (None,))[0]
    if message_type is None:
        return False
    return "id" not in {a.name for a in getattr(message_type, "__attrs_attrs__", ())}


def _cause(exc: BaseException) -> str:
    """The deepest useful message of a cattrs structuring failure."""
    cause = exc.__cause__ or exc
    subs = getattr(cause, "exceptions", None)
    while subs:
        cause = subs[0]
        subs = getattr(cause, "exceptions", None)
    if isinstance(cause, KeyError):
        return f"missing field {cause}"
    text = str(cause) or type(cause).__name__
    return text[:300]
