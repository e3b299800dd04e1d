"""The promotion gate: may the candidate model replace the baseline?

A task blocks promotion when the candidate's pass rate is lower by more than
``tolerance`` AND a paired exact test on per-problem outcomes says the drop
is unlikely to be chance (one-sided p < ``alpha``). ``strict`` drops the
significance condition (any drop beyond the tolerance blocks). A task missing
from either run blocks too: the gate never passes on absent evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from amigo_train.eval.runner import RunResult
from amigo_train.eval.stats import PairedResult, paired_compare


@dataclass(frozen=True)
class TaskVerdict:
    task: str
    ok: bool
    reason: str
    paired: PairedResult | None


@dataclass(frozen=True)
class GateResult:
    ok: bool
    verdicts: tuple[TaskVerdict, ...]
    tolerance: float
    alpha: float
    strict: bool


def _rates(run: RunResult) -> dict[str, float]:
    return {pid: row["c"] / row["n"] for pid, row in run.problems.items() if row["n"]}


def judge_task(task: str, baseline: RunResult | None, candidate: RunResult | None,
               tolerance: float, alpha: float, strict: bool) -> TaskVerdict:
    """The verdict for one task (see the module docstring for the rule)."""
    if baseline is None or candidate is None:
        missing = "baseline" if baseline is None else "candidate"
        return TaskVerdict(task, False, f"no {missing} run for {task}", None)
    try:
        paired = paired_compare(_rates(baseline), _rates(candidate))
    except ValueError as exc:
        return TaskVerdict(task, False, str(exc), None)
    unpaired = len(set(baseline.problems) ^ set(candidate.problems))
    note = f"; {unpaired} problems in only one run were ignored" if unpaired else ""
    drop = -paired.delta
    if drop > tolerance and (strict or paired.p_worse < alpha):
        why = "any drop beyond the tolerance (strict)" if strict else f"p={paired.p_worse:.4g} < {alpha}"
        return TaskVerdict(task, False, f"regressed by {drop:.1%} > {tolerance:.1%} ({why}){note}", paired)
    if drop > tolerance:
        return TaskVerdict(task, True, f"dropped {drop:.1%} but not significantly (p={paired.p_worse:.4g}){note}",
                           paired)
    return TaskVerdict(task, True, f"no regression beyond {tolerance:.1%} (delta {paired.delta:+.1%}){note}", paired)


def gate(baseline: dict[str, RunResult], candidate: dict[str, RunResult], tasks: Sequence[str] | None = None,
         tolerance: float = 0.01, alpha: float = 0.05, strict: bool = False) -> GateResult:
    """Judge every task in ``tasks`` (default: every task of the baseline)."""
    names = list(tasks) if tasks else sorted(baseline)
    verdicts = tuple(judge_task(t, baseline.get(t), candidate.get(t), tolerance, alpha, strict) for t in names)
    return GateResult(all(v.ok for v in verdicts), verdicts, tolerance, alpha, strict)


def gate_markdown(result: GateResult, baseline_label: str, candidate_label: str) -> str:
    """The gate's evidence as a Markdown section (also embedded in the HTML report)."""
    lines = [
        "## Promotion gate",
        "",
        f"**{'PASS' if result.ok else 'FAIL'}**: candidate `{candidate_label}` vs baseline `{baseline_label}`; "
        f"tolerance {result.tolerance:.1%}, alpha {result.alpha}, "
        f"{'strict (no significance needed)' if result.strict else 'paired exact sign test (McNemar for n=1)'}.",
        "",
        "| task | verdict | problems | baseline | candidate | delta | wins | losses | p (worse) | p (two-sided) | reason |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for v in result.verdicts:
        p = v.paired
        if p is None:
            lines.append(f"| {v.task} | {'ok' if v.ok else 'BLOCK'} | | | | | | | | | {v.reason} |")
        else:
            lines.append(f"| {v.task} | {'ok' if v.ok else 'BLOCK'} | {p.problems} | {p.baseline:.1%} | "
                         f"{p.candidate:.1%} | {p.delta:+.1%} | {p.wins} | {p.losses} | {p.p_worse:.4g} | "
                         f"{p.p_two_sided:.4g} | {v.reason} |")
    return "\n".join(lines) + "\n"
