"""pass@k with the unbiased estimator of Chen et al. (2021), in a numerically stable form."""

from __future__ import annotations

from typing import Iterable


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn from ``n`` (``c`` correct) passes.

    ``1 - C(n-c, k) / C(n, k)``, computed as a running product so large ``n``
    neither overflows nor loses precision.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """Average pass@k over problems given as (n, c); problems with n < k are an error."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    if not values:
        raise ValueError("no problems to average")
    return sum(values) / len(values)


def ks_for(n: int) -> list[int]:
    """The usual k values (1, 10, 100) that ``n`` samples per problem support."""
    return [k for k in (1, 10, 100) if k <= n]
