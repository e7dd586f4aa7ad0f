"""`compare BASELINE NEW`: per request name, did NEW get slower or fail more, and can the runs tell?

Every request name present in both runs gets five rows, each a 95 % interval of the difference
(new - baseline) against a tolerance:
- `p95`, `p99` (latency users waited): bootstrap of each side's nearest-rank percentile (1000 seeded
  resamples, drawn exactly in O(resamples) through `percentiles.bootstrap_quantiles`, so 1 M
  samples cost no more than 1 000); tolerance = `tolerance_pct` % of the baseline value.
- `error_rate` and `over_<L>ms` (the share of requests slower than the gate's latency limit L for
  that name, from the thresholds: 500 ms for the core endpoints): two-proportion comparison
  (reports/comparison_stats.py: Newcombe interval, one-sided z-test p-value); tolerance =
  max(`tolerance_pct` % of the baseline share, 0.5 percentage point), since a relative tolerance of
  a near-zero share would flag a single extra request.
- `rank`: Mann-Whitney U on the whole distribution, as Cliff's delta (P(new slower) - P(new
  faster)); tolerance = `tolerance_pct` / 100 (a uniform x % slowdown moves delta by about x / 100).

Row status:
- `regression`: the whole interval is above the tolerance;
- `ok`: the interval's upper end is within the tolerance (a regression is ruled out);
- `improvement`: the whole interval is below minus the tolerance;
- `inconclusive`: the interval reaches past the tolerance but not wholly: the runs can neither show
  nor rule out a regression. The row says how many samples per run would decide it (same point
  estimate, interval width scaling as 1 / sqrt(n)). Never reported as `ok`.
The share over the limit and the rank test decide with few samples where a percentile cannot: one
order in ten 0.8 s slower leaves the P95 interval straddling [-2 ms, +799 ms] yet puts 10 % of
orders over 500 ms against none, a certain regression.

A percentile row is `insufficient_data` when either run has too few samples to bound that
percentile at all (72 for P95, 368 for P99: `bounded`); the bootstrap of a sample maximum is far
too narrow to trust. Names with fewer than `MIN_SAMPLES` samples on either side: the other rows
are computed, and a `regression` there counts (certain on few samples), but an `inconclusive` one
does not make the verdict inconclusive. Both are listed in the verdict as not compared;
`fail_on_insufficient` makes them inconclusive instead.

Verdict and exit status (CI must read only 0 as "no regression"):
- 1 `REGRESSION`: any row of any name is a regression;
- 3 `INCONCLUSIVE`: no regression, but some row (of a name with enough samples) is inconclusive;
- 0 `no regression`: every row rules a regression out;
- 2 cannot compare (unreadable runs, nothing in common).
(Named `comparison`, not `compare`: a submodule would shadow the `reports.compare` function.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from reports.comparison_stats import rank_test, samples_to_decide, shares_to_decide, two_proportions
from reports.errors import ReportError
from reports.evidence import Evidence, load_evidence
from reports.measures import failed_mask
from reports.percentiles import bootstrap_quantiles, percentile_sorted, quantile_ci_ranks
from reports.render_json import dumps
from reports.scope import matching_names, request_mask
from reports.thresholds import ThresholdSet, load_thresholds

RESAMPLES = 1000
SEED = 20260101
MIN_SAMPLES = 20
RATE_FLOOR = 0.005
QUANTILES = (95.0, 99.0)
DEFAULT_LIMIT_MS = 500.0  # seeds 000-002: "P95 < 500 ms", when no threshold names a latency limit
EXIT_NONE, EXIT_REGRESSION, EXIT_CANNOT, EXIT_INCONCLUSIVE = 0, 1, 2, 3


@dataclass(frozen=True)
class Delta:
    """One compared metric of one request name."""

    name: str
    metric: str
    baseline: float | None
    candidate: float | None
    diff_ci: tuple[float, float] | None
    tolerance: float
    n_baseline: int
    n_candidate: int
    status: str  # regression | ok | inconclusive | insufficient_data | improvement
    diff: float | None = None
    p_value: float | None = None  # one-sided, H1: new is worse (two-proportion and rank rows)
    samples_to_decide: int | None = None  # per run, for an inconclusive row (None: cannot say)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _groups(
    ev: Evidence, exclude: tuple[str, ...]
) -> dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """name -> (sorted user latencies, failed flags), within the default judged scope."""
    df = ev.requests
    if df is None:
        raise ReportError(f"{ev.run_dir}: no requests.csv to compare")
    sub = df[request_mask(ev, exclude=exclude)]
    lat = sub["latency_user_ms"].to_numpy()
    failed = failed_mask(sub["status"].to_numpy(), sub["error_code"].astype(str).to_numpy())
    codes = sub["name"].cat.codes.to_numpy()
    cats = df["name"].cat.categories
    out = {str(cats[c]): (np.sort(lat[codes == c]), failed[codes == c]) for c in np.unique(codes)}
    if len(sub):
        out["ALL"] = (np.sort(lat), failed)
    return out


def latency_limits(ts: ThresholdSet) -> Callable[[str], float]:
    """name -> the gate's latency limit for it: the smallest `http_req_duration` percentile limit
    of a load threshold whose request scope covers the name (any, for `ALL` or an unscoped name)."""
    rules = [
        (th.requests + (ts.tags.get(th.tag, ()) if th.tag else ()), th.expr.limit)
        for th in ts.thresholds
        if th.metric == "http_req_duration" and th.expr.agg == "p" and th.applies_to("load") and not th.flow
    ]
    fallback = min((limit for _, limit in rules), default=DEFAULT_LIMIT_MS)

    def limit(name: str) -> float:
        hits = [lim for pats, lim in rules if not pats or matching_names([name], pats)]
        return min(hits) if hits else fallback

    return limit


def _status(ci: tuple[float, float], tolerance: float) -> str:
    if ci[0] > tolerance:
        return "regression"
    if ci[1] < -tolerance:
        return "improvement"
    return "ok" if ci[1] <= tolerance else "inconclusive"


def _row(
    name: str, metric: str, values: tuple[float | None, float | None], diff: float,
    ci: tuple[float, float], tol: float, ns: tuple[int, int], p: float | None = None,
) -> Delta:  # fmt: skip
    status = _status(ci, tol)
    more = samples_to_decide(max(ns), diff, ci, tol) if status == "inconclusive" else None
    return Delta(name, metric, values[0], values[1], ci, tol, ns[0], ns[1], status, diff, p, more)


def _share_row(name: str, metric: str, kb: int, nb: int, kc: int, nc: int, tolerance_pct: float) -> Delta:
    diff, ci, p = two_proportions(kb, nb, kc, nc)
    tol = max(kb / nb * tolerance_pct / 100.0, RATE_FLOOR)
    status = _status(ci, tol)
    more = shares_to_decide(kb, nb, kc, nc, tol) if status == "inconclusive" else None
    return Delta(name, metric, kb / nb, kc / nc, ci, tol, nb, nc, status, diff, p, more)


def bounded(n: int, q: float) -> bool:
    """Whether n samples bound the q-th percentile at all (both ends of its distribution-free 95 %
    interval exist: 72 samples for P95, 368 for P99). Below that the percentile is the sample
    maximum or near it, whose bootstrap is far too narrow: such a row is `insufficient_data`."""
    lo, hi = quantile_ci_ranks(n, q)
    return lo is not None and hi is not None


def compare_runs(
    base: Evidence,
    cand: Evidence,
    tolerance_pct: float,
    exclude: tuple[str, ...],
    limit_of: Callable[[str], float] | None = None,
) -> list[Delta]:
    """Every delta for every request name the two runs share."""
    limit_of = limit_of or (lambda _name: DEFAULT_LIMIT_MS)
    rng = np.random.default_rng(SEED)
    b_groups, c_groups = _groups(base, exclude), _groups(cand, exclude)
    deltas: list[Delta] = []
    for name in sorted(set(b_groups) & set(c_groups), key=lambda n: (n != "ALL", n)):
        (b_lat, b_fail), (c_lat, c_fail) = b_groups[name], c_groups[name]
        nb, nc = len(b_lat), len(c_lat)
        for q in QUANTILES:
            if min(nb, nc) < MIN_SAMPLES or not (bounded(nb, q) and bounded(nc, q)):
                deltas.append(Delta(name, f"p{q:g}", None, None, None, 0.0, nb, nc, "insufficient_data"))
                continue
            bv, cv = percentile_sorted(b_lat, q), percentile_sorted(c_lat, q)
            diff = bootstrap_quantiles(c_lat, q, RESAMPLES, rng) - bootstrap_quantiles(
                b_lat, q, RESAMPLES, rng
            )
            ci = (float(np.quantile(diff, 0.025)), float(np.quantile(diff, 0.975)))
            tol = bv * tolerance_pct / 100.0
            deltas.append(_row(name, f"p{q:g}", (bv, cv), cv - bv, ci, tol, (nb, nc)))
        deltas.append(
            _share_row(name, "error_rate", int(b_fail.sum()), nb, int(c_fail.sum()), nc, tolerance_pct)
        )
        lim = limit_of(name)
        kb, kc = int((b_lat > lim).sum()), int((c_lat > lim).sum())
        deltas.append(_share_row(name, f"over_{lim:g}ms", kb, nb, kc, nc, tolerance_pct))
        delta, ci, p = rank_test(b_lat, c_lat)
        deltas.append(_row(name, "rank", (None, None), delta, ci, tolerance_pct / 100.0, (nb, nc), p))
    return deltas


def verdict(deltas: list[Delta], *, fail_on_insufficient: bool = False) -> tuple[int, list[str]]:
    """Exit status (see module docstring) and one line per reason."""
    small = {d.name for d in deltas if min(d.n_baseline, d.n_candidate) < MIN_SAMPLES}
    bad = [d for d in deltas if d.status == "regression"]
    if bad:
        return EXIT_REGRESSION, [f"regression: {d.name} {d.metric}" for d in bad]
    open_ = [
        d for d in deltas if d.status == "inconclusive" and (fail_on_insufficient or d.name not in small)
    ]
    lines = [
        f"inconclusive: {d.name} {d.metric}"
        + (f" (~{d.samples_to_decide} samples per run would decide it)" if d.samples_to_decide else "")
        for d in open_
    ]
    what = "inconclusive" if fail_on_insufficient else "not compared"
    unbounded = [d for d in deltas if d.status == "insufficient_data" and d.name not in small]
    for q in QUANTILES:
        names = sorted(d.name for d in unbounded if d.metric == f"p{q:g}")
        if names:
            lines.append(f"{what} (too few samples to bound a P{q:g}): " + ", ".join(names))
    if small:
        lines.append(f"{what} (fewer than {MIN_SAMPLES} samples in a run): " + ", ".join(sorted(small)))
    if open_ or (fail_on_insufficient and (small or unbounded)):
        return EXIT_INCONCLUSIVE, lines
    return EXIT_NONE, lines


def _fmt(d: Delta, value: float | None) -> str:
    if value is None:
        return "-"
    if d.metric == "error_rate" or d.metric.startswith("over_"):
        return f"{value * 100:.2f}%"
    return f"{value:.4g}"


def _diff(d: Delta, value: float) -> str:
    if d.metric == "error_rate" or d.metric.startswith("over_"):
        return f"{value * 100:+.2f}pp"
    return f"{value:+.4g}"


def _note(d: Delta) -> str:
    parts = []
    if d.p_value is not None:
        parts.append(f"p={d.p_value:.2g}")
    if d.status == "inconclusive":
        parts.append(f"~{d.samples_to_decide}/run to decide" if d.samples_to_decide else "cannot say")
    return " ".join(parts)


def _table(deltas: list[Delta]) -> str:
    header = [
        "request",
        "metric",
        "baseline",
        "new",
        "diff",
        "diff 95% CI",
        "tolerance",
        "n",
        "status",
        "note",
    ]
    rows = [
        [
            d.name,
            d.metric,
            _fmt(d, d.baseline),
            _fmt(d, d.candidate),
            "-" if d.diff is None else _diff(d, d.diff),
            "-" if d.diff_ci is None else f"[{_diff(d, d.diff_ci[0])}, {_diff(d, d.diff_ci[1])}]",
            "-" if d.status == "insufficient_data" else _diff(d, d.tolerance).lstrip("+"),
            f"{d.n_baseline}/{d.n_candidate}",
            d.status.upper() if d.status in ("regression", "inconclusive") else d.status,
            _note(d),
        ]
        for d in deltas
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines) + "\n"


VERDICT_WORD = {EXIT_NONE: "no regression", EXIT_REGRESSION: "REGRESSION", EXIT_INCONCLUSIVE: "INCONCLUSIVE"}


def run_compare(
    baseline: Path,
    candidate: Path,
    *,
    tolerance_pct: float,
    fail_on_insufficient: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Load both runs, compare, print a table, write compare.json into the candidate folder; 0, 1, 2 or 3."""
    try:
        ts = load_thresholds()
        base, cand = load_evidence(baseline), load_evidence(candidate)
        deltas = compare_runs(base, cand, tolerance_pct, ts.exclude_phases, latency_limits(ts))
    except ReportError as exc:
        out.write(f"loadgate compare: cannot compare: {exc}\n")
        return EXIT_CANNOT
    if not deltas:
        out.write("loadgate compare: cannot compare: the runs share no request name\n")
        return EXIT_CANNOT
    code, reasons = verdict(deltas, fail_on_insufficient=fail_on_insufficient)
    out.write(
        f"loadgate compare: {baseline} -> {candidate} (tolerance {tolerance_pct:g}%)\n" + _table(deltas)
    )
    out.write(f"verdict: {VERDICT_WORD[code]} (exit {code})\n")
    out.writelines(f"  - {r}\n" for r in reasons)
    doc = {
        "baseline": str(baseline),
        "candidate": str(candidate),
        "tolerance_pct": tolerance_pct,
        "resamples": RESAMPLES,
        "seed": SEED,
        "verdict": VERDICT_WORD[code].lower(),
        "exit_code": code,
        "reasons": reasons,
        "deltas": [d.as_dict() for d in deltas],
    }
    try:
        (Path(candidate) / "compare.json").write_text(dumps(doc))
    except OSError as exc:
        out.write(f"loadgate compare: could not write compare.json: {exc}\n")
    return code
