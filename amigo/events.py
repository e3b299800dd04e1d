"""What the engine tells the world: proposals and what happened to them.

The engine knows nothing of feedback, editors or terminals. It publishes these
immutable events on an :class:`EventBus`; front ends subscribe to draw, the
feedback recorder subscribes to keep preference data. Arrows run one way.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Union

from amigo.prompt import EditRequest

if TYPE_CHECKING:
    from amigo.checks import Finding
    from amigo.edits import Hunk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileChange:
    """One file's proposed change, computed from the exact content it names.

    ``base_sha256`` is the SHA-256 of the file's bytes when the proposal was
    made (None for a file that does not exist yet); applying is refused when
    the file on disk no longer has it.
    """

    path: str
    old_text: str
    new_text: str
    base_sha256: str | None

    @property
    def created(self) -> bool:
        return self.base_sha256 is None


@dataclass(frozen=True)
class Proposal:
    """A parsed model answer for one request, ready for review."""

    id: str
    request: EditRequest
    messages: tuple[dict, ...]
    answer: str
    changes: tuple[FileChange, ...]
    diff: str
    model: str
    adapter: str | None = None
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    parent_id: str | None = None  # the proposal this one retried
    errors: tuple[str, ...] = ()  # blocks that did not apply (nothing applies then)
    decoding: str = "free"
    created_at: float = field(default_factory=time.time)
    prose: str = ""  # the answer's text outside its code: shown, never applied
    hunks: tuple[tuple[str, "Hunk"], ...] = ()  # (path, hunk) numbered across files, for per-hunk accept
    findings: tuple["Finding", ...] = ()  # what the check stage found (amigo.checks)
    request_id: str = ""  # the caller's id; shared by every attempt and candidate of one request
    attempt: int = 1  # 1 = the first answer; 2.. = repairs
    mean_logprob: float | None = None  # over the answer's tokens, when the server returned them
    finish_reason: str | None = None  # the server's ("length": it ran into max_tokens), or the engine's when it
    # stopped reading first: "repetition" (a loop), "syntax-error" (one nothing after could fix)

    @property
    def ok(self) -> bool:
        """True when the answer parsed and every block applied."""
        return not self.errors and bool(self.changes)

    @property
    def broken(self) -> bool:
        """True when the check stage found an error-level problem (``--yes`` refuses it)."""
        return any(f.level == "error" for f in self.findings)

    @property
    def passes(self) -> bool:
        """Applies and has no error-level finding: what the repair loop is after."""
        return self.ok and not self.broken


@dataclass(frozen=True)
class TokenEvent:
    request_id: str
    text: str


@dataclass(frozen=True)
class ProposalEvent:
    proposal: Proposal


@dataclass(frozen=True)
class ErrorEvent:
    request_id: str
    message: str
    kind: str = "error"  # server | parse | refused | input | cancelled | error


@dataclass(frozen=True)
class RepairEvent:
    """An answer failed its checks and the model is asked again (attempt ``attempt``, 2..);
    the tokens that follow belong to the new attempt."""

    request_id: str
    attempt: int
    problem: str  # exactly what was sent back to the model


@dataclass(frozen=True)
class AttemptFailedEvent:
    """An answer the engine turned down by itself (an automatic rejection): it did not
    parse, apply or pass the checks. ``successor_id`` is the proposal shown instead."""

    proposal: Proposal
    problem: str
    successor_id: str | None = None


@dataclass(frozen=True)
class DoneEvent:
    request_id: str


@dataclass(frozen=True)
class AcceptedEvent:
    proposal: Proposal
    hunks: tuple[int, ...] | None = None  # indices of accepted hunks; None = all
    commit: str | None = None
    final_texts: tuple[tuple[str, str], ...] = ()  # (path, text written)


@dataclass(frozen=True)
class RejectedEvent:
    proposal: Proposal
    reason: str | None = None


@dataclass(frozen=True)
class RetriedEvent:
    proposal: Proposal  # the one the person asked to replace
    new_proposal: Proposal


@dataclass(frozen=True)
class UndoneEvent:
    proposal_id: str | None
    paths: tuple[str, ...]


@dataclass(frozen=True)
class StaleEvent:
    proposal: Proposal
    path: str


@dataclass(frozen=True)
class Suggestion:
    """One inline completion as the person saw it (amigo.complete makes these).

    ``prefix`` and ``suffix`` are the text before and after the cursor that the
    model was shown (already windowed); ``prompt`` is exactly what was sent: the
    FIM string, or the chat messages as JSON.
    """

    id: str
    path: str
    language: str
    prefix: str
    suffix: str
    text: str
    mode: str  # line | block
    route: str  # fim:<template> | infill | chat
    prompt: str
    model: str
    adapter: str | None = None
    first_token_s: float | None = None
    latency_s: float = 0.0
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class CompletionShownEvent:
    suggestion: Suggestion


@dataclass(frozen=True)
class CompletionAcceptedEvent:
    suggestion: Suggestion
    accepted: str  # the part of the suggestion the person took (all of it, or a partial accept)


@dataclass(frozen=True)
class CompletionRejectedEvent:
    suggestion: Suggestion
    reason: str  # typed-over | dismissed | timeout | moved
    typed: str | None = None  # what the person wrote at that place instead, when known


Event = Union[
    TokenEvent, ProposalEvent, ErrorEvent, DoneEvent, AcceptedEvent, RejectedEvent,
    RetriedEvent, UndoneEvent, StaleEvent, RepairEvent, AttemptFailedEvent, CompletionShownEvent,
    CompletionAcceptedEvent, CompletionRejectedEvent,
]
Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous publish/subscribe. A failing subscriber is logged, never fatal:
    a broken recorder must not cost the person their edit."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add ``subscriber``; returns a function that removes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:  # noqa: BLE001 - see class docstring
                log.exception("event subscriber %r failed on %s", subscriber, type(event).__name__)
