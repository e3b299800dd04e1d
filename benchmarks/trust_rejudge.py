"""The check stage of today on the changes saved `benchmarks/trust.py` runs wrote: what it would
refuse now, and whether those changes did what was asked.

    python benchmarks/trust_rejudge.py benchmarks/data/trust_asked_defs_whole_49_cold_avx512.jsonl
    python benchmarks/trust_rejudge.py RECORDS... --show      # each refused change and its finding

A new check is worth having when it refuses written changes that fail the task's behaviour
checks (``asked`` false) and none that pass them. The records keep each written file (``text``)
and its ``asked`` verdict, so this asks no model: it runs ``amigo.checks.check_changes`` on the
task's file and the written text, with the task's instruction. It cannot say what the new check
would have done in the rounds (a refused change would have gone back to the model, and another
candidate might have passed); a run of trust.py says that.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from amigo.checks import Finding, check_changes  # noqa: E402
from benchmarks.task_checks import tasks_by_id  # noqa: E402
from benchmarks.trust import Outcome, key_of, load_outcomes  # noqa: E402


def refusal(task: dict, outcome: Outcome) -> Finding | None:
    """The first error-level finding today's check stage has for the written change, or None."""
    assert outcome.text is not None
    findings = check_changes([(task["path"], task["file_text"], outcome.text)], task["instruction"])
    return next((finding for finding in findings if finding.level == "error"), None)


def rejudge(outcomes: list[Outcome], tasks: dict[str, dict], show: bool = False) -> list[str]:
    """One line per configuration: written and judged, refused now (wrong / right), by finding kind."""
    rows: dict[tuple, Counter] = defaultdict(Counter)
    kinds: dict[tuple, Counter] = defaultdict(Counter)
    lines = []
    for o in outcomes:
        if o.text is None or o.asked is None:
            continue
        key = key_of(o)
        rows[key]["written"] += 1
        rows[key]["right"] += bool(o.asked)
        finding = refusal(tasks[o.task], o)
        if finding is None:
            continue
        rows[key]["refused right" if o.asked else "refused wrong"] += 1
        kinds[key][finding.kind] += 1
        if show:
            verdict = "RIGHT" if o.asked else "wrong"
            lines.append(f"  {verdict} {o.task} r{o.repair}/c{o.candidates}: {finding.kind}: {finding.message[:150]}")
    table = ["| format | decoding | repair | candidates | checks | written | right | refused now: wrong "
             "| refused now: right | by kind |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (fmt, dec, repair, cand, tests), c in sorted(rows.items()):
        by_kind = ", ".join(f"{k} {n}" for k, n in kinds[(fmt, dec, repair, cand, tests)].most_common()) or "-"
        table.append(f"| {fmt} | {dec} | {repair} | {cand} | {'on+tests' if tests else 'on'} | {c['written']} "
                     f"| {c['right']} | {c['refused wrong']} | {c['refused right']} | {by_kind} |")
    return lines + table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", nargs="+", type=Path, help="trust.py --out files with written texts")
    parser.add_argument("--show", action="store_true", help="print each change refused now and why")
    args = parser.parse_args(argv)
    outcomes = load_outcomes(args.records)
    if not any(o.text is not None for o in outcomes):
        print("these records keep no written text (trust.py keeps it since commit b4b8721): nothing to judge",
              file=sys.stderr)
        return 1
    if (tasks := tasks_by_id(o.task for o in outcomes)) is None:
        return 1
    print("\n".join(rejudge(outcomes, tasks, args.show)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
