"""The language server's engine sessions: one :class:`EditSession` per repository, under the editor's settings.

A session is built on first use (config, git, the feedback recorder, a warm
context index) from any thread, so the cache is locked. When the editor's
settings change, the sessions are dropped and the next request builds new
ones with the new settings; a session a generation is still using is left
open for it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable, Collection

from amigo.config import Config, load_config
from amigo.engine import EditSession
from amigo.errors import ConfigError, RefusedError
from amigo.workspace import Workspace
from amigo_lsp.settings import EditorSettings, parse_settings, settings_section

log = logging.getLogger(__name__)


def attach_feedback(session: EditSession) -> None:
    """Let the feedback recorder (when installed) keep the session's proposals and verdicts."""
    try:
        import feedback
    except ImportError:
        return
    try:
        feedback.attach(session.events, session.repo_root, session.config.feedback)
    except Exception:  # noqa: BLE001 - a broken recorder must not cost the edit
        log.exception("attaching the feedback recorder failed; continuing without it")


class Sessions:
    """Editor settings and the sessions built under them; ``on_event`` hears every session's events."""

    def __init__(self, on_event: Callable[[Any], None]) -> None:
        self.on_event = on_event
        self.settings = EditorSettings()  # initializationOptions, then workspace/configuration layered over
        self.initial = EditorSettings()  # initializationOptions alone (the base later settings layer over)
        self.pending_error: str | None = None  # a settings error to show once the client is initialized
        self._sessions: dict[Path, EditSession] = {}
        self._lock = threading.Lock()

    def load_initial(self, options: Any) -> None:
        """``initializationOptions`` -> editor settings (an error is kept to show after initialization)."""
        try:
            self.initial = parse_settings(settings_section(options))
            self.settings = self.initial
        except ConfigError as exc:
            self.pending_error = str(exc)

    def update(self, data: Any, busy: Collection[EditSession] = ()) -> None:
        """New settings from the client (raises ConfigError); changed settings drop the idle sessions."""
        settings = parse_settings(data, self.initial)
        if settings == self.settings:
            return
        self.settings = settings
        with self._lock:
            old, self._sessions = self._sessions, {}
        busy_ids = {id(session) for session in busy}
        for session in old.values():
            if id(session) not in busy_ids:
                session.close()

    def config_for(self, root: Path) -> Config:
        """The repository's configuration with the editor's settings over it."""
        return self.settings.apply(load_config(root))

    def session_for(self, path: Path) -> EditSession:
        """The session of the repository holding ``path``, built (and recorded) on first use."""
        try:
            workspace = Workspace.discover(path.parent)
        except RefusedError as exc:  # name the file the editor asked about, not only its folder
            raise RefusedError(f"{path}: {exc}") from None
        with self._lock:
            session = self._sessions.get(workspace.root)
            if session is not None:
                return session
            config = self.config_for(workspace.root)
            workspace.max_file_bytes = config.max_file_bytes
            session = EditSession(config, workspace)
            session.events.subscribe(self.on_event)
            attach_feedback(session)
            self._sessions[workspace.root] = session
            session.warm_context()  # the first code action of a cold repository stays fast
            return session

    def close_all(self) -> None:
        """Close every session (at shutdown)."""
        with self._lock:
            old, self._sessions = self._sessions, {}
        for session in old.values():
            session.close()
