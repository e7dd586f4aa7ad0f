"""Descriptive metrics for the report (what happened), as opposed to `measures` (what is judged).

Per request name and overall: count, throughput, exact nearest-rank P50/P90/P95/P99/max of both
latencies (`user` from the intended send, `service` from the actual send: their gap is the time the
generator or the service stalled), failures, statuses and error codes. Then lock conflicts, race
outcomes, pool, slow queries and probes. Everything is computed from the raw samples in scope
(by default all but the excluded phases, like the thresholds), with one sort per latency column.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt

from loadgate_contract.records import RaceTrial
from reports.evidence import Evidence
from reports.measures import SLOW_QUERY_EVENTS, failed_mask, race_winners
from reports.percentiles import rank
from reports.scope import request_mask
from reports.summary_doc import (
    EndpointRow,
    LockConflicts,
    PoolSummary,
    ProbeRow,
    RaceRow,
    RunInfo,
    SlowQueries,
)

QUANTILES = (50.0, 90.0, 95.0, 99.0)
CONFLICT_EVENTS = (
    "shipping_assignment_conflict",
    "order_status_update_retry",
    "order_status_update_conflict",
    "payment_serialization_retry",
    "lock_timeout",
)


def group_quantiles(
    codes: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> dict[int, dict[str, float]]:
    """Exact nearest-rank quantiles and max per group code, from one lexsort."""
    order = np.lexsort((values, codes))
    sc, sv = codes[order], values[order]
    out: dict[int, dict[str, float]] = {}
    for code in np.unique(sc):
        lo, hi = np.searchsorted(sc, code, "left"), np.searchsorted(sc, code, "right")
        group = sv[lo:hi]
        stats = {f"p{q:g}": float(group[rank(q, len(group)) - 1]) for q in QUANTILES}
        stats["max"] = float(group[-1])
        out[int(code)] = stats
    return out


def endpoint_stats(ev: Evidence, exclude: tuple[str, ...]) -> list[EndpointRow]:
    """One row per request name (sorted by count) plus an `ALL` row first."""
    df = ev.requests
    if df is None or not len(df):
        return []
    mask = request_mask(ev, exclude=exclude)
    sub = df[mask]
    if not len(sub):
        return []
    t = sub["t"].to_numpy()
    duration = max(float(t.max() - t.min()), 1e-9)
    codes = sub["name"].cat.codes.to_numpy().astype(np.int64)
    n_cats = len(df["name"].cat.categories)
    all_codes = np.full(len(sub), n_cats, dtype=np.int64)  # a pseudo-group for ALL
    user = sub["latency_user_ms"].to_numpy()
    service = sub["latency_ms"].to_numpy()
    q_user = group_quantiles(np.concatenate([codes, all_codes]), np.concatenate([user, user]))
    q_srv = group_quantiles(np.concatenate([codes, all_codes]), np.concatenate([service, service]))
    status = sub["status"].to_numpy()
    failed = failed_mask(status, sub["error_code"].astype(str).to_numpy())
    err = sub["error_code"].astype(str).to_numpy()
    names = [*df["name"].cat.categories, "ALL"]
    rows: list[EndpointRow] = []
    for code in sorted(q_user, key=lambda c: (c != n_cats, -int((codes == c).sum()) if c != n_cats else 0)):
        sel = np.ones(len(sub), dtype=bool) if code == n_cats else codes == code
        count = int(sel.sum())
        rows.append(
            {
                "name": names[code],
                "count": count,
                "throughput_rps": count / duration,
                "user": q_user[code],
                "service": q_srv[code],
                "failed": int((failed & sel).sum()),
                "error_rate": float((failed & sel).sum() / count),
                "statuses": {str(k): v for k, v in sorted(Counter(status[sel].tolist()).items())},
                "error_codes": dict(Counter(e for e in err[sel] if e).most_common()),
            }
        )
    return rows


def lock_conflicts(ev: Evidence, exclude: tuple[str, ...]) -> LockConflicts:
    """409 responses by code, and conflict/retry/timeout events from the service log."""
    out: LockConflicts = {"responses_409": {}, "service_events": {}, "assignment_conflicts_by_reason": {}}
    if ev.requests is not None:
        sub = ev.requests[request_mask(ev, exclude=exclude)]
        conflicts = sub.loc[sub["status"] == 409, "error_code"].astype(str)
        out["responses_409"] = dict(Counter(conflicts.tolist()).most_common())
    if ev.service is not None:
        svc = ev.service
        out["service_events"] = {e: int((svc["event"] == e).sum()) for e in CONFLICT_EVENTS}
        reasons = svc.loc[svc["event"] == "shipping_assignment_conflict", "reason"]
        out["assignment_conflicts_by_reason"] = dict(Counter(reasons.tolist()).most_common())
    return out


def race_summary(ev: Evidence) -> list[RaceRow]:
    """Per race kind: trials, trials with the wrong number of winners, winners histogram, outcome codes."""
    by_kind: dict[str, list[RaceTrial]] = {}
    for trial in ev.races or []:
        by_kind.setdefault(str(trial.get("kind")), []).append(trial)
    out: list[RaceRow] = []
    for kind, trials in sorted(by_kind.items()):
        codes: Counter[str] = Counter()
        for t in trials:
            for p in t.get("participants") or []:
                codes[f"{p.get('status')} {p.get('code') or ''}".strip()] += 1
        wrong = [t for t in trials if race_winners(t) != int(t.get("expected_winners", 1))]
        out.append(
            {
                "kind": kind,
                "trials": len(trials),
                "wrong_trials": len(wrong),
                "winners": dict(sorted(Counter(race_winners(t) for t in trials).items())),
                "outcomes": dict(codes.most_common()),
                "examples": [
                    {
                        "trial": t.get("trial"),
                        "resource_id": t.get("resource_id"),
                        "winners": race_winners(t),
                        "expected": t.get("expected_winners", 1),
                    }
                    for t in wrong[:5]
                ],
            }
        )
    return out


def pool_summary(ev: Evidence) -> PoolSummary | None:
    """Pool samples: utilization percentiles and max, waiting, unreachable samples."""
    if ev.pool is None:
        return None
    p = ev.pool
    util = np.sort(p["utilization_pct"].dropna().to_numpy(dtype=np.float64))
    pick = (lambda q: float(util[rank(q, len(util)) - 1])) if len(util) else (lambda q: None)
    return {
        "samples": len(p),
        "unreachable": int((p["status"].astype(str) == "unreachable").sum()),
        "utilization_p50": pick(50),
        "utilization_p95": pick(95),
        "utilization_max": float(util[-1]) if len(util) else None,
        "waiting_max": float(p["waiting"].max()) if p["waiting"].notna().any() else None,
        "exhausted_samples": int(((p["waiting"] > 0) & (p["active"] >= p["max"])).sum()),
    }


def slow_query_summary(ev: Evidence) -> SlowQueries | None:
    """Slow query counts over 100 and 500 ms, and the slowest operations."""
    if ev.service is None:
        return None
    slow = ev.service[ev.service["event"].isin(SLOW_QUERY_EVENTS)]
    ops = slow.groupby("operation")["duration"].agg(["count", "max"]).sort_values("count", ascending=False)
    return {
        "over_100ms": int((slow["duration"] > 100).sum()),
        "over_500ms": int((slow["duration"] > 500).sum()),
        "top_operations": [
            {"operation": str(k), "count": int(r["count"]), "max_ms": float(r["max"])}
            for k, r in ops.head(5).iterrows()
        ],
    }


def probe_summary(ev: Evidence) -> list[ProbeRow] | None:
    """The invariant probes as written, examples capped at 5 rows each."""
    if ev.probes is None:
        return None
    return [
        {
            "name": p.get("name"),
            "description": p.get("description", ""),
            "violations": p.get("violations"),
            "error": p.get("error"),
            "examples": (p.get("examples") or [])[:5],
        }
        for p in ev.probes.get("probes", [])
        if isinstance(p, dict)
    ]


def run_info(ev: Evidence) -> RunInfo:
    """What the run was: scenario, kind, status, rates (nominal and effective), versions, machine."""
    r = ev.run
    return {
        "id": r.get("id"),
        "scenario": r.get("scenario"),
        "kind": r.get("kind"),
        "status": r.get("status"),
        "started_at": r.get("started_at"),
        "ended_at": r.get("ended_at"),
        "speedup": r.get("speedup"),
        "duration_s": r.get("duration_s"),
        "target": r.get("target"),
        "database": r.get("database"),
        "safeguards_off": r.get("safeguards_off"),
        "workers": r.get("workers"),
        "nominal_rates_per_hour": r.get("nominal_rates_per_hour"),
        "effective_rates_per_hour": r.get("effective_rates_per_hour"),
        "versions": r.get("versions"),
        "machine": r.get("machine"),
        "processes": r.get("processes"),
        "errors": r.get("errors"),
        "phases": [{"name": w.name, "start": w.start, "end": w.end} for w in ev.phases],
        "faults": ev.faults or [],
        "total_requests": 0 if ev.requests is None else len(ev.requests),
    }


def summarize(ev: Evidence, exclude: tuple[str, ...]) -> dict[str, Any]:
    """Every descriptive section of the report."""
    return {
        "run": run_info(ev),
        "scope": f"all but {', '.join(exclude)}" if exclude else "all",
        "endpoints": endpoint_stats(ev, exclude),
        "lock_conflicts": lock_conflicts(ev, exclude),
        "races": race_summary(ev),
        "pool": pool_summary(ev),
        "slow_queries": slow_query_summary(ev),
        "probes": probe_summary(ev),
        "evidence": {
            name: getattr(ev, attr) is not None
            for name, attr in (
                ("requests.csv", "requests"),
                ("service.jsonl", "service"),
                ("pool.csv", "pool"),
                ("races.jsonl", "races"),
                ("faults.jsonl", "faults"),
                ("probes.json", "probes"),
                ("health.csv", "health"),
                ("reconcile.json", "reconcile"),
            )
        },
    }
