"""Every threshold in reports/thresholds.toml: a breaking and a holding run folder, and the exit status.

Each breaker changes one thing in a healthy synthetic run (evidence with known values, written as
docs/contracts.md says). `test_every_threshold_has_a_breaker` fails when a threshold is added to the
file without a case here.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from reports import generate
from reports.synthetic import CAPTURE, SyntheticRun, healthy_load, healthy_race, race_trial
from reports.thresholds import load_thresholds
from tests.unit.test_report_chaos import CASES as CHAOS_CASES

Breaker = Callable[[SyntheticRun], None]


def _core_p95(r: SyntheticRun) -> None:
    r.add_requests("POST /api/orders", np.full(50, 650.0), status=201)


def _requests_failed(r: SyntheticRun) -> None:
    r.add_requests("GET /api/orders/{id}", np.full(40, 30.0), status=500, error_code="INTERNAL_ERROR")


def _capture_p95(r: SyntheticRun) -> None:
    r.add_requests(CAPTURE, np.full(30, 1500.0))
    r.thresholds.append({"name": "core_p95", "enabled": False})  # isolate the warning from the core gate


def _capture_error_rate(r: SyntheticRun) -> None:
    r.add_requests(CAPTURE, np.full(20, 40.0), status=500, error_code="INTERNAL_ERROR")


def _probe(name: str, rows: int = 1) -> Breaker:
    def breaker(r: SyntheticRun) -> None:
        r.set_probe(name, rows, [{"id": f"row-{i}"} for i in range(rows)])

    return breaker


def _race(r: SyntheticRun) -> None:
    assert r.races is not None
    r.races[3] = race_trial(3, 2)


def _lock_timeout(r: SyntheticRun) -> None:
    r.add_requests("POST /api/orders", np.full(5, 40.0), status=409, error_code="LOCK_TIMEOUT")


def _update_conflicts(r: SyntheticRun) -> None:
    for i in range(10):
        r.add_event("order_status_update_retry", t=r.t0 + 100 + i, orderId=f"o{i}", attempt=1)


def _writes(r: SyntheticRun) -> int:
    return sum(int(f["name"].str.startswith(("POST", "PATCH")).sum()) for f in r.frames)


def _lock_wait(r: SyntheticRun) -> None:
    """80 ms waits for 3 % of the writes: PostgreSQL's log (the strongest source) sees them."""
    for _ in range(5):
        r.add_event("lock_wait", duration=80.0, resource="wallet")
    for i in range(_writes(r) * 3 // 100 + 1):
        r.add_pg_lock_wait(80.0, r.window("steady")[0] + 10 + i, pid=5000 + i)


def _race_queue_near_timeout(r: SyntheticRun) -> None:
    """One race participant waited 3 s for the row: the queue is past half the statement timeout."""
    r.add_pg_lock_wait(3000.0, r.window("steady")[0] + 10, pid=5000)


def _pool_util(r: SyntheticRun) -> None:
    r.add_pool(active=17)  # half the samples at 85 %: P95 breaks, max < 90 holds


def _pool_max(r: SyntheticRun) -> None:
    assert r.pool_rows is not None
    r.pool_rows.append(
        [f"{r.t0 + 300.5:.3f}", "healthy", 20, 19, 1, 0, 20, "0.95", "5.0"]
    )  # one sample at 95 %


def _pool_exhaustion(r: SyntheticRun) -> None:
    r.add_requests("POST /api/orders", [2000.0], status=503, error_code="DATABASE_UNAVAILABLE")


def _slow_500(r: SyntheticRun) -> None:
    for i in range(12):
        r.add_event("slow_query_detected", t=r.t0 + 300 + i, duration=700.0, threshold=100, operation="x")
        r.add_pg_slow(700.0, r.t0 + 300 + i)


def _slow_ratio(r: SyntheticRun) -> None:
    for i in range(100):
        r.add_event("slow_query_detected", t=r.t0 + 61 + 5 * i, duration=150.0, threshold=100, operation="y")
        r.add_pg_slow(150.0, r.t0 + 61 + 5 * i)


def _deadlock(r: SyntheticRun) -> None:
    r.add_pg_log("deadlock detected", r.t0 + 200, severity="ERROR", state_code="40P01", statement="UPDATE x")


def _serialization(r: SyntheticRun) -> None:
    for i in range(_writes(r) // 50):  # 2 % of writes
        r.add_pg_log("could not serialize access due to concurrent update", r.t0 + 100 + i,
                     severity="ERROR", state_code="40001", pid=6000 + i)  # fmt: skip


def _rollbacks(r: SyntheticRun) -> None:
    r.set_pg_stat(commits_per_s=20.0, rollbacks=2000)  # ~14 % of 12,000 steady transactions


def _health(r: SyntheticRun) -> None:
    r.pool_rows = []
    r.add_pool(active=5, latency_ms=250.0)


CASES: dict[str, Breaker] = {
    "core_p95": _core_p95,
    "requests_failed": _requests_failed,
    "capture_p95": _capture_p95,
    "capture_error_rate": _capture_error_rate,
    "ledger_invariant": _probe("ledger_total_zero"),
    "overdrafts": _probe("no_negative_wallet", 2),
    "duplicate_orders": _probe("one_order_per_idempotency_key"),
    "invariant_probes": _probe("order_history_single_path", 3),
    "race_one_winner": _race,
    "lock_timeout_rate": _lock_timeout,
    "update_conflict_rate": _update_conflicts,
    "lock_wait_p99": _lock_wait,
    "lock_wait_race_queue": _race_queue_near_timeout,
    "pool_utilization": _pool_util,
    "pool_utilization_max": _pool_max,
    "pool_exhaustion": _pool_exhaustion,
    "slow_queries_500": _slow_500,
    "slow_query_ratio": _slow_ratio,
    "health_latency": _health,
    "db_deadlocks": _deadlock,
    "db_serialization_failures": _serialization,
    "db_rollbacks": _rollbacks,
}
THRESHOLDS = {t.name: t for t in load_thresholds().thresholds if t.name not in CHAOS_CASES}


def _base(name: str) -> SyntheticRun:
    t = THRESHOLDS[name]
    return healthy_race() if t.kinds == ("race",) else healthy_load()


def _judge(run: SyntheticRun, path: Path) -> tuple[int, dict[str, dict[str, object]]]:
    code = generate(run.write(path), out=io.StringIO())
    summary = json.loads((path / "summary.json").read_text())
    return code, {c["name"]: c for c in summary["checks"]}


def test_every_threshold_has_a_breaker() -> None:
    """The chaos thresholds' breakers are in test_report_chaos (they need a run with faults)."""
    assert set(CASES) | set(CHAOS_CASES) == {t.name for t in load_thresholds().thresholds}
    assert not set(CASES) & set(CHAOS_CASES)


@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_threshold_holds_on_healthy_run(name: str, tmp_path: Path) -> None:
    code, checks = _judge(_base(name), tmp_path / "run")
    mine = [c for c in checks.values() if c["threshold"] == name]
    assert mine and all(c["status"] == "pass" for c in mine), mine
    assert code == 0


@pytest.mark.parametrize("name", sorted(THRESHOLDS))
def test_threshold_breaks(name: str, tmp_path: Path) -> None:
    run = _base(name)
    CASES[name](run)
    code, checks = _judge(run, tmp_path / "run")
    mine = [c for c in checks.values() if c["threshold"] == name]
    assert any(c["status"] == "fail" for c in mine), mine
    failed = [c for c in mine if c["status"] == "fail"]
    assert all(c["measured"] is not None and isinstance(c["n"], int) for c in failed)
    assert code == (1 if THRESHOLDS[name].severity == "critical" else 0)


def test_failed_probe_shows_example_rows(tmp_path: Path) -> None:
    run = healthy_load()
    _probe("no_negative_wallet", 2)(run)
    _, checks = _judge(run, tmp_path / "run")
    assert checks["overdrafts"]["examples"] == [{"probe": "no_negative_wallet", "id": "row-0"},
                                                {"probe": "no_negative_wallet", "id": "row-1"}]  # fmt: skip
    assert checks["overdrafts"]["measured"] == 2


@pytest.fixture(autouse=True)
def _no_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judging is what these tests check; charts are tested in test_report_outputs (saves ~0.3 s per run)."""
    monkeypatch.setattr("reports.render_html.CHARTS_ENABLED", False)


def test_a_check_names_the_evidence_it_read_and_what_was_absent() -> None:
    from reports.judge import evidence_used

    both = {"requests.csv", "service.jsonl"}
    assert evidence_used("requests.csv + service.jsonl", both) == "requests.csv + service.jsonl"
    assert evidence_used("requests.csv + service.jsonl", {"requests.csv"}) == (
        "requests.csv (without service.jsonl)"
    )
    assert evidence_used("postgres.jsonl | pg_activity.csv", set()) == "postgres.jsonl | pg_activity.csv"
