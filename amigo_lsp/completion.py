"""Inline completion over LSP: ``textDocument/inlineCompletion`` (LSP 3.18), and what became of each suggestion.

Timing lives here, the rest in :mod:`amigo.complete`:

* **Debounce.** A request waits ``completion.debounce_ms`` (an explicit one,
  ``triggerKind: Invoked``, does not); a newer request for the same document
  meanwhile makes it answer nothing without asking the model.
* **Cancel on typing.** A newer request for the document, or ``$/cancelRequest``
  for this one, sets the generation's cancel event: the HTTP stream is closed,
  which stops the model server.
* **Typing through.** The engine's prefix cache answers with the rest of a
  suggestion while the person types what it suggested.

Verdicts (events on the session's bus, which the feedback recorder keeps):
*accepted* when the client runs the item's ``command`` (``amigo.completionAccepted``,
optionally with ``accepted``: the part taken, for partial accepts), or when the
person typed the whole suggestion themselves; *rejected* when they typed
something else there (``typed-over``, with what they wrote once the line is
done), moved elsewhere (``dismissed``), said so (``amigo.completionRejected``),
or did nothing within ``completion.reject_after_s`` (``timeout``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from amigo.client import Cancelled
from amigo.complete import Completer
from amigo.config import CompletionSettings, Config, load_config
from amigo.errors import AmigoError
from amigo.events import Suggestion
from amigo_lsp.server import AmigoServer
from amigo_lsp.textedits import offset_at
from amigo_lsp.threads import run_in_thread

if TYPE_CHECKING:
    from amigo.engine import EditSession

log = logging.getLogger(__name__)

ACCEPTED = "amigo.completionAccepted"
REJECTED = "amigo.completionRejected"


@dataclass
class Shown:
    """A suggestion on screen, waiting for its verdict."""

    suggestion: Suggestion
    completer: Completer
    uri: str
    anchor: str  # the document's text before the suggestion's start when it was shown
    shown_at: float
    line_rest: str = ""  # what already followed the cursor on its line (not part of what the person writes)
    diverged: bool = False

    @property
    def start(self) -> int:
        return len(self.anchor)


class InlineCompletions:
    """The inline completion state of one language server: requests per document and shown suggestions."""

    def __init__(self, server: AmigoServer) -> None:
        self.server = server
        self._completers: dict[int, tuple["EditSession", Completer]] = {}
        self._by_uri: dict[str, Completer] = {}
        self._latest: dict[str, int] = {}  # uri -> number of the newest request
        self._inflight: dict[str, threading.Event] = {}
        self.shown: dict[str, Shown] = {}  # uri -> the suggestion on screen
        self.stats: dict[str, int] = {"requests": 0, "superseded": 0, "cancelled": 0, "answered": 0,
                                      "empty": 0, "failed": 0}
        self._warned: str | None = None

    # -- requests -----------------------------------------------------------------

    async def handle(self, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        """One ``textDocument/inlineCompletion``: debounce, settle the last suggestion, ask, answer."""
        uri = params.text_document.uri
        self.stats["requests"] += 1
        number = self._latest[uri] = self._latest.get(uri, 0) + 1
        older = self._inflight.pop(uri, None)
        if older is not None:
            older.set()  # the person typed on: stop the generation for the old text
            self.stats["cancelled"] += 1
        try:
            path, text, _ = self.server._document(uri)
        except AmigoError as exc:
            log.info("no completion for %s: %s", uri, exc)
            return None
        offset = offset_at(text, params.position.line, params.position.character, self.server.encoding)
        self.settle(uri, text, offset)
        settings = self._settings(uri)
        if not settings.enabled:
            return None
        explicit = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        if not explicit and settings.debounce_ms:
            await asyncio.sleep(settings.debounce_ms / 1000)
        if self._latest.get(uri) != number:
            self.stats["superseded"] += 1
            return None
        cancel = threading.Event()
        self._inflight[uri] = cancel
        try:
            completer, suggestion = await run_in_thread(
                lambda: self._complete(uri, path, text, offset, cancel, explicit), cancel, "amigo-complete")
        except Cancelled:
            return None
        except AmigoError as exc:
            self.stats["failed"] += 1
            self._warn_once(str(exc))
            return None
        finally:
            if self._inflight.get(uri) is cancel:
                self._inflight.pop(uri, None)
        if suggestion is None or self._latest.get(uri) != number:
            self.stats["empty" if suggestion is None else "superseded"] += 1
            return None
        self.stats["answered"] += 1
        line_end = text.find("\n", offset)
        self._show(uri, text[:offset], suggestion, completer, text[offset:line_end if line_end >= 0 else len(text)])
        item = types.InlineCompletionItem(
            insert_text=suggestion.text, range=types.Range(params.position, params.position),
            command=types.Command(title="Amigo: suggestion accepted", command=ACCEPTED,
                                  arguments=[{"id": suggestion.id}]))
        return types.InlineCompletionList(items=[item])

    def _settings(self, uri: str) -> CompletionSettings:
        """The completion settings of the document's repository (editor defaults before its first request)."""
        completer = self._by_uri.get(uri)
        if completer is not None:
            return completer.settings
        return self.server.editor_settings.apply(Config()).completion

    def _complete(self, uri: str, path: Path, text: str, offset: int, cancel: threading.Event,
                  explicit: bool) -> tuple[Completer, Suggestion | None]:
        """On a worker thread: the session (built on first use: git, config) and the suggestion."""
        session = self.server.session_for(path)
        completer = self._by_uri[uri] = self.completer_for(session)
        if not completer.settings.enabled:
            return completer, None
        rel = session.workspace.relpath(path)
        return completer, completer.complete(rel, text, offset, cancel=cancel, explicit=explicit)

    def completer_for(self, session: "EditSession") -> Completer:
        """One completer per session: it shares the session's model client and event bus."""
        known = self._completers.get(id(session))
        if known is None or known[0] is not session:
            known = (session, Completer(session.config, session.client, session.events, session.repo_root))
            self._completers[id(session)] = known
        return known[1]

    def _warn_once(self, message: str) -> None:
        """A failing server is shown once, not at every keystroke."""
        if message != self._warned:
            self._warned = message
            self.server.show(types.MessageType.Warning, f"Amigo completion: {message}")

    def cancel_all(self) -> None:
        for event in list(self._inflight.values()):
            event.set()

    # -- verdicts -----------------------------------------------------------------

    def _show(self, uri: str, anchor: str, suggestion: Suggestion, completer: Completer, line_rest: str) -> None:
        current = self.shown.get(uri)
        if current is not None and current.suggestion.id == suggestion.id:
            return  # the rest of the suggestion being typed through: shown once
        if current is not None:
            self._close(uri, current, "dismissed")
        shown = Shown(suggestion, completer, uri, anchor, time.time(), line_rest=line_rest)
        self.shown[uri] = shown
        completer.shown(suggestion)
        delay = completer.settings.reject_after_s
        self.server.on_loop(self._arm_timeout, uri, suggestion.id, delay)

    def _arm_timeout(self, uri: str, suggestion_id: str, delay: float) -> None:
        loop = self.server.loop
        if loop is not None:
            loop.call_later(delay, self._timeout, uri, suggestion_id)

    def _timeout(self, uri: str, suggestion_id: str) -> None:
        shown = self.shown.get(uri)
        if shown is None or shown.suggestion.id != suggestion_id:
            return
        try:
            text = self.server.workspace.get_text_document(uri).source
        except (OSError, UnicodeDecodeError):
            text = ""
        self._finish(uri, shown, text, "timeout")

    def settle(self, uri: str, text: str, offset: int) -> None:
        """What the document now says about the suggestion on screen (called at each request)."""
        shown = self.shown.get(uri)
        if shown is None:
            return
        if offset < shown.start or text[:shown.start] != shown.anchor:
            self._finish(uri, shown, text, "dismissed")
            return
        typed = text[shown.start:offset]
        wanted = shown.suggestion.text
        if typed == wanted:
            self._close(uri, shown, None, accepted=wanted)  # typed it all out
        elif not wanted.startswith(typed):
            shown.diverged = True
            end = _span_end(text, shown.start, wanted)
            if offset > end:  # the person moved past the line(s) they wrote instead
                self._close(uri, shown, "typed-over", typed=_own(text[shown.start:end], shown.line_rest))

    def _finish(self, uri: str, shown: Shown, text: str, reason: str) -> None:
        """Close a suggestion whose place the person left (or that timed out)."""
        if text[:shown.start] != shown.anchor:
            self._close(uri, shown, reason)
            return
        end = _span_end(text, shown.start, shown.suggestion.text)
        written = _own(text[shown.start:end], shown.line_rest)
        if shown.diverged:
            self._close(uri, shown, "typed-over", typed=written)
        elif written and shown.suggestion.text.startswith(written) and written.strip():
            self._close(uri, shown, None, accepted=written)  # a partial accept (word by word, or typed)
        else:
            self._close(uri, shown, reason)

    def _close(self, uri: str, shown: Shown, reason: str | None, typed: str | None = None,
               accepted: str | None = None) -> None:
        if self.shown.get(uri) is shown:
            del self.shown[uri]
        if accepted is not None:
            shown.completer.accepted(shown.suggestion, accepted)
        else:
            shown.completer.rejected(shown.suggestion, reason or "dismissed", typed)

    def _find(self, suggestion_id: str) -> Shown | None:
        return next((s for s in self.shown.values() if s.suggestion.id == suggestion_id), None)

    def command_accepted(self, args: tuple[Any, ...]) -> dict[str, Any]:
        """``amigo.completionAccepted {id, accepted?}``: the client inserted (part of) the suggestion."""
        suggestion_id, extra = _id_and(ACCEPTED, args, "accepted")
        shown = self._find(suggestion_id)
        if shown is None:
            return {"ok": False, "error": f"no suggestion {suggestion_id!r} is on screen"}
        self._close(shown.uri, shown, None, accepted=extra if extra else shown.suggestion.text)
        return {"ok": True, "id": suggestion_id}

    def command_rejected(self, args: tuple[Any, ...]) -> dict[str, Any]:
        """``amigo.completionRejected {id, reason?}``: the client dismissed the suggestion."""
        suggestion_id, reason = _id_and(REJECTED, args, "reason")
        shown = self._find(suggestion_id)
        if shown is None:
            return {"ok": False, "error": f"no suggestion {suggestion_id!r} is on screen"}
        self._close(shown.uri, shown, reason or "dismissed")
        return {"ok": True, "id": suggestion_id}

    # -- classic completion items (clients without inline completion) --------------

    async def classic(self, params: types.CompletionParams) -> list[types.CompletionItem]:
        """The same suggestion as one ``CompletionItem`` (only when ``completion.classic_items`` is on)."""
        inline = types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=params.text_document, position=params.position)
        result = await self.handle(inline)
        if not result or not result.items:
            return []
        item = result.items[0]
        text = str(item.insert_text)
        first = text.strip().splitlines()[0] if text.strip() else text
        return [types.CompletionItem(
            label=first[:60], kind=types.CompletionItemKind.Text, detail="Amigo",
            insert_text=text, command=item.command, sort_text="~amigo",
            text_edit=types.TextEdit(range=types.Range(params.position, params.position), new_text=text))]


def _span_end(text: str, start: int, suggestion: str) -> int:
    """Where the person's own version of a suggestion ends: as many lines as the suggestion spans."""
    end = start
    for _ in range(suggestion.count("\n") + 1):
        nl = text.find("\n", end)
        if nl < 0:
            return len(text)
        end = nl + 1
    return end - 1


def _own(written: str, line_rest: str) -> str:
    """What the person wrote at the suggestion's place, without the text that already followed the cursor."""
    rest = line_rest.strip()
    if rest and written.rstrip().endswith(rest):
        return written.rstrip()[: -len(rest)]
    return written


def _id_and(command: str, args: tuple[Any, ...], name: str) -> tuple[str, str | None]:
    """The ``{id, <name>}`` object (or positional values) a completion command takes."""
    obj: Any = args[0] if len(args) == 1 and isinstance(args[0], dict) else dict(zip(("id", name), args))
    suggestion_id = obj.get("id")
    if not isinstance(suggestion_id, str) or not suggestion_id:
        raise JsonRpcInvalidParams(f"{command} needs the suggestion id (a string), got {suggestion_id!r}")
    extra = obj.get(name)
    if extra is not None and not isinstance(extra, str):
        raise JsonRpcInvalidParams(f"{command}: '{name}' must be a string")
    return suggestion_id, extra


def register(server: AmigoServer) -> InlineCompletions:
    """Add inline completion to ``server`` (advertised); classic items are added at initialize if asked."""
    state = InlineCompletions(server)
    server.completions = state  # type: ignore[attr-defined]

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: AmigoServer, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        return await state.handle(params)

    @server.command(ACCEPTED)
    def completion_accepted(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        return state.command_accepted(args)

    @server.command(REJECTED)
    def completion_rejected(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        return state.command_rejected(args)

    return state


def on_initialize(server: AmigoServer, params: types.InitializeParams) -> None:
    """Add classic ``textDocument/completion`` items when ``completion.classic_items`` is on (off by default).

    pygls computes the capabilities after the initialize handler, so a feature
    added here is advertised only to the sessions that asked for it.
    """
    root = None
    if params.root_uri and params.root_uri.startswith("file:"):
        from pygls.uris import to_fs_path

        root = Path(to_fs_path(params.root_uri) or ".")
    try:
        config = server.editor_settings.apply(load_config(root))
    except AmigoError:
        return  # the settings error is shown after initialization
    if not config.completion.classic_items:
        return
    state: InlineCompletions = server.completions  # type: ignore[attr-defined]

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(ls: AmigoServer, p: types.CompletionParams) -> list[types.CompletionItem]:
        return await state.classic(p)

