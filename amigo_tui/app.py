"""The Amigo terminal app: tree | file / answer / review, instruction box, status, footer.

Thin by design: every decision about text, files and git is the engine's
(:class:`amigo.engine.EditSession`). Generation runs in a worker thread; the
engine's token events arrive as messages, so the screen never blocks.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from pathlib import Path
from typing import Callable

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Footer, Input, TextArea

from amigo import edits
from amigo.client import Cancelled
from amigo.engine import EditSession
from amigo.errors import AmigoError, ModelServerError
from amigo.events import Event, Proposal, RepairEvent, StaleEvent, TokenEvent
from amigo.prompt import FIX_INSTRUCTION
from amigo.repofiles import list_repo_files
from amigo_tui.diffmodel import hunk_views
from amigo_tui.fileload import load_page
from amigo_tui.fix import diagnostics_from_output
from amigo_tui.history import InstructionHistory
from amigo_tui.messages import ConnectionChecked, FilesListed, GenerationEnded, TokenArrived
from amigo_tui.render import warm_highlighter
from amigo_tui.screens import FinderScreen, FixScreen
from amigo_tui.widgets.diff_panel import DiffPanel
from amigo_tui.widgets.file_tree import FileTree
from amigo_tui.widgets.file_view import CodeView, FileView
from amigo_tui.widgets.instruction import InstructionInput
from amigo_tui.widgets.status_bar import StatusBar
from amigo_tui.widgets.stream_panel import StreamPanel

log = logging.getLogger(__name__)

Job = Callable[[threading.Event], Proposal]


def while_mounted(handler: Callable) -> Callable:
    """Skip a timer or message that arrives while the app tears its widgets down.

    Every widget these handlers query is composed once and never removed, so
    a missing one means the app is closing: nothing to draw, nothing to lose.
    """
    if inspect.iscoroutinefunction(handler):
        @functools.wraps(handler)
        async def run_async(self: "AmigoApp", *args: object) -> None:
            try:
                await handler(self, *args)
            except NoMatches:
                log.debug("%s skipped: the app is closing", handler.__name__)
        return run_async

    @functools.wraps(handler)
    def run(self: "AmigoApp", *args: object) -> None:
        try:
            handler(self, *args)
        except NoMatches:
            log.debug("%s skipped: the app is closing", handler.__name__)
    return run


class AmigoApp(App[int]):
    """``AmigoApp(session).run()``; the session is built (and closed) by the caller."""

    CSS_PATH = "amigo.tcss"
    TITLE = "amigo"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (64, "-wide")]
    BINDINGS = [
        Binding("ctrl+p", "find", "Find file"),
        # priority: runs before the key is forwarded, so keys typed right after `i` reach the box
        Binding("i", "instruct", "Instruct", priority=True),
        Binding("x", "fix", "Fix"),
        Binding("v", "switch_view", "View"),
        Binding("u", "undo", "Undo"),
        Binding("r", "retry", "Retry", show=False),
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+b", "toggle_tree", "Tree", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, session: EditSession, path: str | None = None, test_command: str | None = None,
                 history: InstructionHistory | None = None) -> None:
        super().__init__()
        self.session = session
        self.initial_path = path
        self.test_command = test_command
        self.history = history or InstructionHistory()
        self.paths: list[str] = []
        self.proposal: Proposal | None = None
        self.generating = False
        self._cancel = threading.Event()
        self._token_lock = threading.Lock()
        self._token_buffer: list[str] = []
        self._token_wake_pending = False
        self._last_job: tuple[str, Job] | None = None
        self._edit_retry_of: Proposal | None = None
        self._pending_fix: str | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.recorder: object | None = None
        self.notices: list[tuple[str, str]] = []  # (severity, message): what the person was told

    def notify(self, message: str, *, title: str = "", severity: str = "information",  # type: ignore[override]
               timeout: float | None = None, markup: bool = True) -> None:
        """Show a toast and keep it in ``notices`` (tests and the log read them)."""
        self.notices.append((severity, message))
        del self.notices[:-200]
        log.info("notice (%s): %s", severity, message)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)  # type: ignore[arg-type]

    # -- building -----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield FileTree(self.session.repo_root.name, id="tree")
            with ContentSwitcher(initial="file-view", id="main"):
                yield FileView(id="file-view")
                yield StreamPanel(id="stream")
                yield DiffPanel(id="review")
        yield InstructionInput(self.history, id="instruction",
                               placeholder="instruction: what should change? (Enter sends, ↑ history)")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        config = self.session.config
        status = self.query_one(StatusBar)
        status.endpoint = config.endpoint
        status.model = config.model + (f" + {config.adapter}" if config.adapter else "")
        self._attach_feedback()
        self._unsubscribe = self.session.events.subscribe(self._on_engine_event)
        self.run_worker(self._list_files, thread=True, group="files")
        self.run_worker(self._check_connection, thread=True, group="connection")
        self._stats_timer = self.set_interval(0.25, self._tick, pause=True)
        self.set_interval(1.0, self._check_stale)
        # pygments' first use costs 0.3-1.5 s: pay it in the background after the first paint,
        # not when the first review opens
        self.set_timer(1.0, lambda: self.run_worker(lambda: warm_highlighter(self.initial_path or "x.py"),
                                                    thread=True, group="warm"))
        # the repository index too, so the first request does not wait for a cold parse
        self.set_timer(1.5, self.session.warm_context)
        if self.initial_path:
            self.open_file(self.initial_path)
        else:
            self.query_one(FileTree).focus()

    def _attach_feedback(self) -> None:
        try:
            import feedback
        except ImportError:
            return
        try:
            self.recorder = feedback.attach(self.session.events, self.session.repo_root, self.session.config.feedback)
        except Exception as exc:  # noqa: BLE001 - feedback must never cost the person their editor
            log.exception("attaching the feedback recorder failed")
            self.notify(f"feedback is off for this session: {exc}", severity="warning", markup=False)

    def on_unmount(self) -> None:
        self._cancel.set()
        if self._unsubscribe:
            self._unsubscribe()
        close = getattr(self.recorder, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001 - closing the store must not block quitting
                log.exception("closing the feedback recorder failed")

    # -- background work ------------------------------------------------------------

    def _list_files(self) -> None:
        self.post_message(FilesListed(list_repo_files(self.session.repo_root)))

    def _check_connection(self) -> None:
        try:
            models = self.session.client.models()
        except AmigoError as exc:
            self.post_message(ConnectionChecked(False, str(exc)))
        else:
            self.post_message(ConnectionChecked(True, ", ".join(models[:3])))

    @while_mounted
    def on_files_listed(self, message: FilesListed) -> None:
        self.paths = message.paths
        tree = self.query_one(FileTree)
        tree.set_paths(message.paths)
        if self.initial_path:
            try:
                tree.reveal(self.session.workspace.relpath(self.initial_path))
            except AmigoError:
                pass  # refused (outside the repository, .git/, a link out): open_file said why

    @while_mounted
    def on_connection_checked(self, message: ConnectionChecked) -> None:
        self.query_one(StatusBar).connection = "connected" if message.ok else "down"
        if not message.ok:
            self.notify(message.detail, title="model server", severity="warning", markup=False)

    def _on_engine_event(self, event: Event) -> None:
        """Called on the thread that published; only posts messages (thread-safe)."""
        if isinstance(event, TokenEvent):
            # Coalesce: tokens wait in a buffer and one message wakes the UI, so a fast
            # stream costs one screen update per batch rather than one per token.
            with self._token_lock:
                self._token_buffer.append(event.text)
                wake = not self._token_wake_pending
                self._token_wake_pending = True
            if wake:
                self.post_message(TokenArrived())
        elif isinstance(event, RepairEvent):
            with self._token_lock:
                self._token_buffer.append(f"\n\n[the answer failed its checks; asking again "
                                          f"(attempt {event.attempt})]\n{event.problem}\n\n")
                wake = not self._token_wake_pending
                self._token_wake_pending = True
            if wake:
                self.post_message(TokenArrived())
        elif isinstance(event, StaleEvent):
            self.call_later(self._mark_stale, event.path)

    # -- files ------------------------------------------------------------------------

    def open_file(self, path: str, page: int = 0) -> None:
        try:
            rel = self.session.workspace.relpath(path)
        except AmigoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        loaded = load_page(self.session.repo_root, rel, self.session.config.max_file_bytes, page=page)
        view = self.query_one(FileView)
        view.show(loaded, keep_cursor=page == 0 and view.page is not None and view.page.path == rel)
        self.query_one("#main", ContentSwitcher).current = "file-view"
        view.code.focus()
        if loaded.notice:
            severity = "error" if loaded.kind in ("binary", "missing") else "warning"
            self.notify(loaded.notice, severity=severity, markup=False)

    def on_file_tree_file_chosen(self, message: FileTree.FileChosen) -> None:
        self.open_file(message.path)

    def on_code_view_page_requested(self, message: CodeView.PageRequested) -> None:
        page = self.query_one(FileView).page
        if page and page.kind == "huge":
            self.open_file(page.path, page=page.page + message.delta)

    def action_find(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.query_one(FileTree).reveal(path)
                self.open_file(path)
        self.push_screen(FinderScreen(self.paths), chosen)

    def action_toggle_tree(self) -> None:
        tree = self.query_one(FileTree)
        tree.display = not tree.display

    def action_switch_view(self) -> None:
        switcher = self.query_one("#main", ContentSwitcher)
        order = ["file-view", "stream"] + (["review"] if self.proposal else [])
        current = switcher.current if switcher.current in order else "file-view"
        switcher.current = order[(order.index(current) + 1) % len(order)]
        target = {"file-view": self.query_one(FileView).code, "stream": self.query_one(StreamPanel).log_widget,
                  "review": self.query_one(DiffPanel)}[switcher.current]
        target.focus()

    # -- asking -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`i` is a plain letter wherever text is being typed."""
        if action == "instruct":
            focused = self.focused
            typing = isinstance(focused, Input) or (isinstance(focused, TextArea) and not focused.read_only)
            return not typing and not isinstance(self.screen, ModalScreen)
        return True

    def action_instruct(self) -> None:
        # set_focus now, not focus() (deferred): keys typed right after `i` must land in the box
        self.screen.set_focus(self.query_one(InstructionInput))

    def action_fix(self) -> None:
        page = self.query_one(FileView).page
        if page is None or not page.editable:
            self.notify("open the text file to fix first (tree or ctrl+p)", severity="warning")
            return

        def chosen(text: str | None) -> None:
            if text:
                self._pending_fix = text
                box = self.query_one(InstructionInput)
                box.value = FIX_INSTRUCTION
                self._submit(FIX_INSTRUCTION)
        self.push_screen(FixScreen(self.session.repo_root, self.test_command), chosen)

    def on_input_submitted(self, event: InstructionInput.Submitted) -> None:
        if isinstance(event.input, InstructionInput):
            self._submit(event.value)

    def _submit(self, text: str) -> None:
        text = text.strip()
        if not text:
            self.notify("type an instruction first, e.g. 'add a docstring'", severity="warning")
            return
        if self.generating:
            self.notify("a generation is running: esc cancels it", severity="warning")
            return
        self.history.add(text)
        self.query_one(InstructionInput).value = ""
        if self._edit_retry_of is not None:
            parent, self._edit_retry_of = self._edit_retry_of, None
            self._start(f"retry: {text}", lambda cancel: self.session.retry(parent, instruction=text, cancel=cancel))
            return
        view = self.query_one(FileView)
        page = view.page
        if page is None:
            self.notify("open a file first (tree or ctrl+p), then say what to change", severity="warning")
            return
        if not page.editable:
            self.notify(page.notice or f"{page.path} cannot be edited", severity="error", markup=False)
            return
        selection = view.selection_range()
        fix_text, self._pending_fix = self._pending_fix, None
        diagnostics = diagnostics_from_output(fix_text, page.path, selection) if fix_text else ()
        path = page.path

        def job(cancel: threading.Event) -> Proposal:
            request = self.session.make_request(text, path, selection=selection, diagnostics=diagnostics)
            return self.session.propose(request, cancel=cancel)

        where = f"{path}:{selection[0]}-{selection[1]}" if selection else path
        self._start(f"{where}: {text}", job)

    def _start(self, title: str, job: Job) -> None:
        self._last_job = (title, job)
        self._cancel = threading.Event()
        self.generating = True
        stream = self.query_one(StreamPanel)
        stream.start(title)
        self.query_one("#main", ContentSwitcher).current = "stream"
        stream.log_widget.focus()
        self.query_one(StatusBar).activity = "generating… esc cancels"
        self._stats_timer.resume()
        cancel = self._cancel
        self.run_worker(lambda: self._generate(job, cancel), thread=True, group="generate")

    def _generate(self, job: Job, cancel: threading.Event) -> None:
        """Worker thread: run the engine; every outcome becomes one message."""
        try:
            proposal = job(cancel)
        except Cancelled:
            self.post_message(GenerationEnded(None, "cancelled"))
        except ModelServerError as exc:
            self.post_message(GenerationEnded(None, "failed", str(exc), server_down="reach" in str(exc)))
        except AmigoError as exc:
            self.post_message(GenerationEnded(None, "failed", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a bug must show as a message, not end the app
            log.exception("generation failed")
            self.post_message(GenerationEnded(None, "failed", f"unexpected error: {exc!r} (see the log)"))
        else:
            self.post_message(GenerationEnded(proposal, "done"))

    def on_token_arrived(self, message: TokenArrived) -> None:
        with self._token_lock:
            pieces, self._token_buffer = self._token_buffer, []
            self._token_wake_pending = False
        if not pieces:
            return
        for stream in self.query(StreamPanel):  # none while the app shuts down
            stream.append("".join(pieces), count=len(pieces))

    @while_mounted
    def _tick(self) -> None:
        for stream in self.query(StreamPanel):
            stream.refresh_stats()

    @while_mounted
    async def on_generation_ended(self, message: GenerationEnded) -> None:
        self.generating = False
        self._stats_timer.pause()
        stream = self.query_one(StreamPanel)
        status = self.query_one(StatusBar)
        status.activity = ""
        if message.state == "cancelled":
            stream.finish("cancelled", "cancelled: nothing changed")
            self.notify("generation cancelled; nothing changed")
            return
        if message.state == "failed":
            stream.finish("failed", message.error)
            if message.server_down:
                status.connection = "down"
            self.notify(f"{message.error}\npress r to try again", severity="error", timeout=10, markup=False)
            return
        status.connection = "connected"
        stream.finish("done")
        assert message.proposal is not None
        await self.show_proposal(message.proposal)

    def action_cancel(self) -> None:
        if self.generating:
            self._cancel.set()
            self.query_one(StatusBar).activity = "cancelling…"

    def action_retry(self) -> None:
        if self.generating:
            return
        if self.proposal is not None:
            self._verdict("retry", None)
        elif self._last_job is not None:
            title, job = self._last_job
            self._start(title, job)
        else:
            self.notify("nothing to retry yet: type an instruction", severity="warning")

    # -- reviewing -----------------------------------------------------------------------

    async def show_proposal(self, proposal: Proposal) -> None:
        self.proposal = proposal
        counts = {(c.old_text, c.new_text): sum(1 for path, _ in proposal.hunks if path == c.path)
                  for c in proposal.changes}  # the engine's hunks: nothing is diffed twice
        views = hunk_views(proposal.changes, lambda old, new: counts[(old, new)], edits.apply_hunks)
        panel = self.query_one(DiffPanel)
        await panel.show(proposal, views, commit=self.session.config.commit)
        self.query_one("#main", ContentSwitcher).current = "review"
        panel.focus()
        if proposal.errors:
            self.notify("; ".join(proposal.errors), title="the answer cannot be applied", severity="error",
                        markup=False)
        elif proposal.broken:
            self.notify("; ".join(f.message for f in proposal.findings if f.level == "error")[:300],
                        title="the change fails its checks", severity="error", markup=False)

    @while_mounted
    def _check_stale(self) -> None:
        proposal = self.proposal
        if proposal is None or self.query_one(DiffPanel).stale:
            return
        for change in proposal.changes:
            if self.session.workspace.current_sha(change.path) != change.base_sha256:
                self._mark_stale(change.path)
                return

    @while_mounted
    def _mark_stale(self, path: str) -> None:
        panel = self.query_one(DiffPanel)
        if self.proposal is None or panel.stale:
            return
        panel.stale = True
        panel.redraw()
        self.notify(f"{path} changed on disk: this proposal is stale and cannot be accepted; r asks again",
                    severity="warning", markup=False)

    def on_diff_panel_verdict(self, message: DiffPanel.Verdict) -> None:
        self._verdict(message.kind, message.hunks)

    def _verdict(self, kind: str, hunks: list[int] | None) -> None:
        proposal = self.proposal
        if proposal is None:
            return
        panel = self.query_one(DiffPanel)
        if kind == "accept":
            if panel.stale:
                self.notify("stale: a file changed on disk since this proposal; press r to ask again",
                            severity="error")
                return
            if hunks is not None and not hunks:
                self.notify("no hunk chosen: space toggles hunks, d rejects", severity="warning")
                return
            try:
                result = self.session.accept(proposal, hunks=hunks, commit=panel.commit)
            except AmigoError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            what = ", ".join(result.paths) + (f" (commit {result.commit[:10]})" if result.commit else "")
            self.notify(f"wrote {what}; u undoes", markup=False)
            self._close_review()
        elif kind == "reject":
            self.session.reject(proposal)
            self.notify("rejected; nothing changed")
            self._close_review()
        elif kind == "retry":
            self._start(f"retry: {proposal.request.instruction}",
                        lambda cancel: self.session.retry(proposal, cancel=cancel))
        elif kind == "edit-retry":
            self._edit_retry_of = proposal
            box = self.query_one(InstructionInput)
            box.value = proposal.request.instruction
            box.cursor_position = len(box.value)
            box.focus()
            self.notify("edit the instruction, then Enter asks again")

    def _close_review(self) -> None:
        proposal, self.proposal = self.proposal, None
        self.query_one(DiffPanel).clear()
        if proposal is not None:
            self.open_file(proposal.request.path)

    def action_undo(self) -> None:
        if self.generating:
            self.notify("a generation is running: esc cancels it first", severity="warning")
            return
        try:
            paths = self.session.undo()
        except AmigoError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify("restored " + ", ".join(paths), markup=False)
        page = self.query_one(FileView).page
        if page is not None and page.path in paths:
            self.open_file(page.path)
