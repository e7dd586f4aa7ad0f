"""Exact percentiles and their confidence intervals, from raw samples.

Method (documented because every number in the report depends on it): **nearest rank**, the
definition k6's `p(N)` and HdrHistogram's `getValueAtPercentile` use. For `n` samples sorted
ascending, `p(q)` is the sample of 1-based rank `ceil(q / 100 * n)` (rank 1 for `q = 0`). It is always
one of the measured values (no interpolation), so "P95 = 480 ms" means a request really took 480 ms
and at least 95 % of requests took no longer.

Confidence intervals:
- `quantile_ci`: distribution-free order-statistic interval. The number of samples below the true
  quantile is Binomial(n, q); the ranks `l`, `u` with `P(l <= B < u) >= 95 %` bound it. Exact for any
  `n`, no resampling. When `n` is too small, a bound does not exist (for example the upper bound of
  P99 with 50 samples) and is reported as `None`: the data cannot say.
- `bootstrap_quantiles`: draws of the bootstrap distribution of the nearest-rank quantile, used by
  `compare`. The k-th order statistic of a resample of size n from the empirical distribution is
  `x[ceil(n * U)]` with `U ~ Beta(k, n - k + 1)` (the k-th of n uniforms), because the empirical
  quantile function is monotone. So the bootstrap is exact yet costs O(resamples), not
  O(resamples * n): no subsampling is needed even for millions of samples.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def rank(q: float, n: int) -> int:
    """1-based nearest rank of percentile `q` (0..100) among `n` samples."""
    if n <= 0:
        raise ValueError("no samples")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} outside 0..100")
    # round() guards float noise: 0.95 * 100 is 95.00000000000001, whose ceil would be 96
    return max(1, math.ceil(round(q / 100.0 * n, 9)))


def percentile_sorted(sorted_values: FloatArray, q: float) -> float:
    """Nearest-rank percentile of already sorted samples."""
    return float(sorted_values[rank(q, len(sorted_values)) - 1])


def percentile(values: npt.ArrayLike, q: float) -> float:
    """Nearest-rank percentile of unsorted samples (O(n) partition, no full sort)."""
    arr = np.asarray(values, dtype=np.float64)
    k = rank(q, arr.size) - 1
    return float(np.partition(arr, k)[k])


def percentiles(values: npt.ArrayLike, qs: list[float]) -> dict[float, float]:
    """Several nearest-rank percentiles at once (one partition)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {}
    ks = sorted({rank(q, arr.size) - 1 for q in qs})
    part = np.partition(arr, ks)
    return {q: float(part[rank(q, arr.size) - 1]) for q in qs}


def _binomial_cdf(n: int, p: float) -> FloatArray:
    """CDF of Binomial(n, p) at 0..n, in log space so large n does not overflow."""
    k = np.arange(n + 1, dtype=np.float64)
    if p <= 0.0:
        return np.ones(n + 1)
    if p >= 1.0:
        out = np.zeros(n + 1)
        out[-1] = 1.0
        return out
    log_pmf = np.empty(n + 1)
    log_pmf[0] = n * math.log1p(-p)
    if n:
        steps = np.log((n - k[:-1]) / (k[:-1] + 1)) + math.log(p / (1 - p))
        log_pmf[1:] = log_pmf[0] + np.cumsum(steps)
    pmf = np.exp(log_pmf - log_pmf.max())
    cdf = np.cumsum(pmf)
    return np.asarray(cdf / cdf[-1], dtype=np.float64)


def quantile_ci_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int | None, int | None]:
    """1-based ranks (lower, upper) of a distribution-free CI for the q-th percentile; None = unbounded."""
    if n <= 0:
        return None, None
    alpha = (1.0 - confidence) / 2.0
    cdf = _binomial_cdf(n, q / 100.0)
    # lower rank l: largest l with P(B <= l - 1) <= alpha  (B = samples below the true quantile)
    below = np.nonzero(cdf <= alpha)[0]
    lower = int(below[-1]) + 1 if below.size else None
    # upper rank u: smallest u with P(B <= u - 1) >= 1 - alpha
    above = np.nonzero(cdf >= 1.0 - alpha)[0]
    upper = int(above[0]) + 1 if above.size and int(above[0]) + 1 <= n else None
    return lower, upper


def quantile_ci(
    sorted_values: FloatArray, q: float, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Order-statistic CI of the q-th percentile of sorted samples; None: the data cannot bound it."""
    lo, hi = quantile_ci_ranks(len(sorted_values), q, confidence)
    return (
        float(sorted_values[lo - 1]) if lo is not None else None,
        float(sorted_values[hi - 1]) if hi is not None else None,
    )


def bootstrap_quantiles(
    sorted_values: FloatArray, q: float, resamples: int, rng: np.random.Generator
) -> FloatArray:
    """`resamples` draws of the bootstrap distribution of the nearest-rank q-th percentile (exact)."""
    n = len(sorted_values)
    k = rank(q, n)
    u = rng.beta(k, n - k + 1, size=resamples)
    idx = np.clip(np.ceil(u * n).astype(np.int64) - 1, 0, n - 1)
    return np.asarray(sorted_values[idx], dtype=np.float64)
