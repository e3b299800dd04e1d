"""pass@k and the paired test against brute-force definitions."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import pytest
from hypothesis import given, strategies as st

from amigo_train.eval.passk import ks_for, mean_pass_at_k, pass_at_k
from amigo_train.eval.stats import binomial_tail, paired_compare, sign_test


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_matches_the_combinatorial_definition(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    exact = 1 - Fraction(comb(n - c, k), comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_pass_at_k_by_enumerating_subsets() -> None:
    outcomes = [True, False, False, True, False]
    for k in range(1, 6):
        subsets = list(itertools.combinations(outcomes, k))
        expected = sum(any(s) for s in subsets) / len(subsets)
        assert pass_at_k(5, 2, k) == pytest.approx(expected)


def test_pass_at_k_edges_and_bad_input() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 10) == 1.0
    assert pass_at_k(200, 1, 1) == pytest.approx(0.005)
    assert mean_pass_at_k([(1, 1), (1, 0)], 1) == 0.5
    assert ks_for(10) == [1, 10] and ks_for(1) == [1]
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def test_binomial_tail_and_mcnemar_values() -> None:
    assert binomial_tail(0, 3) == 1 / 8
    assert binomial_tail(3, 3) == 1.0
    # McNemar exact with 1 win and 9 losses: P(X <= 1 | 10, 1/2) = 11/1024
    p_worse, p_two = sign_test(1, 9)
    assert p_worse == pytest.approx(11 / 1024)
    assert p_two == pytest.approx(22 / 1024)
    assert sign_test(0, 0) == (1.0, 1.0)
    assert binomial_tail(600, 1300) > 0  # large counts stay exact, no overflow


def test_paired_compare_counts_only_discordant_problems() -> None:
    base = {"a": 1.0, "b": 1.0, "c": 0.0, "d": 1.0, "e": 0.5}
    cand = {"a": 1.0, "b": 0.0, "c": 1.0, "d": 0.0, "e": 0.5, "extra": 1.0}
    result = paired_compare(base, cand)
    assert (result.problems, result.wins, result.losses) == (5, 1, 2)
    assert result.delta == pytest.approx((2.5 - 3.5) / 5)
    with pytest.raises(ValueError, match="share no problems"):
        paired_compare({"x": 1.0}, {"y": 1.0})
