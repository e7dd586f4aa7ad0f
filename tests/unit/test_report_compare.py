"""compare: identical runs, real regressions, noise, and what it cannot rule out (issue 12 item 3)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reports import compare
from reports.comparison import bounded
from reports.comparison_stats import rank_test, samples_to_decide, shares_to_decide, two_proportions
from reports.synthetic import SyntheticRun, healthy_load

# enough samples that a clean run's P99 interval fits inside a 10 % tolerance (about 4 000 are needed
# for the spread of these distributions, and the noise of the point estimate comes on top)
BIG = 12_000


def _run(seed: int, scale: float = 1.0, errors: int = 0, n: int = 2000) -> SyntheticRun:
    rng = np.random.default_rng(seed)
    run = SyntheticRun(kind="load")
    run.add_requests("POST /api/orders", rng.lognormal(4.5, 0.6, size=n) * scale, status=201)
    run.add_requests("GET /api/orders/{id}", rng.lognormal(3.5, 0.5, size=n))
    if errors:
        run.add_requests("POST /api/orders", np.full(errors, 30.0), status=500, error_code="INTERNAL_ERROR")
    return run


def _doc(run_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((run_dir / "compare.json").read_text())
    return doc


def _status(doc: dict[str, Any], name: str, metric: str) -> str:
    return next(str(d["status"]) for d in doc["deltas"] if d["name"] == name and d["metric"] == metric)


def test_identical_runs_do_not_regress(tmp_path: Path) -> None:
    a = _run(1, n=BIG).write(tmp_path / "a")
    assert compare(a, a, out=io.StringIO()) == 0
    small = _run(1).write(tmp_path / "small")
    # with 2 000 samples a P99 cannot be pinned to within 10 %, even against itself; to within 25 % it can
    assert compare(small, small, out=io.StringIO()) == 3
    assert compare(small, small, tolerance_pct=25, out=io.StringIO()) == 0


def test_fifty_percent_slower_regresses(tmp_path: Path) -> None:
    a, b = _run(1).write(tmp_path / "a"), _run(2, scale=1.5).write(tmp_path / "b")
    out = io.StringIO()
    assert compare(a, b, out=out) == 1
    bad = {(d["name"], d["metric"]) for d in _doc(b)["deltas"] if d["status"] == "regression"}
    assert {("POST /api/orders", "p95"), ("POST /api/orders", "p99"), ("POST /api/orders", "rank")} <= bad
    assert not any(name == "GET /api/orders/{id}" for name, _ in bad)
    assert "REGRESSION" in out.getvalue()


def test_same_distribution_noise_does_not_regress(tmp_path: Path) -> None:
    base = _run(1, n=5000).write(tmp_path / "base")
    for seed in range(2, 5):
        out = io.StringIO()
        new = _run(seed, n=5000).write(tmp_path / f"n{seed}")
        assert compare(base, new, tolerance_pct=20, out=out) == 0, out.getvalue()


def test_error_rate_regression(tmp_path: Path) -> None:
    a, b = _run(1).write(tmp_path / "a"), _run(2, errors=200).write(tmp_path / "b")
    assert compare(a, b, out=io.StringIO()) == 1
    assert _status(_doc(b), "POST /api/orders", "error_rate") == "regression"


def test_cannot_compare(tmp_path: Path) -> None:
    a = healthy_load().write(tmp_path / "a")
    assert compare(a, tmp_path / "missing", out=io.StringIO()) == 2


# --- issue 12: a 37-fold P95 increase was "ok" because its interval also contained zero ---------


def _peak(seed: int, slow_share: float = 0.0, orders: int = 3000) -> SyntheticRun:
    """peak_200-shaped: fast orders (P95 ~22 ms) and reads; `slow_share` of orders take 0.8 s longer."""
    rng = np.random.default_rng(seed)
    run = SyntheticRun(kind="load")
    lat = rng.lognormal(2.5, 0.45, size=orders)  # median 12 ms, P95 ~25 ms
    if slow_share:
        lat[rng.choice(orders, size=round(slow_share * orders), replace=False)] += 800.0
    run.add_requests("POST /api/orders", lat, status=201)
    run.add_requests("GET /api/orders/{id}", rng.lognormal(2.0, 0.4, size=2 * orders))
    run.add_requests("POST /api/payments", rng.lognormal(2.6, 0.4, size=orders // 2), status=201)
    return run


@pytest.mark.parametrize("slow_share", [0.1, 0.048])
def test_one_order_in_ten_slower_is_a_regression_of_post_orders(tmp_path: Path, slow_share: float) -> None:
    """0.1: the issue's defect. 0.048: the P95 sits on the edge of the slow orders, so its bootstrap
    straddles [~0, +800 ms] (the issue's "[-2.1, +798.7], ok"); the share over 500 ms decides."""
    base = _peak(1).write(tmp_path / "base")
    slow = _peak(2, slow_share=slow_share).write(tmp_path / "slow")
    out = io.StringIO()
    assert compare(base, slow, out=out) == 1, out.getvalue()
    doc = _doc(slow)
    assert doc["verdict"] == "regression" and doc["exit_code"] == 1
    assert _status(doc, "POST /api/orders", "over_500ms") == "regression"
    assert "regression: POST /api/orders over_500ms" in doc["reasons"]
    # the P95 row is never called ok when its interval reaches past the tolerance
    assert _status(doc, "POST /api/orders", "p95") in ("regression", "inconclusive")
    if slow_share < 0.05:  # the interval spans both modes: the percentile alone could not say by how much
        row = next(d for d in doc["deltas"] if d["name"] == "POST /api/orders" and d["metric"] == "p95")
        assert row["diff_ci"][1] - row["diff_ci"][0] > 500
    untouched = [d for d in doc["deltas"] if d["name"] in ("GET /api/orders/{id}", "POST /api/payments")]
    assert untouched and all(d["status"] != "regression" for d in untouched)
    assert "verdict: REGRESSION (exit 1)" in out.getvalue()


def test_two_clean_peak_runs_report_no_regression(tmp_path: Path) -> None:
    base = _peak(1, orders=BIG).write(tmp_path / "base")
    again = _peak(2, orders=BIG).write(tmp_path / "again")
    out = io.StringIO()
    assert compare(base, again, out=out) == 0, out.getvalue()
    assert "verdict: no regression (exit 0)" in out.getvalue()


def test_too_few_samples_to_rule_out_is_inconclusive_not_ok(tmp_path: Path) -> None:
    """Same distribution, 100 samples a side: nothing shows a regression, nothing rules one out."""
    base = _peak(1, orders=100).write(tmp_path / "base")
    again = _peak(2, orders=100).write(tmp_path / "again")
    out = io.StringIO()
    assert compare(base, again, out=out) == 3, out.getvalue()
    doc = _doc(again)
    assert doc["verdict"] == "inconclusive"
    row = next(d for d in doc["deltas"] if d["name"] == "POST /api/orders" and d["metric"] == "p95")
    assert row["status"] == "inconclusive"
    assert row["diff_ci"][1] > row["tolerance"]
    assert row["samples_to_decide"] and row["samples_to_decide"] > 100
    assert "INCONCLUSIVE" in out.getvalue() and "samples per run would decide it" in out.getvalue()


def test_few_samples_names_are_listed_not_hidden(tmp_path: Path) -> None:
    def run(seed: int) -> SyntheticRun:
        r = _run(seed, n=5000)
        r.add_requests("GET /api/admin/metrics", np.random.default_rng(seed).lognormal(3, 0.3, size=8))
        return r

    a, b = run(1).write(tmp_path / "a"), run(2).write(tmp_path / "b")
    out = io.StringIO()
    assert compare(a, b, tolerance_pct=20, out=out) == 0, out.getvalue()
    assert "not compared (fewer than 20 samples in a run): GET /api/admin/metrics" in out.getvalue()
    assert compare(a, b, tolerance_pct=20, fail_on_insufficient=True, out=io.StringIO()) == 3


# --- the statistics, against published values ---------------------------------------------------


def test_newcombe_interval_matches_newcombe_1998() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339
    diff, (lo, hi), p = two_proportions(48, 80, 56, 70)
    assert diff == pytest.approx(0.2)
    assert lo == pytest.approx(0.0524, abs=1e-4) and hi == pytest.approx(0.3339, abs=1e-4)
    assert 0 < p < 0.01


def test_zero_of_twenty_is_not_certainty() -> None:
    _, (lo, hi), p = two_proportions(0, 20, 0, 20)
    assert lo < 0 < hi and hi > 0.1 and p == 1.0


def test_rank_test_matches_the_normal_approximation() -> None:
    # U = 9 of 9 pairs; z = (9 - 4.5 - 0.5) / sqrt(3 * 3 * 7 / 12) -> one-sided p = 0.0405 (scipy, asymptotic)
    delta, _, p = rank_test([1, 2, 3], [4, 5, 6])
    assert delta == 1.0
    assert p == pytest.approx(0.0405, abs=5e-4)
    delta, _, p = rank_test([4, 5, 6], [1, 2, 3])
    assert delta == -1.0 and p > 0.9
    # ties count half
    delta, _, _ = rank_test([1, 1], [1, 1])
    assert delta == 0.0


def test_samples_to_decide_scales_with_the_square_of_the_width() -> None:
    # point 0, upper end 20, tolerance 10: the half-width must halve -> 4x the samples
    assert samples_to_decide(100, 0.0, (-20.0, 20.0), 10.0) == 400
    # point 15 over tolerance 10, lower end 5: the lower half-width 10 must shrink to 5 -> 4x
    assert samples_to_decide(100, 15.0, (5.0, 25.0), 10.0) == 400
    assert samples_to_decide(100, 10.0, (0.0, 20.0), 10.0) is None
    assert math.isfinite(float(samples_to_decide(10, 9.99, (0.0, 20.0), 10.0) or 0))


def test_two_slower_of_two_is_not_certain() -> None:
    """2 vs 2, both new ones slower: p = 1/6 under no difference, so the interval must reach below 0."""
    delta, (lo, _), p = rank_test([1, 2], [3, 4])
    assert delta == 1.0 and lo < 0 and p > 0.1


def test_shares_of_zero_need_about_768_samples_to_rule_out_half_a_point() -> None:
    # Wilson's upper end of 0 of n is 3.84 / (n + 3.84): under 0.5 % from n = 765 on (not 1/sqrt(n))
    assert 760 <= (shares_to_decide(0, 165, 0, 165, 0.005) or 0) <= 775


def test_a_percentile_the_samples_cannot_bound_is_not_compared(tmp_path: Path) -> None:
    """31 samples a side: P99 is the sample maximum, whose bootstrap is far too narrow to call anything."""
    assert not bounded(31, 99) and not bounded(71, 95) and bounded(72, 95) and bounded(368, 99)

    def run(seed: int, top: float) -> SyntheticRun:
        r = SyntheticRun(kind="load")
        lat = np.random.default_rng(seed).uniform(20, 40, size=31)
        lat[-1] = top
        r.add_requests("POST /api/payments", lat, status=201)
        return r

    a, b = run(1, 45.0).write(tmp_path / "a"), run(1, 60.0).write(tmp_path / "b")
    out = io.StringIO()
    assert compare(a, b, out=out) == 3, out.getvalue()
    doc = _doc(b)
    assert _status(doc, "POST /api/payments", "p99") == "insufficient_data"
    assert "not compared (too few samples to bound a P99): ALL, POST /api/payments" in doc["reasons"]
