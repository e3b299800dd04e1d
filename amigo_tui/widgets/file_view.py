"""The file being edited: syntax-highlighted, read-only, a line range selectable by keys or mouse."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea
from textual.widgets.text_area import LanguageDoesNotExist

from amigo.filetypes import language_of
from amigo_tui.fileload import FilePage

class CodeView(TextArea):
    """Read-only code; bindings for huge files' pages and for clearing the selection."""

    BINDINGS = [
        Binding("[", "page(-1)", "Prev page", show=False),
        Binding("]", "page(1)", "Next page", show=False),
        Binding("shift+down", "select_down", "Select", show=True, key_display="⇧↓"),
    ]

    class PageRequested(Message):
        def __init__(self, delta: int) -> None:
            super().__init__()
            self.delta = delta

    def action_page(self, delta: int) -> None:
        self.post_message(self.PageRequested(delta))

    def action_select_down(self) -> None:
        self.action_cursor_down(select=True)


class FileView(Vertical):
    """A header line (path, notice, selection) over the code."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.page: FilePage | None = None

    def compose(self) -> ComposeResult:
        yield Static("no file open: choose one in the tree or press ctrl+p", id="file-header", markup=False)
        yield CodeView.code_editor("", read_only=True, soft_wrap=False, id="code")

    @property
    def code(self) -> CodeView:
        return self.query_one("#code", CodeView)

    def show(self, page: FilePage, keep_cursor: bool = False) -> None:
        """Display ``page``; highlighting only for editable files (huge pages stay plain)."""
        self.page = page
        code = self.code
        cursor = code.cursor_location
        language = language_of(page.path) if page.kind == "text" else None
        code.language = None
        code.line_number_start = page.first_line
        code.load_text(page.text)
        if language in code.available_languages:
            try:
                code.language = language
            except LanguageDoesNotExist:
                # Textual knows how to highlight the language but its grammar package
                # (tree-sitter-markdown, -toml, ...) is not installed: plain text, never a crash.
                code.language = None
        if keep_cursor:
            row = min(cursor[0], max(0, code.document.line_count - 1))
            code.cursor_location = (row, 0)
        self.update_header()

    def selection_range(self) -> tuple[int, int] | None:
        """The selected lines, 1-based and inclusive; None when nothing is selected."""
        selection = self.code.selection
        if selection.start == selection.end:
            return None
        (r1, c1), (r2, c2) = sorted((selection.start, selection.end))
        if c2 == 0 and r2 > r1:
            r2 -= 1  # a selection that ends at the start of a line does not include it
        offset = self.page.first_line if self.page else 1
        return r1 + offset, r2 + offset

    def update_header(self) -> None:
        page = self.page
        if page is None:
            return
        selected = self.selection_range()
        where = f"lines {selected[0]}-{selected[1]}" if selected else "whole file"
        text = f"{page.path}  ·  {where}"
        if page.notice:
            text = f"{page.notice}"
        self.query_one("#file-header", Static).update(text)

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        self.update_header()
