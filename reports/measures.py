"""From evidence to the samples a threshold judges: one function per metric of `catalog.METRICS`.

Each returns a list of `Measurement` (one per `per` split, else one). A measurement with
`missing` set means the evidence file it needs is absent: the judge reports `no_data`.

This module holds the request, pool, health and race measures and the `MEASURES` registry; the
families live beside it, each with the decisions it makes written down in its docstring:
- reports/measurement.py: `Measurement`, the scope helpers, and what counts as a *failed* request;
- reports/measures_db.py: what the database did (lock timeouts, lock waits, slow statements, which
  source is used when several are present);
- reports/measures_probes.py: the invariant probes;
- reports/measures_chaos.py: reconciliation and the per-fault measures (no check without faults).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reports import pg_evidence as pge
from reports.evidence import Evidence
from reports.measurement import (
    HEALTH_REQUESTS,
    SLOW_QUERY_EVENTS,
    FloatArray,
    Measure,
    Measurement,
    failed_mask,
    no_requests,
    request_splits,
    scoped_requests,
)
from reports.measures_chaos import fault_health, fault_requests, per_fault, reconcile, recovery
from reports.measures_db import (
    db_errors,
    db_rollbacks,
    lock_timeout_rate,
    lock_wait,
    slow_per_minute,
    slow_ratio,
    update_conflicts,
)
from reports.measures_probes import probe_metric
from reports.scope import time_mask
from reports.thresholds import Threshold, ThresholdSet


def _latency(column: str) -> Measure:
    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        if (none := no_requests(ev)) is not None:
            return none
        assert ev.requests is not None
        values = ev.requests[column].to_numpy()
        return [Measurement(label, values=values[m]) for label, m in request_splits(ev, th, ts)]

    return measure


def _failed(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    if (none := no_requests(ev)) is not None:
        return none
    assert ev.requests is not None
    failed = failed_mask(ev.requests["status"].to_numpy(), ev.requests["error_code"].astype(str).to_numpy())
    out = []
    for label, m in request_splits(ev, th, ts):
        out.append(Measurement(label, numerator=int((failed & m).sum()), denominator=int(m.sum())))
    return out


def _pool_rows(ev: Evidence, th: Threshold, ts: ThresholdSet) -> Any:
    assert ev.pool is not None
    return ev.pool[time_mask(ev, ev.pool["ts"].to_numpy(dtype=np.float64), th.phase, ts.exclude_phases)]


def _pool_utilization(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    if ev.pool is None:
        return [Measurement(missing="no pool.csv")]
    util = _pool_rows(ev, th, ts)["utilization_pct"].dropna().to_numpy(dtype=np.float64)
    return [Measurement(values=util)]


def _pool_exhaustion(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    if ev.pool is None and ev.requests is None:
        return [Measurement(missing="no pool.csv and no requests.csv")]
    full = n = unavailable = 0
    if ev.pool is not None:
        rows = _pool_rows(ev, th, ts)
        full = int(((rows["waiting"] > 0) & (rows["active"] >= rows["max"])).sum())
        n += len(rows)
    if ev.requests is not None:
        req = scoped_requests(ev, th, ts)
        unavailable = int(((req["status"] == 503) & (req["error_code"] == "DATABASE_UNAVAILABLE")).sum())
        n += len(req)
    return [
        Measurement(
            count=full + unavailable,
            population=n,
            detail=f"{full} pool samples full with waiters, {unavailable} 503 DATABASE_UNAVAILABLE",
        )
    ]


def _health(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    parts: list[FloatArray] = []
    if ev.pool is not None:
        parts.append(_pool_rows(ev, th, ts)["latency_ms"].dropna().to_numpy(dtype=np.float64))
    if ev.requests is not None:
        rows = scoped_requests(ev, th, ts, HEALTH_REQUESTS)
        parts.append(rows["latency_user_ms"].to_numpy(dtype=np.float64))
    if not parts:
        return [Measurement(missing="no pool.csv and no requests.csv")]
    return [Measurement(values=np.concatenate(parts))]


def race_winners(trial: dict[str, Any]) -> int:
    """Winners of a race trial, recounted from the participants when listed (raw evidence).

    A win is a 2xx (for `cancel_capture` and `confirm_cancel`: a cancel's), except for
    `idempotent_create`, where twenty 201s carrying one order id are one creation and nineteen
    replays: there a win is a distinct created order id (docs/contracts.md).
    """
    parts = trial.get("participants")
    if not isinstance(parts, list) or not parts:
        return int(trial.get("winners") or 0)
    ok = [p for p in parts if isinstance(p, dict) and 200 <= int(p.get("status") or 0) < 300]
    if trial.get("kind") in ("cancel_capture", "confirm_cancel"):  # a win is a cancel (docs/contracts.md)
        ok = [p for p in ok if str(p.get("actor", "")).startswith("cancel")]
    if trial.get("kind") == "idempotent_create":
        return len({p.get("created_id") for p in ok if p.get("created_id")})
    return len(ok)


def _races(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    if ev.races is None:
        return [Measurement(missing="no races.jsonl")]
    wrong = [t for t in ev.races if race_winners(t) != int(t.get("expected_winners", 1))]
    examples = [
        {
            "kind": t.get("kind"),
            "trial": t.get("trial"),
            "resource_id": t.get("resource_id"),
            "winners": race_winners(t),
            "expected_winners": t.get("expected_winners", 1),
        }
        for t in wrong[:10]
    ]
    return [Measurement(count=len(wrong), population=len(ev.races), examples=examples)]


MEASURES: dict[str, Measure] = {
    "http_req_duration": _latency("latency_user_ms"),
    "http_req_service_time": _latency("latency_ms"),
    "http_req_failed": _failed,
    "probe_violations": probe_metric(),
    "ledger_violations": probe_metric(with_ledger_events=True),
    "overdrafts": probe_metric(),
    "duplicate_orders": probe_metric(),
    "race_wrong_winner_trials": _races,
    "lock_timeout_rate": lock_timeout_rate,
    "update_conflict_rate": update_conflicts,
    "lock_wait": lock_wait,
    "pool_utilization": _pool_utilization,
    "pool_exhaustion": _pool_exhaustion,
    "slow_queries_500_per_min": slow_per_minute,
    "slow_query_ratio_100": slow_ratio,
    "db_deadlocks": db_errors(pge.DEADLOCK, "deadlocks"),
    "db_serialization_failures": db_errors(pge.SERIALIZATION, "serialization failures"),
    "db_rollbacks": db_rollbacks,
    "health_latency": _health,
    "acknowledged_writes_lost": reconcile("acknowledged", "missing", "checked"),
    "indeterminate_applied_twice": reconcile("indeterminate", "more_than_once", "total"),
    "duplicate_effects": reconcile("idempotent_retries", "duplicate_effects", "keys"),
    "fault_request_latency": per_fault("requests", True, fault_requests),
    "fault_health_violations": per_fault("health", True, fault_health),
    "recovery_first_order_s": per_fault("requests", False, recovery("first_order_s", "2xx POST /api/orders")),
    "recovery_p95_s": per_fault("requests", False, recovery("p95_s", "core P95 under its limit")),
}


def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    """Measurements for one threshold on one run."""
    return MEASURES[th.metric](ev, th, ts)


__all__ = [
    "MEASURES",
    "SLOW_QUERY_EVENTS",
    "Measurement",
    "failed_mask",
    "measure",
    "race_winners",
]
