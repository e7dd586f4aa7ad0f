"""`compare BASELINE NEW`: per request name, did P95, P99 or the error rate get worse?

A regression must be real, not chance: for each request name present in both runs, the
difference (new - baseline) is bootstrapped (1000 seeded resamples per side; percentiles are drawn
exactly in O(resamples) through the order-statistic trick in `percentiles.bootstrap_quantiles`, so
1 M samples cost no more than 1 000 and nothing is subsampled; error rates are resampled as
Binomial(n, p) / n). The 95 % interval of the difference is reported, and a metric regresses when
its *lower* bound exceeds the tolerance:
- latency (P95, P99 of the latency users waited): tolerance = `tolerance_pct` % of the baseline value;
- error rate: tolerance = max(`tolerance_pct` % of the baseline rate, 0.5 percentage point), since a
  relative tolerance of a near-zero rate would flag a single extra error.
(Named `comparison`, not `compare`: a submodule would shadow the `reports.compare` function.)
Names with fewer than `MIN_SAMPLES` samples on either side are reported as "insufficient data" and
never regress. Exit: 0 no regression, 1 a regression, 2 cannot compare (unreadable runs, nothing in common).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from reports.errors import ReportError
from reports.evidence import Evidence, load_evidence
from reports.measures import failed_mask
from reports.percentiles import bootstrap_quantiles, percentile_sorted
from reports.render_json import dumps
from reports.scope import request_mask
from reports.thresholds import load_thresholds

RESAMPLES = 1000
SEED = 20260101
MIN_SAMPLES = 20
RATE_FLOOR = 0.005
QUANTILES = (95.0, 99.0)


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
    status: str  # regression | ok | insufficient_data | improvement

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


def _status(ci: tuple[float, float], tolerance: float) -> str:
    if ci[0] > tolerance:
        return "regression"
    return "improvement" if ci[1] < -tolerance else "ok"


def compare_runs(
    base: Evidence, cand: Evidence, tolerance_pct: float, exclude: tuple[str, ...]
) -> list[Delta]:
    """Every delta for every request name the two runs share."""
    rng = np.random.default_rng(SEED)
    b_groups, c_groups = _groups(base, exclude), _groups(cand, exclude)
    deltas: list[Delta] = []
    for name in sorted(set(b_groups) & set(c_groups), key=lambda n: (n != "ALL", n)):
        (b_lat, b_fail), (c_lat, c_fail) = b_groups[name], c_groups[name]
        nb, nc = len(b_lat), len(c_lat)
        if min(nb, nc) < MIN_SAMPLES:
            for metric in ("p95", "p99", "error_rate"):
                deltas.append(Delta(name, metric, None, None, None, 0.0, nb, nc, "insufficient_data"))
            continue
        for q in QUANTILES:
            bv, cv = percentile_sorted(b_lat, q), percentile_sorted(c_lat, q)
            diff = bootstrap_quantiles(c_lat, q, RESAMPLES, rng) - bootstrap_quantiles(
                b_lat, q, RESAMPLES, rng
            )
            ci = (float(np.quantile(diff, 0.025)), float(np.quantile(diff, 0.975)))
            tol = bv * tolerance_pct / 100.0
            deltas.append(Delta(name, f"p{q:g}", bv, cv, ci, tol, nb, nc, _status(ci, tol)))
        pb, pc = float(b_fail.mean()), float(c_fail.mean())
        diff = rng.binomial(nc, pc, RESAMPLES) / nc - rng.binomial(nb, pb, RESAMPLES) / nb
        ci = (float(np.quantile(diff, 0.025)), float(np.quantile(diff, 0.975)))
        tol = max(pb * tolerance_pct / 100.0, RATE_FLOOR)
        deltas.append(Delta(name, "error_rate", pb, pc, ci, tol, nb, nc, _status(ci, tol)))
    return deltas


def _table(deltas: list[Delta]) -> str:
    header = ["request", "metric", "baseline", "new", "diff 95% CI", "tolerance", "n", "status"]
    rows = [
        [
            d.name,
            d.metric,
            "-" if d.baseline is None else f"{d.baseline:.4g}",
            "-" if d.candidate is None else f"{d.candidate:.4g}",
            "-" if d.diff_ci is None else f"[{d.diff_ci[0]:+.4g}, {d.diff_ci[1]:+.4g}]",
            f"{d.tolerance:.4g}",
            f"{d.n_baseline}/{d.n_candidate}",
            d.status.upper() if d.status == "regression" else d.status,
        ]
        for d in deltas
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines) + "\n"


def run_compare(baseline: Path, candidate: Path, *, tolerance_pct: float, out: TextIO = sys.stdout) -> int:
    """Load both runs, compare, print a table, write compare.json into the candidate folder; 0, 1 or 2."""
    try:
        ts = load_thresholds()
        base, cand = load_evidence(baseline), load_evidence(candidate)
        deltas = compare_runs(base, cand, tolerance_pct, ts.exclude_phases)
    except ReportError as exc:
        out.write(f"loadgate compare: cannot compare: {exc}\n")
        return 2
    if not deltas:
        out.write("loadgate compare: cannot compare: the runs share no request name\n")
        return 2
    code = 1 if any(d.status == "regression" for d in deltas) else 0
    out.write(
        f"loadgate compare: {baseline} -> {candidate} (tolerance {tolerance_pct:g}%)\n" + _table(deltas)
    )
    out.write(f"verdict: {'REGRESSION' if code else 'no regression'} (exit {code})\n")
    doc = {
        "baseline": str(baseline),
        "candidate": str(candidate),
        "tolerance_pct": tolerance_pct,
        "resamples": RESAMPLES,
        "seed": SEED,
        "exit_code": code,
        "deltas": [d.as_dict() for d in deltas],
    }
    try:
        (Path(candidate) / "compare.json").write_text(dumps(doc))
    except OSError as exc:
        out.write(f"loadgate compare: could not write compare.json: {exc}\n")
    return code
