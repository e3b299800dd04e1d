"""Rich renderables for hunks: syntax-highlighted, unified or side by side (pure)."""

from __future__ import annotations

from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text

from amigo_tui.diffmodel import DiffLine, HunkView, side_by_side

ADDED = Style(bgcolor="#103a1c")
REMOVED = Style(bgcolor="#4a1414")
MARK = {"+": Style(color="green", bold=True), "-": Style(color="red", bold=True),
        " ": Style(dim=True), "~": Style(color="yellow")}


def highlight(texts: list[str], path: str) -> list[Text]:
    """Highlight the lines together (so multi-line tokens mostly survive), split back per line."""
    if not texts:
        return []
    code = "\n".join(texts)
    try:
        lexer = Syntax.guess_lexer(path, code)
        text = Syntax("", lexer, theme="ansi_dark").highlight(code)
    except Exception:  # noqa: BLE001 - a lexer failure must only cost the colours
        text = Text(code)
    parts = text.split("\n", allow_blank=True)
    out = [parts[i] if i < len(parts) else Text(texts[i]) for i in range(len(texts))]
    for line in out:
        line.expand_tabs(4)
    return out


def warm_highlighter(path: str) -> None:
    """Load the lexer for ``path`` ahead of time (pygments imports lexers lazily, slowly)."""
    highlight(["x = 1"], path)


def hunk_title(view: HunkView, total: int, chosen: bool, current: bool, stale: bool) -> Text:
    box = "[x]" if chosen else "[ ]"
    title = Text()
    title.append(f"{'>' if current else ' '} {box} ", style="bold" if current else "")
    title.append(f"hunk {view.index + 1}/{total} ", style="bold")
    title.append(f"{view.path} ", style="bold cyan")
    title.append(view.header, style="cyan")
    title.append(f"  +{view.added} -{view.removed}", style="dim")
    if stale:
        title.append("  STALE", style="bold reverse red")
    return title


def _number(value: int | None, width: int) -> str:
    return (str(value) if value is not None else "").rjust(width)


def render_unified(view: HunkView, width: int = 0) -> Text:
    """``old new | +line`` rows with the added/removed lines tinted."""
    lines = view.lines
    width = max((len(str(n)) for line in lines for n in (line.old_no, line.new_no) if n), default=1)
    highlighted = highlight([line.text for line in lines], view.path)
    out = Text(no_wrap=True, overflow="ellipsis")
    for line, body in zip(lines, highlighted):
        row = Text(no_wrap=True)
        row.append(f"{_number(line.old_no, width)} {_number(line.new_no, width)} ", style="dim")
        row.append(f"{line.tag if line.tag != '~' else '~'} ", style=MARK.get(line.tag, Style()))
        row.append_text(body)
        if width and row.cell_len < width:
            row.append(" " * (width - row.cell_len))  # tint the whole row, not just the text
        if line.tag == "+":
            row.stylize(ADDED)
        elif line.tag == "-":
            row.stylize(REMOVED)
        out.append_text(row)
        out.append("\n")
    out.rstrip()
    return out


def render_split(view: HunkView, width: int) -> Text:
    """Old on the left, new on the right; each side cut to half the width."""
    rows = side_by_side(view.lines)
    numw = max((len(str(n)) for line in view.lines for n in (line.old_no, line.new_no) if n), default=1)
    half = max(8, (width - 3) // 2)
    body_w = max(1, half - numw - 3)
    texts = highlight([line.text for line in view.lines], view.path)
    lookup = {id(line): text for line, text in zip(view.lines, texts)}
    out = Text(no_wrap=True)

    def side(line: DiffLine | None, old: bool) -> Text:
        cell = Text(no_wrap=True)
        if line is None:
            cell.append(" " * half)
            return cell
        number = line.old_no if old else line.new_no
        cell.append(_number(number, numw) + " ", style="dim")
        cell.append(f"{line.tag} ", style=MARK.get(line.tag, Style()))
        body = lookup[id(line)].copy()
        body.truncate(body_w, overflow="ellipsis", pad=True)
        cell.append_text(body)
        if line.tag == "+":
            cell.stylize(ADDED)
        elif line.tag == "-":
            cell.stylize(REMOVED)
        return cell

    for left, right in rows:
        out.append_text(side(left, True))
        out.append(" │ ", style="dim")
        out.append_text(side(right, False))
        out.append("\n")
    out.rstrip()
    return out
