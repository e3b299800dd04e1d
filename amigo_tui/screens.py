"""Modal screens: the fuzzy file finder and the "fix" box."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from amigo_tui.fix import run_test_command
from amigo_tui.fuzzy import fuzzy_filter


class FinderScreen(ModalScreen[str | None]):
    """Type to filter every file of the repository; Enter opens, Escape closes."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close"),
                Binding("down", "move(1)", "Down", show=False),
                Binding("up", "move(-1)", "Up", show=False)]

    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self.paths = paths

    def compose(self) -> ComposeResult:
        with Vertical(id="finder"):
            yield Input(placeholder="find a file (fuzzy)", id="finder-input", compact=True)
            yield OptionList(id="finder-list")
        yield Footer()

    def on_mount(self) -> None:
        self._refill("")

    def _refill(self, query: str) -> None:
        options = []
        for path, positions in fuzzy_filter(query, self.paths, limit=200):
            label = Text(path, no_wrap=True, overflow="ellipsis")
            for pos in positions:
                label.stylize("bold underline", pos, pos + 1)
            options.append(Option(label, id=path))
        listing = self.query_one(OptionList)
        listing.set_options(options)
        if options:
            listing.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._refill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        listing = self.query_one(OptionList)
        option = listing.highlighted_option
        self.dismiss(option.id if option else None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        listing = self.query_one(OptionList)
        if listing.option_count:
            current = listing.highlighted or 0
            listing.highlighted = max(0, min(listing.option_count - 1, current + step))


class FixScreen(ModalScreen[str | None]):
    """Paste the error text (or run the test command), then ctrl+s asks for a fix."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("ctrl+s", "send", "Ask for a fix"),
                Binding("ctrl+t", "run_tests", "Run test command")]

    def __init__(self, repo_root: Path, test_command: str | None) -> None:
        super().__init__()
        self.repo_root = repo_root
        self.test_command = test_command

    def compose(self) -> ComposeResult:
        with Vertical(id="fix"):
            hint = "Paste the error text below, then ctrl+s."
            if self.test_command:
                hint += f"  ctrl+t runs: {self.test_command}"
            yield Static(hint, id="fix-hint", markup=False)
            yield TextArea("", id="fix-text", soft_wrap=True)
        yield Footer()

    def action_send(self) -> None:
        text = self.query_one("#fix-text", TextArea).text.strip()
        if not text:
            self.notify("paste the error text first (or ctrl+t to run the test command)", severity="warning")
            return
        self.dismiss(text)

    def action_run_tests(self) -> None:
        if not self.test_command:
            self.notify("no test command configured: start with `amigo tui --test-command 'pytest -x'`",
                        severity="warning", markup=False)
            return
        self.query_one("#fix-hint", Static).update(f"running {self.test_command} …")
        self._run_tests()

    @work(thread=True, exclusive=True, group="fix-tests")
    def _run_tests(self) -> None:
        output = run_test_command(self.test_command or "", self.repo_root)
        self.app.call_from_thread(self._show_output, output)

    def _show_output(self, output: str) -> None:
        self.query_one("#fix-text", TextArea).load_text(output)
        self.query_one("#fix-hint", Static).update("test output below; ctrl+s asks for a fix")
