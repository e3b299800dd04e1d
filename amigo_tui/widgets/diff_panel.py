"""Reviewing a proposal: hunks to toggle, accept (all or chosen), reject, retry."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from amigo.events import Proposal
from amigo_tui.diffmodel import HunkView
from amigo_tui.render import hunk_title, render_split, render_unified


class HunkWidget(Static):
    """One hunk; clicking it makes it current and toggles it."""

    def __init__(self, view: HunkView, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view

    def on_click(self) -> None:
        panel = self.parent
        if isinstance(panel, DiffPanel):
            panel.current = self.view.index
            panel.action_toggle()


class DiffPanel(VerticalScroll, can_focus=True):
    """Attributes down (:meth:`show`, ``stale``); messages up (:class:`Verdict`)."""

    BINDINGS = [
        Binding("a", "accept", "Accept"),
        Binding("space", "toggle", "Toggle hunk"),
        Binding("j,down", "move(1)", "Next", show=False),
        Binding("k,up", "move(-1)", "Prev", show=False),
        Binding("d", "reject", "Reject"),
        Binding("r", "retry", "Retry"),
        Binding("e", "edit_retry", "Edit+retry"),
        Binding("t", "toggle_split", "Split"),
        Binding("c", "toggle_commit", "Commit", show=False),
    ]

    class Verdict(Message):
        """``kind`` is accept, reject, retry or edit-retry; ``hunks`` only for accept (None = all)."""

        def __init__(self, kind: str, hunks: list[int] | None = None) -> None:
            super().__init__()
            self.kind = kind
            self.hunks = hunks

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.proposal: Proposal | None = None
        self.views: list[HunkView] = []
        self.chosen: set[int] = set()
        self.current = 0
        self.split = False
        self.stale = False
        self.commit = False

    async def show(self, proposal: Proposal, views: list[HunkView], commit: bool) -> None:
        self.proposal = proposal
        self.views = views
        self.chosen = {view.index for view in views}
        self.current = 0
        self.stale = False
        self.commit = commit
        await self.remove_children()
        widgets: list[Static] = [Static(id="diff-summary", markup=False)]
        widgets.extend(HunkWidget(view, classes="hunk", markup=False) for view in views)
        if proposal.errors:
            answer = Text(proposal.answer.strip() or "(empty answer)", style="dim")
            widgets.append(Static(Group(Text("The model's answer:", style="bold"), answer),
                                  classes="answer", markup=False))
        await self.mount_all(widgets)
        self.redraw()

    def clear(self) -> None:
        self.proposal = None
        self.views = []
        self.remove_children()

    def summary(self) -> Text:
        proposal = self.proposal
        text = Text()
        if proposal is None:
            return text
        if self.stale:
            text.append("STALE: a file changed on disk since this proposal was made; it cannot be accepted. "
                        "Press r to ask again.\n", style="bold red")
        if proposal.errors:
            text.append("Nothing can be applied: " + "; ".join(proposal.errors) + "\n", style="bold red")
            text.append("r retry · e edit the instruction and retry · d dismiss", style="dim")
            return text
        if proposal.findings:
            broken = proposal.broken
            text.append("CHECKS FAILED: review closely before accepting\n" if broken else "Checks:\n",
                        style="bold red" if broken else "bold yellow")
            for finding in proposal.findings:
                text.append(f"  {finding}\n", style="red" if finding.level == "error" else "yellow")
        files = ", ".join(change.path for change in proposal.changes)
        text.append(f"{len(self.views)} hunk{'s' if len(self.views) != 1 else ''} · {files}", style="bold")
        text.append(f" · {len(self.chosen)}/{len(self.views)} chosen · commit {'on' if self.commit else 'off'} (c)"
                    f" · {'split' if self.split else 'unified'} (t)", style="dim")
        return text

    def redraw(self) -> None:
        if not self.is_mounted or self.proposal is None:
            return
        for widget in self.query(Static):
            if widget.id == "diff-summary":
                widget.update(self.summary())
        width = max(20, self.size.width - 2)
        for widget in self.query(HunkWidget):
            view = widget.view
            current = view.index == self.current
            title = hunk_title(view, len(self.views), view.index in self.chosen, current, self.stale)
            body = render_split(view, width) if self.split else render_unified(view, width)
            marks = [Text(f"! {f.message}", style="bold red") for f in self._findings_in(view)]
            widget.update(Group(title, *marks, body))
            widget.set_class(current, "-current")
            widget.set_class(view.index not in self.chosen, "-off")

    def _findings_in(self, view: HunkView) -> list:
        """The proposal's findings whose line falls in ``view``'s new lines (marked on the hunk)."""
        if self.proposal is None:
            return []
        lines = {line.new_no for line in view.lines if line.new_no is not None}
        return [f for f in self.proposal.findings if f.path == view.path and f.line in lines]

    def _scroll_to_current(self) -> None:
        hunks = list(self.query(HunkWidget))
        if 0 <= self.current < len(hunks):
            self.scroll_to_widget(hunks[self.current], animate=False, top=True)

    def action_move(self, step: int) -> None:
        if self.views:
            self.current = (self.current + step) % len(self.views)
            self.redraw()
            self._scroll_to_current()

    def action_toggle(self) -> None:
        if not self.views:
            return
        self.chosen ^= {self.current}
        self.redraw()

    def action_toggle_split(self) -> None:
        self.split = not self.split
        self.redraw()

    def action_toggle_commit(self) -> None:
        self.commit = not self.commit
        self.redraw()

    def action_accept(self) -> None:
        if self.proposal is None:
            return
        if len(self.chosen) == len(self.views):
            self.post_message(self.Verdict("accept", None))
        else:
            self.post_message(self.Verdict("accept", sorted(self.chosen)))

    def action_reject(self) -> None:
        if self.proposal is not None:
            self.post_message(self.Verdict("reject"))

    def action_retry(self) -> None:
        if self.proposal is not None:
            self.post_message(self.Verdict("retry"))

    def action_edit_retry(self) -> None:
        if self.proposal is not None:
            self.post_message(self.Verdict("edit-retry"))

    def on_resize(self) -> None:
        if self.split:
            self.redraw()
