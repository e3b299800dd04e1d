"""What became of each inline suggestion: shown, then accepted or rejected (events for the feedback recorder).

*Accepted* when the client runs the item's ``command`` (``amigo.completionAccepted``,
optionally with ``accepted``: the part taken, for partial accepts), or when the
person typed the whole suggestion themselves; *rejected* when they typed
something else there (``typed-over``, with what they wrote once the line is
done), moved elsewhere (``dismissed``), said so (``amigo.completionRejected``),
or did nothing within ``completion.reject_after_s`` (``timeout``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from amigo.complete import Completer
from amigo.events import Suggestion
from amigo_lsp.server import AmigoServer

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
    announced: bool = True  # its shown event was published (one shown early waits for its whole text)

    @property
    def start(self) -> int:
        return len(self.anchor)


class Verdicts:
    """The suggestion on screen in each document of one language server, and its verdict."""

    def __init__(self, server: AmigoServer) -> None:
        self.server = server
        self.shown: dict[str, Shown] = {}  # uri -> the suggestion on screen

    def show(self, uri: str, anchor: str, suggestion: Suggestion, completer: Completer, line_rest: str,
             complete: bool = True) -> None:
        """A suggestion on screen. One shown before it is ``complete`` (the words ready) is
        announced to the feedback once its whole text is known (:meth:`extend`) or its verdict
        comes, so the record holds the suggestion the person could take."""
        current = self.shown.get(uri)
        if current is not None and current.suggestion.id == suggestion.id:
            if anchor == current.anchor:
                self.extend(uri, suggestion)  # asked again at its place: the whole of it
            return  # the rest of the suggestion being typed through: shown once
        if current is not None:
            self._close(uri, current, "dismissed")
        shown = Shown(suggestion, completer, uri, anchor, time.time(), line_rest=line_rest, announced=complete)
        self.shown[uri] = shown
        if complete:
            completer.shown(suggestion)
        delay = completer.settings.reject_after_s
        self.server.on_loop(self._arm_timeout, uri, suggestion.id, delay)

    def extend(self, uri: str, whole: Suggestion) -> None:
        """The whole text of a suggestion shown early (same id, starting with what was shown)."""
        shown = self.shown.get(uri)
        if shown is None or shown.suggestion.id != whole.id or not whole.text.startswith(shown.suggestion.text):
            return
        shown.suggestion = whole
        self._announce(shown)

    def _announce(self, shown: Shown) -> None:
        if not shown.announced:
            shown.announced = True
            shown.completer.shown(shown.suggestion)

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
        self._announce(shown)  # shown early and never completed: recorded as far as it went
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
