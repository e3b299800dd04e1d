"""Inline completion over LSP: ``textDocument/inlineCompletion`` (LSP 3.18), timing and cancellation.

Timing lives here, the prompt and stop rules in :mod:`amigo.complete`, what
became of each suggestion in :mod:`amigo_lsp.completion_verdicts`:

* **Debounce.** A request waits ``completion.debounce_ms`` (an explicit one,
  ``triggerKind: Invoked``, does not, nor one the cache or the generation under
  way answers); a newer request for the same document meanwhile makes it
  answer nothing without asking the model.
* **First words early.** Past ``completion.latency_ms`` after the keystroke, a
  suggestion still being written is answered as far as its words are whole,
  with ``more`` in its command's arguments; its generation goes on, and a
  request at that place, or typing what it shows, waits for it instead of
  stopping it (the editor asks again for the rest).
* **Cancel on typing.** A newer request for the document, or ``$/cancelRequest``
  for this one, sets the generation's cancel event: the HTTP stream is closed,
  which stops the model server.
* **One model request at a time.** A request whose debounce is over waits
  until the model request before it (cancelled or not) has ended, then asks
  only if it is still the newest: a local server computes one request at a
  time (llama.cpp notices a closed connection only when it sends a token), so
  every keystroke sent while it evaluates a prompt would queue up behind it.
  The newest keystroke's prompt then shares everything but its last
  characters with what the server has just evaluated.
* **Typing through.** The engine's prefix cache answers with the rest of a
  suggestion while the person types what it suggested.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lsprotocol import types

from amigo.client import Cancelled
from amigo.complete import Completer
from amigo.config import CompletionSettings, Config, load_config
from amigo.errors import AmigoError
from amigo.events import Suggestion
from amigo_lsp.completion_verdicts import ACCEPTED, REJECTED, Verdicts
from amigo_lsp.server import AmigoServer
from amigo_lsp.textedits import offset_at
from amigo_lsp.threads import run_in_thread

if TYPE_CHECKING:
    from amigo.engine import EditSession

log = logging.getLogger(__name__)

# How long a request waits for the model request before it to end (a cancelled one ends at its first
# token) before asking anyway: a server that hangs must not hold every later suggestion.
OLDER_REQUEST_WAIT_S = 10.0

class InlineCompletions:
    """The inline completion state of one language server: requests per document and shown suggestions."""

    def __init__(self, server: AmigoServer) -> None:
        self.server = server
        self._completers: dict[int, tuple["EditSession", Completer]] = {}
        self._by_uri: dict[str, Completer] = {}
        self._relpaths: dict[str, str] = {}  # uri -> its path in the repository, once known
        self._latest: dict[str, int] = {}  # uri -> number of the newest request
        self._inflight: dict[str, threading.Event] = {}  # uri -> the generation not answered yet
        self._rest: dict[str, threading.Event] = {}  # uri -> the generation of a suggestion shown early
        self._model_busy: concurrent.futures.Future[None] | None = None  # done when the last model request ended
        self.verdicts = Verdicts(server)
        self.stats: dict[str, int] = {"requests": 0, "superseded": 0, "cancelled": 0, "answered": 0,
                                      "empty": 0, "failed": 0, "early": 0, "rest_cancelled": 0}
        self._warned: str | None = None

    # -- requests -----------------------------------------------------------------

    async def handle(self, params: types.InlineCompletionParams,
                     words_early: bool = True) -> types.InlineCompletionList | None:
        """One ``textDocument/inlineCompletion``: debounce, settle the last suggestion, ask, answer
        (``words_early``: the words ready may be answered before the suggestion is whole)."""
        uri = params.text_document.uri
        asked_at = time.monotonic()
        self.stats["requests"] += 1
        number = self._latest[uri] = self._latest.get(uri, 0) + 1
        older = self._inflight.pop(uri, None)
        if older is not None:
            older.set()  # the person typed on: stop the generation for the old text
            self.stats["cancelled"] += 1
        try:
            path, text, _ = self.server._document(uri)
        except AmigoError as exc:
            self._stop_rest(uri)
            log.info("no completion for %s: %s", uri, exc)
            return None
        offset = offset_at(text, params.position.line, params.position.character, self.server.encoding)
        if not self._types_into_rest(uri, text, offset):
            self._stop_rest(uri)  # the rest of the suggestion shown early is no longer wanted
        self.verdicts.settle(uri, text, offset)
        settings = self._settings(uri)
        if not settings.enabled:
            return None
        explicit = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        if not explicit and settings.debounce_ms and self._typing_on(uri, text, offset) \
                and not self._needs_no_model(uri, text, offset):
            await asyncio.sleep(settings.debounce_ms / 1000)
        if self._latest.get(uri) != number:
            self.stats["superseded"] += 1
            return None
        await self._older_request_ended()
        if self._latest.get(uri) != number:
            self.stats["superseded"] += 1
            return None
        cancel = threading.Event()
        self._inflight[uri] = cancel
        ended: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._model_busy = ended
        loop = asyncio.get_running_loop()
        early: asyncio.Future[tuple[Completer, Suggestion]] = loop.create_future()

        def show_early(completer: Completer, partial: Suggestion) -> None:
            loop.call_soon_threadsafe(lambda: early.done() or early.set_result((completer, partial)))

        def work() -> tuple[Completer, Suggestion | None]:
            try:
                return self._complete(uri, path, text, offset, cancel, explicit,
                                      show_early if words_early else None, asked_at)
            finally:
                ended.set_result(None)

        whole = asyncio.ensure_future(run_in_thread(work, cancel, "amigo-complete"))
        whole.add_done_callback(lambda task: self._rest_ended(uri, cancel, task, early.done()))
        try:
            await asyncio.wait({whole, early}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            cancel.set()  # $/cancelRequest: stop the generation
            raise
        more = not whole.done()
        if more:  # the words ready: the rest is generated meanwhile, for the editor's next request
            completer, suggestion = early.result()
            if self._inflight.get(uri) is cancel:
                self._rest[uri] = self._inflight.pop(uri)
        else:
            try:
                completer, suggestion = whole.result()
            except Cancelled:
                return None
            except AmigoError as exc:
                self.stats["failed"] += 1
                self._warn_once(str(exc))
                return None
        if suggestion is None or self._latest.get(uri) != number:
            self.stats["empty" if suggestion is None else "superseded"] += 1
            return None
        self.stats["answered"] += 1
        self.stats["early"] += more
        line_end = text.find("\n", offset)
        self.verdicts.show(uri, text[:offset], suggestion, completer, text[offset:line_end if line_end >= 0 else len(text)],
                           complete=not more)
        # accepting words shown early takes only those (the rest may already be known by then)
        arguments: dict[str, Any] = {"id": suggestion.id, "accepted": suggestion.text, "more": True} if more \
            else {"id": suggestion.id}
        item = types.InlineCompletionItem(
            insert_text=suggestion.text, range=types.Range(params.position, params.position),
            command=types.Command(title="Amigo: suggestion accepted", command=ACCEPTED, arguments=[arguments]))
        return types.InlineCompletionList(items=[item])

    def _rest_ended(self, uri: str, cancel: threading.Event,
                    task: "asyncio.Future[tuple[Completer, Suggestion | None]]", shown_early: bool) -> None:
        """A generation ended: drop its cancel event, and when its words were shown early, the
        suggestion on screen becomes the whole one (what the feedback records)."""
        if self._inflight.get(uri) is cancel:
            self._inflight.pop(uri, None)
        if self._rest.get(uri) is cancel:
            self._rest.pop(uri, None)
        error = None if task.cancelled() else task.exception()
        if task.cancelled() or error is not None:
            if shown_early and isinstance(error, Cancelled):
                self.stats["rest_cancelled"] += 1
            return
        _, suggestion = task.result()
        if suggestion is not None and shown_early:
            self.verdicts.extend(uri, suggestion)

    def _completer_at(self, uri: str) -> tuple[Completer, str] | None:
        """The document's completer and its path in the repository, once its first request made them."""
        completer, rel = self._by_uri.get(uri), self._relpaths.get(uri)
        return None if completer is None or rel is None else (completer, rel)

    def _needs_no_model(self, uri: str, text: str, offset: int) -> bool:
        """Whether the answer comes from the cache or the generation under way (then it is not debounced)."""
        known = self._completer_at(uri)
        return known is not None and known[0].needs_no_model(known[1], text, offset)

    def _types_into_rest(self, uri: str, text: str, offset: int) -> bool:
        """Whether this request types into (or repeats) the suggestion shown early whose rest is being generated."""
        known = self._completer_at(uri)
        return known is not None and known[0].types_into_pending(known[1], text, offset)

    def _stop_rest(self, uri: str) -> None:
        rest = self._rest.pop(uri, None)
        if rest is not None:
            rest.set()

    def _typing_on(self, uri: str, text: str, offset: int) -> bool:
        """Whether this keystroke continues the last request's place (then it is debounced). The first
        keystroke at a new place is not: its prompt is new to the model server, and evaluating it while
        the person types on is what makes the suggestion at their last keystroke quick."""
        known = self._completer_at(uri)
        return known is not None and known[0].continues_last(known[1], text, offset)  # none yet: a new place

    async def _older_request_ended(self) -> None:
        """Wait (at most :data:`OLDER_REQUEST_WAIT_S`) until the last model request has ended."""
        busy = self._model_busy
        if busy is None or busy.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(busy)), OLDER_REQUEST_WAIT_S)
        except asyncio.TimeoutError:
            log.info("the previous completion request is still running after %s s; asking anyway",
                     OLDER_REQUEST_WAIT_S)

    def _settings(self, uri: str) -> CompletionSettings:
        """The completion settings of the document's repository (editor defaults before its first request)."""
        completer = self._by_uri.get(uri)
        if completer is not None:
            return completer.settings
        return self.server.editor_settings.apply(Config()).completion

    def _complete(self, uri: str, path: Path, text: str, offset: int, cancel: threading.Event,
                  explicit: bool, early: Callable[[Completer, Suggestion], None] | None,
                  asked_at: float) -> tuple[Completer, Suggestion | None]:
        """On a worker thread: the session (built on first use: git, config) and the suggestion."""
        session = self.server.session_for(path)
        completer = self._by_uri[uri] = self.completer_for(session)
        if not completer.settings.enabled:
            return completer, None
        rel = self._relpaths[uri] = session.workspace.relpath(path)
        shown_early = None if early is None else (lambda partial: early(completer, partial))
        return completer, completer.complete(rel, text, offset, cancel=cancel, explicit=explicit,
                                             early=shown_early, asked_at=asked_at)

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
        for event in [*self._inflight.values(), *self._rest.values()]:
            event.set()

    # -- classic completion items (clients without inline completion) --------------

    async def classic(self, params: types.CompletionParams) -> list[types.CompletionItem]:
        """The same suggestion as one ``CompletionItem`` (only when ``completion.classic_items`` is on),
        whole: an item picked from a menu is inserted as it is, and no client asks again for the rest."""
        inline = types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=params.text_document, position=params.position)
        result = await self.handle(inline, words_early=False)
        if not result or not result.items:
            return []
        item = result.items[0]
        text = str(item.insert_text)
        first = text.strip().splitlines()[0] if text.strip() else text
        return [types.CompletionItem(
            label=first[:60], kind=types.CompletionItemKind.Text, detail="Amigo",
            insert_text=text, command=item.command, sort_text="~amigo",
            text_edit=types.TextEdit(range=types.Range(params.position, params.position), new_text=text))]


def register(server: AmigoServer) -> InlineCompletions:
    """Add inline completion to ``server`` (advertised); classic items are added at initialize if asked."""
    state = InlineCompletions(server)
    server.completions = state  # type: ignore[attr-defined]

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: AmigoServer, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        return await state.handle(params)

    @server.command(ACCEPTED)
    def completion_accepted(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        return state.verdicts.command_accepted(args)

    @server.command(REJECTED)
    def completion_rejected(ls: AmigoServer, *args: Any) -> dict[str, Any]:
        return state.verdicts.command_rejected(args)

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

