"""The Amigo language server: code actions, commands, progress and review through applyEdit.

Threading: pygls runs an asyncio loop; listing code actions and bookkeeping
happen on it and never block. Building a request (repository context) and
generating run in one background thread per job, which reports tokens back
to the loop with ``call_soon_threadsafe``; nothing but the loop writes to the
client.

Review: a proposal reaches the editor as a ``workspace/applyEdit`` naming the
document version it was computed from, with a change annotation that needs
confirmation. ``applied: true`` records an accept (the editor wrote its
buffer), ``applied: false`` a reject, unless the buffer moved on meanwhile
(then it is stale, not a verdict). Clients that show the diff themselves
set ``review: "client"`` and call ``amigo.accept`` / ``amigo.reject``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from amigo.client import Cancelled
from amigo.config import Config, load_config
from amigo.engine import EditSession
from amigo.errors import AmigoError, ConfigError, InputError
from amigo.events import Proposal, TokenEvent
from amigo_lsp import __version__, commands
from amigo_lsp.commands import EditArgs
from amigo_lsp.protocol import PARSE_ERROR, AmigoProtocol, current_command
from amigo_lsp.settings import EditorSettings, parse_settings, settings_section
from amigo_lsp.textedits import line_edits, selection_lines
from amigo_lsp.threads import run_in_thread

log = logging.getLogger(__name__)

ANNOTATION_ID = "amigo.proposal"
PROGRESS_INTERVAL_S = 0.1
MAX_KNOWN_PROPOSALS = 200


@dataclass
class Job:
    """One generation in flight (edit, fix or retry)."""

    id: str
    uri: str
    version: int | None
    title: str
    cancel: threading.Event = field(default_factory=threading.Event)
    token: types.ProgressToken | None = None
    request_id: Any = None
    session: EditSession | None = None
    tokens: int = 0
    last_report: float = 0.0
    started: float = field(default_factory=time.monotonic)


@dataclass
class Known:
    """Where a proposal came from: its session, document and the version it was computed from."""

    session: EditSession
    uri: str
    version: int | None


@dataclass
class AppliedEdit:
    """An accepted proposal the editor applied, kept for ``amigo.undo``."""

    proposal: Proposal
    session: EditSession
    texts: tuple[tuple[str, str, str], ...]  # (uri, text before, text after)


class AmigoServer(LanguageServer):
    """pygls server holding Amigo sessions (one per repository), jobs and the undo stack."""

    def __init__(self) -> None:
        super().__init__("amigo-lsp", __version__, protocol_cls=AmigoProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental, max_workers=4)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.editor_settings = EditorSettings()
        self._init_settings = EditorSettings()
        self._sessions: dict[Path, EditSession] = {}
        self._sessions_lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.known: dict[str, Known] = {}
        self.pending: set[str] = set()  # proposals waiting for amigo.accept / amigo.reject
        self.undo_stack: list[AppliedEdit] = []
        self.stats: dict[str, float] = {}  # timings the benchmark reads through amigo/stats
        self.pending_error: str | None = None  # a settings error to show once initialized
        self.exit_code = 0  # what ``amigo lsp`` exits with (see start_io)

    # -- plumbing ---------------------------------------------------------------------

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

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve LSP on stdio with :mod:`amigo_lsp.transport`'s single reader thread.

        Sets :attr:`exit_code`: 0 after ``shutdown`` then ``exit`` (or the
        editor closing standard input), 1 for ``exit`` without ``shutdown``,
        as the LSP specification asks.
        """
        import json
        import sys

        from pygls.io_ import StdoutWriter

        from amigo_lsp.transport import raw_reader, read_frames

        read = raw_reader(stdin or sys.stdin)
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))

        def on_body(body: bytes) -> None:
            try:
                message = json.loads(body, object_hook=self.protocol.structure_message)
            except Exception as exc:  # noqa: BLE001 - parse errors are answered, never fatal
                self.report_server_error(exc, JsonRpcException)
                return
            self.protocol.handle_message(message)

        async def serve() -> None:
            loop = asyncio.get_running_loop()
            finished = loop.create_future()

            def mark_finished() -> None:
                if not finished.done():
                    finished.set_result(None)

            def hand_over(fn: Callable[..., Any], *args: Any) -> bool:
                try:
                    loop.call_soon_threadsafe(fn, *args)
                except RuntimeError:  # the loop is closed: the server is exiting
                    return False
                return True

            def reader() -> None:
                try:
                    for body in read_frames(read):
                        if not hand_over(on_body, body):
                            return
                except (OSError, ValueError) as exc:
                    log.warning("stdin failed: %s", exc)
                hand_over(mark_finished)

            threading.Thread(target=reader, name="amigo-lsp-reader", daemon=True).start()
            await finished

        try:
            asyncio.run(serve())
        except BrokenPipeError:
            log.error("the editor closed the connection; shutting down")
        except KeyboardInterrupt:
            pass
        except SystemExit as exc:  # pygls' exit handler: 0 after shutdown, else 1
            self.exit_code = exc.code if isinstance(exc.code, int) else 1
        finally:
            self.shutdown()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Unparseable JSON gets a parse-error response; the rest is logged, never a popup storm."""
        if isinstance(error, (ValueError, RecursionError)) and not isinstance(error, JsonRpcException):
            self.protocol.send_error(None, PARSE_ERROR, f"parse error: {str(error)[:200]}")  # type: ignore[attr-defined]
            return
        log.warning("server error (%s): %s", getattr(source, "__name__", source), error)

    @property
    def encoding(self) -> str:
        enc = self.workspace.position_encoding
        value = getattr(enc, "value", enc) or "utf-16"
        return str(value)

    def _caps(self, *path: str) -> Any:
        node: Any = getattr(self.protocol, "client_capabilities", None)
        for name in path:
            if node is None:
                return None
            node = getattr(node, name, None)
        return node

    # -- configuration and sessions ---------------------------------------------------

    def set_editor_settings(self, settings: EditorSettings) -> None:
        if settings == self.editor_settings:
            return
        self.editor_settings = settings
        with self._sessions_lock:
            old, self._sessions = self._sessions, {}
        busy = {id(job.session) for job in self.jobs.values()}
        for session in old.values():
            if id(session) not in busy:
                session.close()

    def config_for(self, root: Path) -> Config:
        return self.editor_settings.apply(load_config(root))

    def session_for(self, path: Path) -> EditSession:
        """The session of the repository holding ``path``, built (and recorded) on first use."""
        from amigo.errors import RefusedError
        from amigo.workspace import Workspace

        try:
            workspace = Workspace.discover(path.parent)
        except RefusedError as exc:  # name the file the editor asked about, not only its folder
            raise RefusedError(f"{path}: {exc}") from None
        with self._sessions_lock:
            session = self._sessions.get(workspace.root)
            if session is not None:
                return session
            config = self.config_for(workspace.root)
            workspace.max_file_bytes = config.max_file_bytes
            session = EditSession(config, workspace)
            session.events.subscribe(self._on_event)
            try:
                import feedback
            except ImportError:
                feedback = None  # type: ignore[assignment]
            if feedback is not None:
                try:
                    feedback.attach(session.events, session.repo_root, session.config.feedback)
                except Exception:  # noqa: BLE001 - a broken recorder must not cost the edit
                    log.exception("attaching the feedback recorder failed; continuing without it")
            self._sessions[workspace.root] = session
            session.warm_context()  # the first code action of a cold repository stays fast
            return session

    def close_sessions(self) -> None:
        with self._sessions_lock:
            old, self._sessions = self._sessions, {}
        for session in old.values():
            session.close()

    # -- jobs and progress ------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        """Engine events arrive on the generating thread: count tokens, report progress."""
        if not isinstance(event, TokenEvent):
            return
        job = self.jobs.get(event.request_id)  # jobs are keyed by the request id the engine streams under
        if job is None:
            return
        job.tokens += 1
        now = time.monotonic()
        if job.token is not None and (job.tokens == 1 or now - job.last_report >= PROGRESS_INTERVAL_S):
            job.last_report = now
            self.on_loop(self._report, job.token, f"{job.tokens} tokens")

    def _report(self, token: types.ProgressToken, message: str) -> None:
        self.work_done_progress.report(token, types.WorkDoneProgressReport(message=message, cancellable=True))

    def cancel_request(self, msg_id: Any) -> None:
        """``$/cancelRequest`` for a command that is generating: stop the generation."""
        for job in list(self.jobs.values()):
            if job.request_id is not None and job.request_id == msg_id:
                job.cancel.set()

    def cancel_progress(self, token: types.ProgressToken) -> None:
        for job in list(self.jobs.values()):
            if job.token is not None and job.token == token:
                job.cancel.set()

    async def _begin(self, job: Job) -> None:
        params = current_command.get()
        token = params.work_done_token if params is not None else None
        if token is None and self._caps("window", "work_done_progress"):
            token = f"amigo-{job.id}"
            try:
                await asyncio.wait_for(self.work_done_progress.create_async(token), timeout=10)
            except Exception:  # noqa: BLE001 - progress is a courtesy, not a requirement
                log.warning("the client refused window/workDoneProgress/create; continuing without progress")
                self.work_done_progress.tokens.pop(token, None)
                token = None
        job.token = token
        if token is not None:
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                title=job.title, cancellable=True, message="building context"))
            self.stats["last_begin"] = time.monotonic() - job.started

    def _end(self, job: Job, message: str) -> None:
        self.jobs.pop(job.id, None)
        if job.token is not None:
            self.work_done_progress.end(job.token, types.WorkDoneProgressEnd(message=message))
            self.work_done_progress.tokens.pop(job.token, None)

    async def _in_thread(self, job: Job, work: Callable[[], Proposal]) -> Proposal:
        """Run ``work`` on its own thread (never the reader's pool); cancel it if we are cancelled."""
        return await run_in_thread(work, job.cancel, f"amigo-job-{job.id}")

    # -- the flows --------------------------------------------------------------------

    def _document(self, uri: str) -> tuple[Path, str, int | None]:
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

    async def run_edit(self, args: EditArgs, title: str) -> dict[str, Any]:
        """amigo.edit / amigo.fix: generate in the background, then hand the proposal to review."""
        try:
            path, text, version = self._document(args.uri)
        except AmigoError as exc:
            return self._failed(exc)
        selection = selection_lines(args.range.start_line, args.range.start_char,
                                    args.range.end_line, args.range.end_char) if args.range else None
        if selection is None and args.diagnostics:
            selection = (min(d.start_line for d in args.diagnostics),
                         max(d.end_line or d.start_line for d in args.diagnostics))
        job = self._new_job(args.uri, version, title)

        def work() -> Proposal:
            # Building the session (config, git, feedback store) is I/O: keep it off the loop.
            session = job.session = self.session_for(path)
            request = session.make_request(args.instruction or "", path, selection=selection,
                                           diagnostics=args.diagnostics, file_text=text)
            return session.propose(request, cancel=job.cancel, request_id=job.id)

        return await self._generate_and_review(job, work)

    async def run_retry(self, proposal_id: str, instruction: str | None) -> dict[str, Any]:
        known = self.known.get(proposal_id)
        if known is None:
            return self._failed(InputError(f"no proposal {proposal_id!r} in this session; run Amigo: Edit again"))
        try:
            proposal = known.session.get(proposal_id)
        except AmigoError as exc:
            return self._failed(exc)
        self.pending.discard(proposal_id)
        job = self._new_job(known.uri, known.version, f"Amigo: retrying \u201c{proposal.request.instruction[:40]}\u201d")
        job.session = known.session
        return await self._generate_and_review(
            job, lambda: known.session.retry(proposal, instruction, cancel=job.cancel, request_id=job.id))

    def _new_job(self, uri: str, version: int | None, title: str) -> Job:
        job = Job(id=uuid.uuid4().hex[:12], uri=uri, version=version, title=title,
                  request_id=self.protocol.msg_id)
        self.jobs[job.id] = job
        return job

    async def _generate_and_review(self, job: Job, work: Callable[[], Proposal]) -> dict[str, Any]:
        try:
            await self._begin(job)
            proposal = await self._in_thread(job, work)
        except asyncio.CancelledError:
            self._end(job, "cancelled")
            raise
        except Cancelled:
            self._end(job, "cancelled")
            return {"ok": False, "cancelled": True}
        except AmigoError as exc:
            self._end(job, "failed")
            return self._failed(exc)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the server
            log.exception("generation failed")
            self._end(job, "failed")
            return self._failed(AmigoError(f"Amigo failed unexpectedly ({type(exc).__name__}: {exc}); see the server log"))
        self._end(job, "proposal ready" if proposal.ok else "the answer did not apply")
        self.stats["last_proposal"] = time.monotonic() - job.started
        assert job.session is not None
        self._remember(proposal.id, Known(job.session, job.uri, job.version))
        return await self._review(proposal, job.uri, job.version)

    def _remember(self, proposal_id: str, known: Known) -> None:
        self.known[proposal_id] = known
        while len(self.known) > MAX_KNOWN_PROPOSALS:
            self.known.pop(next(iter(self.known)))

    def _failed(self, exc: Exception) -> dict[str, Any]:
        kind = types.MessageType.Warning if isinstance(exc, (InputError, ConfigError)) else types.MessageType.Error
        self.show(kind, f"Amigo: {exc}")
        return {"ok": False, "error": str(exc)}

    def _result(self, proposal: Proposal, uri: str, version: int | None) -> dict[str, Any]:
        return {"ok": proposal.ok, "id": proposal.id, "uri": uri, "version": version, "diff": proposal.diff,
                "errors": list(proposal.errors), "findings": [str(f) for f in proposal.findings],
                "explanation": proposal.prose[:2000]}

    async def _review(self, proposal: Proposal, uri: str, version: int | None) -> dict[str, Any]:
        result = self._result(proposal, uri, version)
        if not proposal.ok:
            self.show(types.MessageType.Warning,
                      "Amigo: the model's answer could not be applied (" + "; ".join(proposal.errors)[:300]
                      + "). Run 'Amigo: Retry' for another answer, or rephrase the instruction.")
            return result
        if proposal.broken:
            self.show(types.MessageType.Warning,
                      "Amigo: the change fails its checks (" + "; ".join(str(f) for f in proposal.findings)[:300]
                      + "). Review it closely before accepting, or run 'Amigo: Retry'.")
        if self.editor_settings.review == "client":
            self.pending.add(proposal.id)
            try:
                edit = self.workspace_edit(proposal, confirm=False)
                result["edit"] = self.protocol._converter.unstructure(edit)
            except AmigoError as exc:
                result["stale"] = str(exc)
            return result
        result.update(await self.apply_proposal(proposal, confirm=True))
        return result

    def _stale(self, proposal: Proposal) -> str | None:
        """Why the proposal no longer fits the editor's documents (None when it still does)."""
        known = self.known.get(proposal.id)
        if known is None:
            return "Amigo no longer knows where this proposal came from; run the command again"
        doc = self.workspace.get_text_document(known.uri)
        if known.version is not None and doc.version != known.version:
            return (f"{Path(to_fs_path(known.uri) or known.uri).name} changed while Amigo was working "
                    f"(version {known.version} -> {doc.version}); nothing was overwritten. Run the command again.")
        for change in proposal.changes:
            uri = from_fs_path(str(known.session.repo_root / change.path)) or ""
            try:
                current: str | None = self.workspace.get_text_document(uri).source
            except FileNotFoundError:
                current = None
            expected = None if change.created else change.old_text
            if current != expected:
                return f"{change.path} changed since the proposal was made; nothing was overwritten. Run the command again."
        return None

    def workspace_edit(self, proposal: Proposal, confirm: bool) -> types.WorkspaceEdit:
        """The proposal as a versioned WorkspaceEdit (raises RefusedError-like InputError when stale)."""
        stale = self._stale(proposal)
        if stale:
            raise InputError(stale)
        known = self.known[proposal.id]
        doc_changes = bool(self._caps("workspace", "workspace_edit", "document_changes"))
        annotations = self._caps("workspace", "workspace_edit", "change_annotation_support") is not None
        label = _label(proposal)
        texts = []
        for change in proposal.changes:
            uri = from_fs_path(str(known.session.repo_root / change.path)) or ""
            texts.append((uri, change.old_text if not change.created else "", change.new_text, change.created))
        return self._build_edit(texts, known, doc_changes, annotations and confirm, label, proposal.id)

    def _build_edit(self, texts: list[tuple[str, str, str, bool]], known: Known | None, doc_changes: bool,
                    confirm: bool, label: str, proposal_id: str) -> types.WorkspaceEdit:
        annotation = ANNOTATION_ID if confirm else None
        if not doc_changes:
            if any(created for *_, created in texts):
                raise InputError("this proposal creates a file, which your editor cannot do through LSP; "
                                 "use `amigo edit` in a terminal")
            return types.WorkspaceEdit(changes={uri: self._edits(old, new, None) for uri, old, new, _ in texts})
        ops: list[Any] = []
        for uri, old, new, created in texts:
            if created:
                ops.append(types.CreateFile(uri=uri, annotation_id=annotation))
            version = self.workspace.get_text_document(uri).version if not created else None
            if known is not None and uri == known.uri:
                version = known.version
            ops.append(types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                edits=self._edits(old, new, annotation)))
        change_annotations = None
        if annotation:
            change_annotations = {annotation: types.ChangeAnnotation(
                label=label, needs_confirmation=True, description=f"proposal {proposal_id}")}
        return types.WorkspaceEdit(document_changes=ops, change_annotations=change_annotations)

    def _edits(self, old: str, new: str, annotation: str | None) -> list[Any]:
        out: list[Any] = []
        for e in line_edits(old, new, self.encoding):
            rng = types.Range(types.Position(e.start.line, e.start.character), types.Position(e.end.line, e.end.character))
            out.append(types.AnnotatedTextEdit(range=rng, new_text=e.new_text, annotation_id=annotation)
                       if annotation else types.TextEdit(range=rng, new_text=e.new_text))
        return out

    async def apply_proposal(self, proposal: Proposal, confirm: bool) -> dict[str, Any]:
        """Send the proposal as applyEdit; applied -> accepted, declined -> rejected, moved on -> stale."""
        known = self.known[proposal.id]
        try:
            edit = self.workspace_edit(proposal, confirm)
        except AmigoError as exc:
            self.show(types.MessageType.Warning, f"Amigo: {exc}")
            return {"applied": False, "stale": True, "reason": str(exc)}
        label = _label(proposal)
        started = time.monotonic()
        self.stats["last_apply_sent"] = started
        response = await self.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
        self.pending.discard(proposal.id)
        if response.applied:
            known.session.mark_accepted(proposal)
            before = [(from_fs_path(str(known.session.repo_root / c.path)) or "", c.old_text if not c.created else "", c.new_text)
                      for c in proposal.changes]
            self.undo_stack.append(AppliedEdit(proposal, known.session, tuple(before)))
            return {"applied": True}
        reason = response.failure_reason or "declined in the editor"
        stale = self._stale(proposal)
        if stale:
            self.show(types.MessageType.Warning, f"Amigo: {stale}")
            return {"applied": False, "stale": True, "reason": stale}
        known.session.reject(proposal, reason=reason)
        return {"applied": False, "reason": reason}

    async def run_accept(self, proposal_id: str) -> dict[str, Any]:
        known = self.known.get(proposal_id)
        if known is None or proposal_id not in self.pending:
            return self._failed(InputError(f"no proposal {proposal_id!r} is waiting for review; run Amigo: Edit again"))
        proposal = known.session.get(proposal_id)
        return {"ok": True, "id": proposal_id, **await self.apply_proposal(proposal, confirm=False)}

    def run_reject(self, proposal_id: str, reason: str | None) -> dict[str, Any]:
        known = self.known.get(proposal_id)
        if known is None or proposal_id not in self.pending:
            return self._failed(InputError(f"no proposal {proposal_id!r} is waiting for review"))
        self.pending.discard(proposal_id)
        known.session.reject(known.session.get(proposal_id), reason=reason)
        return {"ok": True, "id": proposal_id}

    async def run_undo(self) -> dict[str, Any]:
        """Reverse Amigo's last applied edit in the editor, if the text is still exactly what it wrote."""
        if not self.undo_stack:
            self.show(types.MessageType.Info, "Amigo: nothing to undo in this editor session")
            return {"ok": False, "error": "nothing to undo"}
        entry = self.undo_stack[-1]
        for uri, _, after in entry.texts:
            try:
                current = self.workspace.get_text_document(uri).source
            except FileNotFoundError:
                current = None
            if current != after:
                name = Path(to_fs_path(uri) or uri).name
                self.undo_stack.pop()
                return self._failed(InputError(f"{name} was edited after Amigo's change; use your editor's undo instead"))
        texts = [(uri, after, before, False) for uri, before, after in entry.texts]
        doc_changes = bool(self._caps("workspace", "workspace_edit", "document_changes"))
        edit = self._build_edit(texts, None, doc_changes, False, "Amigo: undo", entry.proposal.id)
        response = await self.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label="Amigo: undo"))
        if not response.applied:
            return {"ok": False, "applied": False, "reason": response.failure_reason or "declined in the editor"}
        self.undo_stack.pop()
        paths = tuple(change.path for change in entry.proposal.changes)
        entry.session.mark_undone(entry.proposal, paths)
        return {"ok": True, "applied": True, "id": entry.proposal.id}


def _label(proposal: Proposal) -> str:
    """The applyEdit label: the instruction, and the check stage's verdict when it failed."""
    label = f"Amigo: {proposal.request.instruction.splitlines()[0][:80]}"
    errors = [f.message for f in proposal.findings if f.level == "error"]
    return label + (f" (CHECKS FAILED: {errors[0][:120]})" if errors else "")


def load_initial_settings(server: AmigoServer, options: Any) -> None:
    """initializationOptions -> editor settings (errors shown after initialization)."""
    try:
        server._init_settings = parse_settings(settings_section(options))
        server.editor_settings = server._init_settings
    except ConfigError as exc:
        server.pending_error = str(exc)
