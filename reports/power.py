"""How hard a check looked: the smallest regression its samples could have caught (issue 12).

"Passed" says nothing about a check that had 12 samples. Beside every latency percentile check and
every race check the report states what the run could have detected:

- **Latency percentile** (`p(q) < L` on n samples). The judge fails the check when the measured
  nearest-rank P_q exceeds L (n >= min_samples) or, on fewer samples, when the lower end of its
  95 % interval does (a breach more samples cannot undo). Both are "at least c of the n samples
  over L" for a c fixed by n and q (`fail_count`), so the chance of failing a service where a
  share s of requests is over L is exactly P(Binomial(n, s) >= c), whatever the latency
  distribution. `detectable_share` is the smallest s caught with `DETECTION_PROBABILITY` (95 %).
  In latency: if the run's whole distribution were shifted up until that share is over L, its P_q
  would be `detectable` = L + P_q - P_(100 (1 - s)) of this run (the P_q that the check would
  catch 95 % of the time). A check whose rule can never fire at this n (too few samples for the
  interval to have a lower end) reports `detectable = None`: it could catch no regression at all.
- **Race** (wrong-winner trials among n trials). A race that happens with probability p per trial
  shows at least once with chance 1 - (1 - p)^n (`RACE_FREQUENCY` = 0.1 per trial, stated in the
  report), and the rarest race caught with 95 % chance has p = 1 - 0.05^(1/n).
"""

from __future__ import annotations

import math
from typing import Literal, TypedDict

import numpy as np
import numpy.typing as npt

from reports.percentiles import _binomial_cdf, percentiles, quantile_ci_ranks, rank
from reports.thresholds import Threshold

DETECTION_PROBABILITY = 0.95
RACE_FREQUENCY = 0.1  # per trial: the race frequency whose chance of showing the report states
RACE_METRICS = ("race_wrong_winner_trials",)


class LatencyDetection(TypedDict):
    """What a latency percentile check could have caught with its samples."""

    kind: Literal["latency"]
    q: float
    n: int
    fail_count: int | None  # samples over the limit that fail the check; None: nothing can
    detectable_share: float | None  # share over the limit caught with DETECTION_PROBABILITY
    detectable: float | None  # the P_q caught with DETECTION_PROBABILITY (this run's shape, shifted)
    probability: float


class RaceDetection(TypedDict):
    """How likely a race of a stated frequency was to show in this many trials."""

    kind: Literal["race"]
    trials: int
    frequency: float
    chance: float  # 1 - (1 - frequency)^trials
    rarest_caught: float | None  # per-trial frequency shown with DETECTION_PROBABILITY
    probability: float


Detection = LatencyDetection | RaceDetection


def fail_count(n: int, q: float, min_samples: int) -> int | None:
    """Samples over the limit that make the judge fail `p(q) < limit` on n samples; None: never."""
    if n <= 0:
        return None
    if n >= min_samples:
        return n - rank(q, n) + 1
    lower, _ = quantile_ci_ranks(n, q)
    return None if lower is None else n - lower + 1


EXACT_UP_TO = 5000  # samples; beyond, the normal approximation (error far below the figure's precision)


def catch_probability(n: int, count: int, share: float) -> float:
    """P(Binomial(n, share) >= count): the chance of at least `count` of n samples over the limit."""
    if count <= 0:
        return 1.0
    if count > n or share <= 0.0:
        return 0.0
    if share >= 1.0:
        return 1.0
    if n > EXACT_UP_TO:
        z = (count - 0.5 - n * share) / math.sqrt(n * share * (1.0 - share))
        return 0.5 * math.erfc(z / math.sqrt(2.0))
    return float(1.0 - _binomial_cdf(n, share)[count - 1])


def detectable_share(n: int, count: int, probability: float = DETECTION_PROBABILITY) -> float:
    """Smallest share over the limit giving at least `count` of n samples with `probability` (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(30):  # 1e-9 of a share: far below what the report prints
        mid = (lo + hi) / 2
        if catch_probability(n, count, mid) >= probability:
            hi = mid
        else:
            lo = mid
    return hi


def latency_detection(
    th: Threshold, values: npt.NDArray[np.float64], probability: float = DETECTION_PROBABILITY
) -> LatencyDetection | None:
    """For a `p(q) < L` check on these samples (any order); None for any other kind of check."""
    expr = th.expr
    if expr.agg not in ("p", "med") or expr.op not in ("<", "<="):
        return None
    q = expr.q if expr.agg == "p" and expr.q is not None else 50.0
    n = len(values)
    count = fail_count(n, q, th.min_samples)
    share = detectable_share(n, count, probability) if count is not None else None
    value = None
    if share is not None and n:
        # the run's own shape shifted up until `share` of it is over the limit
        low_q = max(0.0, 100.0 * (1.0 - share))
        at = percentiles(values, [q, low_q])  # one O(n) partition, no sort
        value = expr.limit + at[q] - at[low_q]
    return LatencyDetection(
        kind="latency",
        q=q,
        n=n,
        fail_count=count,
        detectable_share=share,
        detectable=value,
        probability=probability,
    )


def race_detection(
    trials: int, frequency: float = RACE_FREQUENCY, probability: float = DETECTION_PROBABILITY
) -> RaceDetection:
    """Chance that a race of `frequency` per trial showed at least once in `trials` trials."""
    return RaceDetection(
        kind="race",
        trials=trials,
        frequency=frequency,
        chance=1.0 - (1.0 - frequency) ** trials,
        rarest_caught=1.0 - (1.0 - probability) ** (1.0 / trials) if trials > 0 else None,
        probability=probability,
    )


def detection_for(th: Threshold, values: npt.NDArray[np.float64] | None, population: int) -> Detection | None:
    """The detection figure of one check: latency percentiles and races; None for the rest."""
    if th.metric in RACE_METRICS:
        return race_detection(population)
    if values is not None and th.expr.agg in ("p", "med"):
        return latency_detection(th, np.asarray(values, dtype=np.float64))
    return None


def _pct(x: float) -> str:
    if x >= 0.9995 and x < 1.0:
        return ">99.9%"
    return f"{x * 100:.3g}%"


def detection_text(d: Detection | None, unit: str = "ms") -> str:
    """One short cell for the tables: what the check could have caught."""
    if d is None:
        return ""
    if d["kind"] == "race":
        if d["trials"] <= 0:
            return "no trials: no race could show"
        rare = d["rarest_caught"]
        return (
            f"race in {_pct(d['frequency'])} of trials: {_pct(d['chance'])} chance to show "
            f"({d['probability']:.0%} from {_pct(rare) if rare is not None else '-'})"
        )
    label = "median" if d["q"] == 50.0 else f"P{d['q']:g}"
    if d["detectable"] is None or d["detectable_share"] is None:
        return f"nothing: {d['n']} samples cannot fail it"
    value = f"{d['detectable']:.0f}" if abs(d["detectable"]) >= 100 else f"{d['detectable']:.3g}"
    # the share first: it holds for any distribution; the P_q assumes this run's shape, shifted
    return f"{_pct(d['detectable_share'])} over the limit ({label} >= {value} {unit} shifted)"


def detection_sentence(probability: float = DETECTION_PROBABILITY, frequency: float = RACE_FREQUENCY) -> str:
    """The note under the tables explaining the column."""
    return (
        "'could catch': for a latency percentile, the share of samples over the limit that fails it with "
        f"{probability:.0%} chance given its sample count (exact for any distribution), and in brackets the "
        "value the percentile then has if this run's whole distribution is shifted up; "
        f"for a race, the chance that a race happening in {frequency:.0%} of trials showed at least once, "
        f"1 - (1 - {frequency:g})^trials, and the rarest per-trial frequency caught with {probability:.0%}."
    )
