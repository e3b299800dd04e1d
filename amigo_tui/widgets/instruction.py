"""The instruction box: Enter sends, Up/Down walk the persisted history."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

from amigo_tui.history import InstructionHistory


class InstructionInput(Input):
    BINDINGS = [
        Binding("up", "history(-1)", "History", show=False),
        Binding("down", "history(1)", "History", show=False),
    ]

    def __init__(self, history: InstructionHistory, **kwargs) -> None:
        super().__init__(select_on_focus=False, **kwargs)
        self.history = history

    def action_history(self, step: int) -> None:
        text = self.history.previous() if step < 0 else self.history.next()
        if text is not None:
            self.value = text
            self.cursor_position = len(text)
