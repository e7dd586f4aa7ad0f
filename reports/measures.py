"""From evidence to the samples a threshold judges: the measures `catalog.METRICS` entries carry.

Each returns a list of `Measurement` (one per `per` split, else one). A measurement with
`missing` set means the evidence file it needs is absent: the judge reports `no_data`.

This module holds the request, pool, health and race measures (`catalog.METRICS`, the registry,
gives each metric its measure); the families live beside it, each with its decisions written down:
- reports/measurement.py: `Measurement`, the scope helpers, and what counts as a *failed* request;
- reports/measures_db.py: what the database did (lock timeouts, lock waits, slow statements, which
  source is used when several are present);
- reports/measures_probes.py: the invariant probes;
- reports/measures_chaos.py: reconciliation and the per-fault measures (no check without faults).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from loadgate_contract.records import RaceTrial
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
from reports.scope import time_mask

if TYPE_CHECKING:  # catalog (which thresholds reads) imports these measures
    from reports.thresholds import Threshold, ThresholdSet


def latency(column: str) -> Measure:
    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        if (none := no_requests(ev)) is not None:
            return none
        assert ev.requests is not None
        values = ev.requests[column].to_numpy()
        return [Measurement(label, values=values[m]) for label, m in request_splits(ev, th, ts)]

    return measure


def failed_requests(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
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


def pool_utilization(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    if ev.pool is None:
        return [Measurement(missing="no pool.csv")]
    util = _pool_rows(ev, th, ts)["utilization_pct"].dropna().to_numpy(dtype=np.float64)
    return [Measurement(values=util)]


def pool_exhaustion(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
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


def health_latency(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    parts: list[FloatArray] = []
    if ev.pool is not None:
        parts.append(_pool_rows(ev, th, ts)["latency_ms"].dropna().to_numpy(dtype=np.float64))
    if ev.requests is not None:
        rows = scoped_requests(ev, th, ts, HEALTH_REQUESTS)
        parts.append(rows["latency_user_ms"].to_numpy(dtype=np.float64))
    if not parts:
        return [Measurement(missing="no pool.csv and no requests.csv")]
    return [Measurement(values=np.concatenate(parts))]


def race_winners(trial: RaceTrial) -> int:
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


def races(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
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


__all__ = [
    "SLOW_QUERY_EVENTS",
    "Measurement",
    "failed_mask",
    "race_winners",
]
