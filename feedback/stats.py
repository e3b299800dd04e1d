"""``amigo feedback stats``: how well the model serves the people who use it.

Per proposal: accepted (and not undone), rejected, retried, its measured
retention. Aggregated overall, per model/adapter, per language and per ISO
week, as a terminal table and, with ``--plot``, a PNG chart (matplotlib,
imported only then). Inline completions, when there are any: how many were
shown, accepted (whole or partly) and rejected, per model/adapter.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from amigo import install_hint
from amigo.errors import InputError
from feedback.store import Reader

_SUMMARY = """
SELECT p.id, p.model, p.adapter, p.language, p.created_at, p.repo_id,
  EXISTS (SELECT 1 FROM events e WHERE e.proposal_id = p.id AND e.kind = 'accepted'
          AND NOT EXISTS (SELECT 1 FROM events u WHERE u.proposal_id = p.id AND u.kind = 'undone'
                          AND u.at >= e.at)) AS accepted,
  EXISTS (SELECT 1 FROM events e WHERE e.proposal_id = p.id AND e.kind = 'rejected') AS rejected,
  EXISTS (SELECT 1 FROM events e WHERE e.proposal_id = p.id AND e.kind = 'retried') AS retried,
  (SELECT f.retention FROM followups f WHERE f.proposal_id = p.id AND f.kind = 'retention'
          AND f.status = 'done') AS retention,
  EXISTS (SELECT 1 FROM followups f WHERE f.proposal_id = p.id AND f.kind = 'correction'
          AND f.status = 'done') AS corrected
FROM proposals p
"""

_COMPLETIONS = """
SELECT c.model, c.adapter,
  EXISTS (SELECT 1 FROM completion_events e WHERE e.completion_id = c.id AND e.kind = 'accepted') AS accepted,
  EXISTS (SELECT 1 FROM completion_events e WHERE e.completion_id = c.id AND e.kind = 'rejected') AS rejected
FROM completions c WHERE c.created_at >= ?
"""


@dataclass
class CompletionGroup:
    name: str
    shown: int = 0
    accepted: int = 0
    rejected: int = 0

    @property
    def accept_rate(self) -> float:
        return self.accepted / self.shown if self.shown else 0.0

    def add(self, row: sqlite3.Row) -> None:
        self.shown += 1
        self.accepted += bool(row["accepted"])
        self.rejected += bool(row["rejected"])


@dataclass
class Group:
    name: str
    proposals: int = 0
    accepted: int = 0
    rejected: int = 0
    retried: int = 0
    corrected: int = 0
    retention_sum: float = 0.0
    retention_n: int = 0

    @property
    def accept_rate(self) -> float:
        return self.accepted / self.proposals if self.proposals else 0.0

    @property
    def retention(self) -> float | None:
        return self.retention_sum / self.retention_n if self.retention_n else None

    def add(self, row: sqlite3.Row) -> None:
        self.proposals += 1
        self.accepted += bool(row["accepted"])
        self.rejected += bool(row["rejected"])
        self.retried += bool(row["retried"])
        self.corrected += bool(row["corrected"])
        if row["retention"] is not None:
            self.retention_sum += row["retention"]
            self.retention_n += 1


@dataclass
class Stats:
    total: Group = field(default_factory=lambda: Group("all"))
    by_model: dict[str, Group] = field(default_factory=dict)
    by_language: dict[str, Group] = field(default_factory=dict)
    by_week: dict[str, Group] = field(default_factory=dict)
    by_repo: dict[str, Group] = field(default_factory=dict)
    completions: CompletionGroup = field(default_factory=lambda: CompletionGroup("all"))
    completions_by_model: dict[str, CompletionGroup] = field(default_factory=dict)


def week_of(ts: float) -> str:
    year, week, _ = datetime.fromtimestamp(ts, timezone.utc).isocalendar()
    return f"{year}-W{week:02d}"


def compute(store: Reader, since: float = 0.0) -> Stats:
    """Aggregate every proposal made since ``since``."""
    stats = Stats()
    for row in store.query(_SUMMARY + " WHERE p.created_at >= ?", (since,)):
        model = row["model"] + (f"@{row['adapter']}" if row["adapter"] else "")
        stats.total.add(row)
        for table, key in ((stats.by_model, model), (stats.by_language, row["language"]),
                           (stats.by_week, week_of(row["created_at"])), (stats.by_repo, row["repo_id"])):
            table.setdefault(key, Group(key)).add(row)
    for row in store.query(_COMPLETIONS, (since,)):
        model = row["model"] + (f"@{row['adapter']}" if row["adapter"] else "")
        stats.completions.add(row)
        stats.completions_by_model.setdefault(model, CompletionGroup(model)).add(row)
    return stats


def _line(g: Group, width: int) -> str:
    retention = f"{g.retention:6.1%}" if g.retention is not None else "     -"
    return (f"{g.name[:width]:<{width}} {g.proposals:>9} {g.accepted:>8} {g.rejected:>8} {g.retried:>7} "
            f"{g.corrected:>9} {g.accept_rate:>7.1%} {retention:>9} {g.retention_n:>6}")


def format_table(stats: Stats) -> str:
    """The terminal report: one section per grouping."""
    tables = (stats.by_model, stats.by_language, stats.by_week, stats.by_repo, stats.completions_by_model)
    width = max([24] + [len(k) for t in tables for k in t])
    header = (f"{'':<{width}} {'proposals':>9} {'accepted':>8} {'rejected':>8} {'retried':>7} "
              f"{'corrected':>9} {'accept':>7} {'retention':>9} {'n ret':>6}")
    out = [header, _line(stats.total, width)]
    for title, table in (("per model/adapter", stats.by_model), ("per language", stats.by_language),
                         ("per week", stats.by_week), ("per repository id", stats.by_repo)):
        out.append("")
        out.append(title)
        out.extend(_line(table[k], width) for k in sorted(table))
    if stats.completions.shown:
        out += ["", f"{'inline completions':<{width}} {'shown':>9} {'accepted':>8} {'rejected':>8} {'accept':>7}"]
        for g in [stats.completions] + [stats.completions_by_model[k] for k in sorted(stats.completions_by_model)]:
            out.append(f"{g.name[:width]:<{width}} {g.shown:>9} {g.accepted:>8} {g.rejected:>8} "
                       f"{g.accept_rate:>7.1%}")
    return "\n".join(out)


def plot(stats: Stats, path: Path) -> Path:
    """A PNG: proposals and accept rate per week, accept rate and retention per model and language."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError(f"--plot needs matplotlib: {install_hint('eval')}") from exc
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    weeks = sorted(stats.by_week)
    ax = axes[0]
    ax.bar(weeks, [stats.by_week[w].proposals for w in weeks], color="#9ecae1", label="proposals")
    ax.set_ylabel("proposals")
    ax.set_title("per week")
    ax.tick_params(axis="x", rotation=45)
    twin = ax.twinx()
    twin.plot(weeks, [stats.by_week[w].accept_rate for w in weeks], "o-", color="#d94801", label="accept rate")
    twin.set_ylim(0, 1)
    twin.set_ylabel("accept rate")
    for ax, table, title in ((axes[1], stats.by_model, "per model/adapter"),
                             (axes[2], stats.by_language, "per language")):
        keys = sorted(table)
        xs = range(len(keys))
        ax.bar([x - 0.2 for x in xs], [table[k].accept_rate for k in keys], width=0.4, label="accept rate")
        ax.bar([x + 0.2 for x in xs], [table[k].retention or 0 for k in keys], width=0.4, label="retention")
        ax.set_xticks(list(xs), keys, rotation=30, ha="right")
        ax.set_ylim(0, 1.3)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_title(title)
        ax.legend(loc="upper center", ncol=2)
    fig.suptitle(f"Amigo feedback: {stats.total.proposals} proposals, accept rate {stats.total.accept_rate:.0%}")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
