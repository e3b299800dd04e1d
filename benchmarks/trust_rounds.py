"""Where a repair row's time goes, round by round, read off saved `benchmarks/trust.py` records.

    python benchmarks/trust_rounds.py benchmarks/data/trust_rounds_whole_49_cold_avx512.jsonl

For every format/decoding pair run with repair 0 and one candidate (the baseline) and with
repairs and several candidates, it prints:

* each round's share of the repair row's time, in units of the baseline's time (the 3x goal
  allows 3.0 in all), and of the last round the share spent on tasks that pass there and on
  tasks that fail anyway;
* two ways to spend less, simulated on the same records (no model is asked):
  - *stuck*: end the loop before the last round when every answer of the round before it
    repeats an error line (its counts aside) that an answer of the round before that was turned
    down for;
  - *greedy first*: ask the greedy answer alone first (the baseline record) and the rounds of
    candidates only when it fails, keeping as many rounds in all: the rows' first rounds, and
    not their last.

Needs records with rounds (trust.py writes them since the `rounds` field exists); older
records are skipped with a note.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from trust import Outcome, load_outcomes

PASSED = "applied+parses"
# "removes most of the file (23 of 24 non-blank lines gone, the file 17 lines shorter)": the counts
# differ between answers that make the same mistake
COUNTS = re.compile(r"\(\d+ of \d+ non-blank lines gone, the file \d+ lines shorter\)")


def error_lines(problem: str) -> set[str]:
    """The lines of a problem as sent back, with the counts that vary between like answers blanked."""
    return {COUNTS.sub("", line.strip()) for line in problem.splitlines() if line.strip()}


def stuck(rounds: list[dict[str, Any]]) -> bool:
    """Whether every turned-down answer of the second-to-last round repeats an error line of one
    turned down in the round before it (there must be three rounds: the rule ends the third)."""
    if len(rounds) < 3:
        return False
    before, last = rounds[-3]["answers"], rounds[-2]["answers"]
    seen = set().union(*(error_lines(a[3]) for a in before)) if before else set()
    return bool(last) and all(error_lines(a[3]) & seen for a in last)


def rows(outcomes: list[Outcome]) -> dict[tuple[str, str], dict[str, dict[tuple[int, int], Outcome]]]:
    """Records by (format, decoding), then task, then (repair, candidates)."""
    table: dict[tuple[str, str], dict[str, dict[tuple[int, int], Outcome]]] = defaultdict(dict)
    for o in outcomes:
        table[(o.edit_format, o.decoding)].setdefault(o.task, {})[(o.repair, o.candidates)] = o
    return table


def report(pair: tuple[str, str], tasks: dict[str, dict[tuple[int, int], Outcome]]) -> list[str]:
    """The lines printed for one format/decoding pair."""
    keys = {key for runs in tasks.values() for key in runs if key[0] > 0}
    if not keys:
        return [f"{'/'.join(pair)}: no run with repairs"]
    repaired = max(keys)
    complete = {t: runs for t, runs in tasks.items() if (0, 1) in runs and repaired in runs}
    if any(runs[repaired].rounds is None for runs in complete.values()):
        return [f"{'/'.join(pair)}: records without rounds (made before trust.py kept them); skipped"]
    base = sum(runs[(0, 1)].seconds for runs in complete.values())
    spent: dict[int, float] = defaultdict(float)
    last_pass = last_fail = 0.0
    passes = {"now": 0, "stuck": 0, "greedy first": 0}
    seconds = {"now": 0.0, "stuck": 0.0, "greedy first": 0.0}
    fired: list[str] = []
    for task, runs in sorted(complete.items()):
        one, row = runs[(0, 1)], runs[repaired]
        ends = [r["ended"] for r in row.rounds or ()]
        for k, end in enumerate(ends):
            spent[k + 1] += end - (ends[k - 1] if k else 0.0)
        passed = row.outcome == PASSED
        if len(ends) == repaired[0] + 1:
            if passed:
                last_pass += ends[-1] - ends[-2]
            else:
                last_fail += ends[-1] - ends[-2]
        passes["now"] += passed
        seconds["now"] += row.seconds
        if stuck(row.rounds or []) and len(ends) == repaired[0] + 1:
            fired.append(f"{task} ({'passed' if passed else 'refused'} in the last round)")
            seconds["stuck"] += ends[-2]
        else:
            passes["stuck"] += passed
            seconds["stuck"] += row.seconds
        if one.outcome == PASSED:
            passes["greedy first"] += 1
            seconds["greedy first"] += one.seconds
        else:  # the row's rounds but its last
            passes["greedy first"] += passed and len(ends) <= repaired[0]
            seconds["greedy first"] += one.seconds + ends[:repaired[0]][-1]
    n = len(complete)
    lines = [f"{'/'.join(pair)}: {n} tasks; repair 0, 1 candidate: "
             f"{sum(r[(0, 1)].outcome == PASSED for r in complete.values())} pass in {base:.0f} s; "
             f"repair {repaired[0]}, {repaired[1]} candidates, by round (x that time): "
             + ", ".join(f"round {k} {s / base:.2f}" for k, s in sorted(spent.items()))
             + f"; of the last round, tasks passing there {last_pass / base:.2f}, failing {last_fail / base:.2f}"]
    for name in passes:
        lines.append(f"  {name:13} {passes[name]:3} of {n} pass at {seconds[name] / base:.2f}x")
    lines.append(f"  stuck fires on {len(fired)}: " + (", ".join(fired) or "none"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=Path, nargs="+", help="JSON lines written by trust.py --out")
    args = parser.parse_args(argv)
    for pair, tasks in rows(load_outcomes(args.records)).items():
        print("\n".join(report(pair, tasks)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
