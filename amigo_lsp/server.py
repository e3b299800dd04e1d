"""The Amigo language server: the pygls server and the state its handlers share.

Where things live: the handlers are in :mod:`amigo_lsp.features`, engine
sessions and editor settings in :mod:`amigo_lsp.sessions`, generations in
flight in :mod:`amigo_lsp.jobs`, the edit commands in
:mod:`amigo_lsp.edit_flows`, review in :mod:`amigo_lsp.review`, WorkspaceEdit
building in :mod:`amigo_lsp.workspace_edits`, undo in :mod:`amigo_lsp.undo`
and the stdio loop in :mod:`amigo_lsp.stdio`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, BinaryIO, Callable

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import default_converter
from pygls.uris import to_fs_path

from amigo.engine import EditSession
from amigo.errors import ConfigError, InputError
from amigo_lsp import __version__
from amigo_lsp.jobs import Jobs
from amigo_lsp.protocol import PARSE_ERROR, AmigoProtocol
from amigo_lsp.review import Proposals
from amigo_lsp.sessions import Sessions
from amigo_lsp.settings import EditorSettings
from amigo_lsp.stdio import serve_stdio
from amigo_lsp.undo import AppliedEdit

log = logging.getLogger(__name__)

_CONVERTER = default_converter()  # pygls' own converter: lsprotocol objects <-> the JSON the client sees


class AmigoServer(LanguageServer):
    """pygls server holding Amigo's sessions (one per repository), jobs, proposals and the undo stack."""

    def __init__(self) -> None:
        super().__init__("amigo-lsp", __version__, protocol_cls=AmigoProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental, max_workers=4)
        self.loop: asyncio.AbstractEventLoop | None = None  # set at initialize
        self.jobs = Jobs(self)
        self.sessions = Sessions(on_event=self.jobs.on_event)
        self.proposals = Proposals()
        self.undo_stack: list[AppliedEdit] = []
        self.exit_code = 0  # what ``amigo lsp`` exits with (see start_io)
        self.protocol.on_cancel_request = self.jobs.cancel_request  # type: ignore[attr-defined]

    # -- talking to the client ----------------------------------------------------

    def on_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the server's loop (the only thread that writes to the client)."""
        loop = self.loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def show(self, kind: types.MessageType, message: str) -> None:
        """A message for the person (window/showMessage), from any thread."""
        self.on_loop(self.window_show_message, types.ShowMessageParams(type=kind, message=message))

    def fail(self, exc: Exception) -> dict[str, Any]:
        """Show why a command failed (a warning for the person's input, else an error) and answer with it."""
        kind = types.MessageType.Warning if isinstance(exc, (InputError, ConfigError)) else types.MessageType.Error
        self.show(kind, f"Amigo: {exc}")
        return {"ok": False, "error": str(exc)}

    @staticmethod
    def to_json(value: Any) -> Any:
        """An lsprotocol object as the JSON the client receives."""
        return _CONVERTER.unstructure(value)

    def capability(self, *path: str) -> Any:
        """The client capability at ``path`` (snake_case attribute names), None when absent."""
        node: Any = getattr(self.protocol, "client_capabilities", None)  # set at initialize
        for name in path:
            if node is None:
                return None
            node = getattr(node, name, None)
        return node

    def supports_document_changes(self) -> bool:
        """Whether the client takes versioned ``documentChanges`` in a WorkspaceEdit."""
        return bool(self.capability("workspace", "workspace_edit", "document_changes"))

    @property
    def encoding(self) -> str:
        """The negotiated position encoding (``utf-16`` unless the client chose another)."""
        enc = self.workspace.position_encoding
        return str(getattr(enc, "value", enc) or "utf-16")

    # -- documents and sessions ---------------------------------------------------

    def document(self, uri: str) -> tuple[Path, str, int | None]:
        """The path, the text the editor holds (unsaved changes included) and the version of ``uri``."""
        doc = self.workspace.get_text_document(uri)
        path = to_fs_path(uri)
        if not path:
            raise InputError(f"{uri}: not a file on this machine; Amigo edits local files")
        try:
            text = doc.source
        except FileNotFoundError:
            raise InputError(f"{path}: no such file; open or save it first") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot be read ({exc}); Amigo edits UTF-8 text files") from None
        return Path(path), text, doc.version

    _document = document  # the name amigo_lsp.completion calls

    def text_of(self, uri: str) -> str | None:
        """The editor's text of ``uri`` (its buffer, else the file on disk); None when there is no such file."""
        try:
            return self.workspace.get_text_document(uri).source
        except FileNotFoundError:
            return None

    @property
    def editor_settings(self) -> EditorSettings:
        """What the editor asked for (initializationOptions with workspace/configuration over them)."""
        return self.sessions.settings

    def session_for(self, path: Path) -> EditSession:
        """The engine session of the repository holding ``path`` (built on first use)."""
        return self.sessions.session_for(path)

    # -- running ------------------------------------------------------------------

    def start_io(self, stdin: Any = None, stdout: BinaryIO | None = None) -> None:
        """Serve LSP on stdio (:mod:`amigo_lsp.stdio`); sets :attr:`exit_code`."""
        self.exit_code = serve_stdio(self, stdin, stdout)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Unparseable JSON gets a parse-error response; the rest is logged, never a popup storm."""
        if isinstance(error, (ValueError, RecursionError)) and not isinstance(error, JsonRpcException):
            self.protocol.send_error(None, PARSE_ERROR, f"parse error: {str(error)[:200]}")  # type: ignore[attr-defined]
            return
        log.warning("server error (%s): %s", getattr(source, "__name__", source), error)
