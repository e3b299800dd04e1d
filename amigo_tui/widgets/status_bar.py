"""One line at the bottom: endpoint, model/adapter and whether the server answers."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

STATE_STYLES = {"connected": "green", "down": "bold red", "checking": "yellow", "streaming": "cyan"}


class StatusBar(Static):
    endpoint: reactive[str] = reactive("")
    model: reactive[str] = reactive("")
    connection: reactive[str] = reactive("checking")
    activity: reactive[str] = reactive("")

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("● ", style=STATE_STYLES.get(self.connection, ""))
        text.append(self.connection, style=STATE_STYLES.get(self.connection, ""))
        text.append(f"  {self.model}", style="bold")
        text.append(f"  {self.endpoint}", style="dim")
        if self.activity:
            text.append(f"  ·  {self.activity}")
        return text
