"""Messages the engine's worker thread posts to the app (``post_message`` is thread-safe)."""

from __future__ import annotations

from textual.message import Message

from amigo.events import Proposal


class TokenArrived(Message):
    """Tokens are waiting in the app's buffer (sent once per batch, not per token)."""


class GenerationEnded(Message):
    """``state`` is done, cancelled or failed (then ``error`` is the user-facing message)."""

    def __init__(self, proposal: Proposal | None, state: str, error: str | None = None,
                 server_down: bool = False) -> None:
        super().__init__()
        self.proposal = proposal
        self.state = state
        self.error = error
        self.server_down = server_down


class ConnectionChecked(Message):
    def __init__(self, ok: bool, detail: str) -> None:
        super().__init__()
        self.ok = ok
        self.detail = detail


class FilesListed(Message):
    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self.paths = paths
