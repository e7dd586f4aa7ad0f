"""The tests `compare` uses beside the percentile bootstrap, and how many samples would decide a row.

A percentile's bootstrap needs many samples before its interval is narrow: a P95 that sits where
one order in ten became 0.8 s slower jumps between two modes and its interval spans both. Two
pieces of evidence decide with far fewer samples, and both are computed here without scipy:

- `two_proportions`: the share of requests over a limit (or failed), new vs baseline. Interval of
  the difference: Newcombe's hybrid score interval (from the Wilson intervals of each side), which
  stays honest at 0 of 20 where a Wald or binomial-bootstrap interval collapses to [0, 0]; p-value:
  one-sided pooled two-proportion z-test (H1: the new share is larger).
- `rank_test`: Mann-Whitney U on the whole latency distribution, normal approximation with the tie
  correction. Reported as Cliff's delta = P(new > base) - P(new < base) (= 2 AUC - 1, in [-1, 1]);
  its interval uses the Hanley-McNeil standard error of the AUC. A delta of d means a new request
  is slower than a baseline one d more often than faster; for typical latency spreads a uniform
  slowdown of x % moves delta by about x / 100, which is why `compare` uses its relative
  tolerance (in %) / 100 as the delta tolerance.

`samples_to_decide` answers "how many more samples?": an interval's width scales as 1 / sqrt(n),
so the interval around the same point estimate stops straddling the tolerance once each side has
`n * (half-width / distance to the tolerance)^2` samples. A share near zero does not scale so
(Wilson's upper end of 0 of n is about 3.84 / n): `shares_to_decide` searches the same shares at
growing n instead.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from reports.judge import wilson

Z95 = 1.959964


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def two_proportions(
    k_base: int, n_base: int, k_new: int, n_new: int
) -> tuple[float, tuple[float, float], float]:
    """(new - base share, Newcombe 95 % interval of it, one-sided p-value that new > base)."""
    if n_base <= 0 or n_new <= 0:
        raise ValueError("two_proportions: both sides need at least one sample")
    pb, pn = k_base / n_base, k_new / n_new
    wb, wn = wilson(k_base, n_base), wilson(k_new, n_new)
    assert wb is not None and wn is not None
    diff = pn - pb
    lo = diff - math.sqrt((pn - wn[0]) ** 2 + (wb[1] - pb) ** 2)
    hi = diff + math.sqrt((wn[1] - pn) ** 2 + (pb - wb[0]) ** 2)
    pooled = (k_base + k_new) / (n_base + n_new)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_base + 1 / n_new))
    p = (0.0 if diff > 0 else 1.0) if se == 0 else normal_sf(diff / se)
    if se == 0 and diff == 0:
        p = 1.0
    return diff, (lo, hi), p


def rank_test(base: npt.ArrayLike, new: npt.ArrayLike) -> tuple[float, tuple[float, float], float]:
    """(Cliff's delta of new vs base, its 95 % interval, one-sided Mann-Whitney p-value: new is slower)."""
    b = np.asarray(base, dtype=np.float64)
    c = np.asarray(new, dtype=np.float64)
    nb, nc = b.size, c.size
    if nb == 0 or nc == 0:
        raise ValueError("rank_test: both sides need at least one sample")
    ranks = pd.Series(np.concatenate([b, c])).rank(method="average").to_numpy()
    u = float(ranks[nb:].sum()) - nc * (nc + 1) / 2.0  # pairs (new, base) with new > base, ties 1/2
    auc = u / (nb * nc)
    n = nb + nc
    _, counts = np.unique(ranks, return_counts=True)
    tie = float(((counts.astype(np.float64) ** 3) - counts).sum())
    var_u = nb * nc / 12.0 * ((n + 1) - tie / (n * (n - 1))) if n > 1 else 0.0
    p = 1.0 if var_u <= 0 else normal_sf((u - nb * nc / 2.0 - 0.5) / math.sqrt(var_u))
    # Hanley & McNeil (1982): standard error of the AUC, for the interval of the effect size. It
    # collapses to 0 as the AUC nears 0 or 1 (2 vs 2 samples all slower: "certain"), so it is never
    # taken below the AUC's standard error under no difference, (nb + nc + 1) / (12 nb nc):
    # conservative far from 0.5, exact at it.
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var_auc = (auc * (1 - auc) + (nc - 1) * (q1 - auc**2) + (nb - 1) * (q2 - auc**2)) / (nb * nc)
    var_auc = max(var_auc, (n + 1) / (12.0 * nb * nc))
    half = Z95 * math.sqrt(var_auc)
    delta = 2 * auc - 1
    return delta, (max(-1.0, delta - 2 * half), min(1.0, delta + 2 * half)), min(1.0, p)


def samples_to_decide(n: int, diff: float, ci: tuple[float, float], tolerance: float) -> int | None:
    """Samples per run at which an interval straddling `tolerance` would no longer do so (None: never).

    Same point estimate, width shrinking as 1 / sqrt(n): below the tolerance it must shrink until
    its upper end is under it, above the tolerance until its lower end is over it.
    """
    if diff < tolerance:
        half, room = ci[1] - diff, tolerance - diff
    elif diff > tolerance:
        half, room = diff - ci[0], diff - tolerance
    else:
        return None
    if half <= 0 or room <= 0:
        return None
    factor = (half / room) ** 2
    if not math.isfinite(factor) or factor * n > 1e12:
        return None
    return max(n + 1, math.ceil(n * factor))


def _shares_decided(kb: int, nb: int, kc: int, nc: int, tolerance: float) -> bool:
    _, (lo, hi), _ = two_proportions(kb, nb, kc, nc)
    return lo > tolerance or hi <= tolerance or hi < -tolerance


def shares_to_decide(k_base: int, n_base: int, k_new: int, n_new: int, tolerance: float) -> int | None:
    """Samples per run at which the same two shares are decided against `tolerance` (None: not by 1e9)."""

    def decided(n: int) -> bool:
        fb, fc = n / n_base, n / n_new
        return _shares_decided(round(k_base * fb), n, round(k_new * fc), n, tolerance)

    lo, hi = max(n_base, n_new), max(n_base, n_new)
    while not decided(hi):
        lo, hi = hi, hi * 2
        if hi > 10**9:
            return None
    while hi - lo > max(1, lo // 100):  # to 1 %: the figure is a planning aid, not a promise
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decided(mid) else (mid, hi)
    return hi
