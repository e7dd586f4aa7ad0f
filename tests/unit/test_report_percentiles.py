"""Exact percentiles against a brute-force nearest rank, and the CIs' statistical behaviour."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from reports.percentiles import (
    bootstrap_quantiles,
    percentile,
    percentile_sorted,
    percentiles,
    quantile_ci,
    quantile_ci_ranks,
    rank,
)

QS = [0.1, 1, 25, 50, 75, 90, 95, 99, 99.9, 100]


def brute(values: list[float], q: float) -> float:
    """Nearest rank with exact rational arithmetic: the smallest value with at least q% at or below it."""
    s = sorted(values)
    k = max(1, math.ceil(Fraction(str(q)) * len(s) / 100))
    return s[k - 1]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 19, 20, 21, 99, 100, 101, 1000, 1001])
@pytest.mark.parametrize("q", QS)
def test_percentile_matches_brute_force(n: int, q: float) -> None:
    values = list(np.random.default_rng(n).lognormal(4, 1, size=n))
    assert percentile(values, q) == brute(values, q)
    assert percentile_sorted(np.sort(values), q) == brute(values, q)


def test_percentiles_random_property() -> None:
    rng = np.random.default_rng(42)
    for _ in range(300):
        n = int(rng.integers(1, 3000))
        values = list(rng.integers(0, 50, size=n).astype(float))  # many ties
        qs = [float(q) for q in rng.choice(QS, size=3, replace=False)]
        got = percentiles(values, qs)
        assert got == {q: brute(values, q) for q in qs}


def test_known_values() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 99.9) == 100.0
    assert percentile(values, 50) == 50.0
    assert percentile([5.0], 99) == 5.0
    assert rank(95, 20) == 19  # float noise must not push 19.000000000000004 to 20


def test_rank_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        rank(95, 0)
    with pytest.raises(ValueError):
        rank(101, 10)


def test_quantile_ci_brackets_estimate_and_is_unbounded_when_data_cannot_say() -> None:
    s = np.sort(np.random.default_rng(1).exponential(100, size=50))
    lo, hi = quantile_ci(s, 50)
    assert lo is not None and hi is not None and lo <= percentile_sorted(s, 50) <= hi
    lo99, hi99 = quantile_ci(s, 99)
    assert hi99 is None  # 50 samples cannot bound P99 from above
    assert lo99 is not None


def test_quantile_ci_coverage() -> None:
    """The order-statistic CI covers the true P95 in about 95 % of repeated experiments, or more."""
    rng = np.random.default_rng(7)
    n, q = 200, 95.0
    true = -100 * math.log(1 - q / 100)  # exponential(mean 100) quantile
    lo_r, hi_r = quantile_ci_ranks(n, q)
    assert lo_r is not None and hi_r is not None
    samples = np.sort(rng.exponential(100, size=(4000, n)), axis=1)
    covered = (samples[:, lo_r - 1] <= true) & (true < samples[:, hi_r - 1])
    assert 0.94 <= covered.mean() <= 0.995


def test_bootstrap_quantiles_match_naive_bootstrap() -> None:
    rng = np.random.default_rng(3)
    s = np.sort(rng.lognormal(4, 0.7, size=400))
    fast = bootstrap_quantiles(s, 95, 4000, np.random.default_rng(1))
    idx = np.random.default_rng(2).integers(0, len(s), size=(4000, len(s)))
    naive = np.array([percentile_sorted(np.sort(s[i]), 95) for i in idx])
    for p in (0.05, 0.5, 0.95):
        assert abs(np.quantile(fast, p) - np.quantile(naive, p)) / np.quantile(naive, p) < 0.03
