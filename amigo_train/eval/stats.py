"""Paired tests on per-problem outcomes: is the candidate really worse than the baseline?

Averages hide which problems changed; pairing by problem removes the
problem-difficulty noise. With one sample per problem the sign test below is
exactly McNemar's exact test (only discordant problems count). With n > 1 a
problem counts as a win or a loss by its pass rate, and ties are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Mapping


@dataclass(frozen=True)
class PairedResult:
    """A paired comparison of two runs on the problems both scored."""

    problems: int
    baseline: float        # mean pass rate over the paired problems
    candidate: float
    wins: int              # problems the candidate does better on
    losses: int            # problems it does worse on
    p_worse: float         # one-sided exact p: chance of this few wins if neither is better
    p_two_sided: float

    @property
    def delta(self) -> float:
        return self.candidate - self.baseline


def binomial_tail(successes: int, trials: int) -> float:
    """P(X <= successes) for X ~ Binomial(trials, 1/2), exact (integer arithmetic)."""
    if trials == 0:
        return 1.0
    return sum(comb(trials, i) for i in range(successes + 1)) / (1 << trials)


def sign_test(wins: int, losses: int) -> tuple[float, float]:
    """(one-sided p that the candidate is worse, two-sided p) for an exact sign/McNemar test."""
    m = wins + losses
    p_worse = binomial_tail(wins, m)
    p_two = min(1.0, 2.0 * min(binomial_tail(wins, m), binomial_tail(losses, m)))
    return p_worse, p_two


def paired_compare(baseline: Mapping[str, float], candidate: Mapping[str, float]) -> PairedResult:
    """Compare per-problem pass rates (problem id -> rate in [0, 1]) on the shared problems."""
    shared = sorted(set(baseline) & set(candidate))
    if not shared:
        raise ValueError("the two runs share no problems; were they run on the same task and data?")
    wins = sum(1 for p in shared if candidate[p] > baseline[p])
    losses = sum(1 for p in shared if candidate[p] < baseline[p])
    p_worse, p_two = sign_test(wins, losses)
    return PairedResult(
        problems=len(shared),
        baseline=sum(baseline[p] for p in shared) / len(shared),
        candidate=sum(candidate[p] for p in shared) / len(shared),
        wins=wins, losses=losses, p_worse=p_worse, p_two_sided=p_two,
    )
