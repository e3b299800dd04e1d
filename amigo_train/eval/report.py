"""Reports: runs side by side, published reference numbers beside ours, charts, gate evidence.

One Markdown text is the source; the HTML report is rendered from it (our own
small subset: headings, paragraphs, tables, images), with the chart embedded
so the file stands alone. Charts use matplotlib (the ``eval`` extra); without
it the report is written without charts and says so.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from amigo import install_hint
from amigo_train.eval.runner import RunResult


@dataclass(frozen=True)
class Reference:
    """A published score, quoted with its source and prompt caveat."""

    model: str
    task: str
    value: float  # percent
    source: str


REFERENCES: tuple[Reference, ...] = (
    Reference("OctoCoder", "humanevalfix", 27.0,
              "OctoPack (Muennighoff et al. 2023), HumanEvalFix pass@1 averaged over 6 languages "
              "(ours is per language)"),
    Reference("Gemma-3-12B-it", "humaneval", 85.4, "Gemma 3 technical report (2025), HumanEval pass@1"),
    Reference("Qwen2.5-Coder-14B-Instruct", "humaneval", 89.6,
              "Qwen2.5-Coder technical report (2024), HumanEval pass@1"),
)


def _pct(value: object) -> str:
    return f"{100 * float(value):.1f}" if isinstance(value, (int, float)) else ""


def runs_table(runs: Sequence[RunResult]) -> str:
    lines = [
        "| run | task | model / source | n | temperature | problems | pass@1 % | pass@10 % | other metrics | sandbox |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for run in runs:
        cfg, s = run.record["config"], run.record["summary"]
        extra = ", ".join(f"{k} {_pct(v)}%" for k, v in s.items()
                          if k not in ("problems", "n", "statuses") and not k.startswith("pass@"))
        sandbox = (run.record.get("sandbox") or {}).get("mode", "none")
        who = cfg.get("model") or cfg.get("source")
        lines.append(f"| {run.name} | {run.task} | {who} | {s['n']} | {cfg.get('temperature')} | "
                     f"{s['problems']} | {_pct(s.get('pass@1'))} | {_pct(s.get('pass@10'))} | {extra} | {sandbox} |")
    return "\n".join(lines)


def references_table(tasks: set[str]) -> str:
    rows = [r for r in REFERENCES if r.task in tasks] or list(REFERENCES)
    lines = ["| model | task | published pass@1 % | source |", "| --- | --- | ---: | --- |"]
    lines += [f"| {r.model} | {r.task} | {r.value:.1f} | {r.source} |" for r in rows]
    return "\n".join(lines)


def prompts_table(runs: Sequence[RunResult]) -> str:
    seen: dict[str, str] = {}
    for run in runs:
        seen.setdefault(run.task, str(run.record.get("prompt_format", "")))
    lines = ["| task | prompt format |", "| --- | --- |"]
    lines += [f"| {t} | {fmt} |" for t, fmt in sorted(seen.items())]
    return "\n".join(lines)


def status_table(runs: Sequence[RunResult]) -> str:
    lines = ["| run | task | statuses of all samples |", "| --- | --- | --- |"]
    for run in runs:
        statuses = run.record["summary"].get("statuses", {})
        lines.append(f"| {run.name} | {run.task} | "
                     + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())) + " |")
    return "\n".join(lines)


def chart(runs: Sequence[RunResult], path: Path) -> bool:
    """A grouped bar chart of pass@1 per task and run, references as markers. False if no matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    tasks = sorted({r.task for r in runs})
    labels = list(dict.fromkeys(r.name for r in runs))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(tasks) + 2), 4.2))
    width = 0.8 / max(1, len(labels))
    for j, label in enumerate(labels):
        values = []
        for t in tasks:
            match = [r for r in runs if r.task == t and r.name == label]
            values.append(100 * float(match[0].record["summary"].get("pass@1", 0.0)) if match else float("nan"))
        xs = [i + (j - (len(labels) - 1) / 2) * width for i in range(len(tasks))]
        bars = ax.bar(xs, [0.0 if v != v else v for v in values], width, label=label)
        ax.bar_label(bars, labels=["" if v != v else f"{v:.1f}" for v in values], fontsize=7)
    for ref in REFERENCES:
        if ref.task in tasks:
            i = tasks.index(ref.task)
            ax.plot([i - 0.45, i + 0.45], [ref.value, ref.value], linestyle="--", linewidth=1)
            ax.annotate(f"{ref.model} {ref.value:.1f}", (i + 0.45, ref.value), fontsize=7, va="bottom", ha="right")
    ax.set_xticks(range(len(tasks)), tasks, rotation=20)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 105)
    ax.set_title("pass@1 per task (dashed: published reference numbers)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def build_markdown(runs: Sequence[RunResult], chart_name: str | None, gate_section: str = "") -> str:
    """The whole report as Markdown."""
    parts = [
        "# Amigo evaluation report",
        "",
        "Scores depend on the prompt format, sampling and the execution harness: published numbers "
        "were measured by their authors with their own prompts, so compare them as a rough guide only.",
        "",
        "## Runs",
        "",
        runs_table(runs),
        "",
    ]
    if chart_name:
        parts += [f"![pass@1 per task]({chart_name})", ""]
    else:
        parts += [f"(No chart: install matplotlib, the `eval` extra, to get one: `{install_hint('eval')}`.)", ""]
    parts += ["## Published reference numbers", "", references_table({r.task for r in runs}), "",
              "## Prompt formats", "", prompts_table(runs), "",
              "## Sample outcomes", "", status_table(runs), ""]
    if gate_section:
        parts += [gate_section]
    return "\n".join(parts)


def markdown_to_html(markdown: str, images: dict[str, bytes]) -> str:
    """Render our Markdown subset (headings, tables, paragraphs, images, fenced code) as a standalone page."""
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>Amigo evaluation report</title>",
           "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
           "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
           "font-size:90%}th{background:#f3f3f3}</style></head><body>"]
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"`{3,}", line)
        if fence:  # a code block runs to the same fence (answers quoted with 4 backticks keep their own 3)
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence.group(0)), len(lines))
            out.append(f"<pre>{html.escape(chr(10).join(lines[i + 1:end]))}</pre>")
            i = end + 1
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            out.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in rows[0]) + "</tr>")
            for row in rows[2:]:
                out.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>")
            out.append("</table>")
            continue
        image = re.match(r"!\[(.*?)\]\((.*?)\)", line)
        heading = re.match(r"(#+) (.*)", line)
        if image:
            data = images.get(image.group(2))
            src = f"data:image/png;base64,{base64.b64encode(data).decode()}" if data else html.escape(image.group(2))
            out.append(f"<p><img alt='{html.escape(image.group(1))}' src='{src}'></p>")
        elif heading:
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    out.append("</body></html>")
    return "\n".join(out)


def _inline(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escaped)
    return re.sub(r"(?<!`)`([^`]+?)`(?!`)", r"<code>\1</code>", escaped)


def write_report(runs: Sequence[RunResult], out: str | Path, gate_section: str = "") -> list[Path]:
    """Write ``out`` (.md or .html; both are written, side by side) and the chart; returns the paths."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("")
    chart_path = stem.parent / f"{stem.name}-pass1.png"
    has_chart = chart(runs, chart_path) if runs else False
    markdown = build_markdown(runs, chart_path.name if has_chart else None, gate_section)
    md_path, html_path = stem.with_suffix(".md"), stem.with_suffix(".html")
    md_path.write_text(markdown, encoding="utf-8")
    images = {chart_path.name: chart_path.read_bytes()} if has_chart else {}
    html_path.write_text(markdown_to_html(markdown, images), encoding="utf-8")
    return [md_path, html_path] + ([chart_path] if has_chart else [])
