"""What a chaos run checks, fault by fault: the facts both the thresholds and the report's section use.

A *chaos run* has faults (faults.jsonl, or faults in its plan). On any other run no chaos check
applies (the metrics make no check at all), so a plain load run is judged exactly as before.
Evidence: faults.jsonl, requests.csv, health.csv (/health/live, /ready, /db polled every 0.25 s;
status 0 = no answer within the poller's timeout) and reconcile.json (the run's writes checked
against the database and the idempotency keys after the run).

Decisions that change verdicts:
- A fault's `start` is logged just before its injector acts and its `end` just after its revert
  returned. So /health/db and /ready polls sent in the first `GRACE_S` of a fault are not judged (a
  fast shutdown takes a moment), and a 2xx from them *answered* in its last `GRACE_S` is not a
  failure (the database is back a moment before `end` is logged). /health/live is judged throughout.
- Fail fast applies to the faults that make the database unavailable (`DB_UNAVAILABLE`). Every
  request in flight during one (sent before its end, answered after its start) must be answered
  within the bound: the `fault_request_latency` threshold's limit (default 6.5 s: statement_timeout
  5 s + 1 s client margin + 0.5 s). /health/db and /ready must answer 503 within the same bound (no
  answer is a failure: a health endpoint must answer), /health/live 200.
- Recovery: seconds from a fault's `end` to the first 2xx `POST /api/orders` answered after it
  (answer = send + latency_ms). None at all is "never recovered" (inf, a failure), unless the
  evidence ends too soon after the fault to tell. After a db_restart or db_crash this is also the
  check that the pool reconnected by itself: the harness restarts the service only through a
  `service_crash` fault, which the section names if one overlaps.
- P95 recovery: `BUCKET_S` tumbling buckets of successful (2xx) core requests by intended send from
  the fault's end; the start of the first bucket whose P95 of user latency is under the core P95
  limit (fast 503s are not a recovery, so failures are left out).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from loadgate_contract.files import HEALTH_ENDPOINTS
from loadgate_contract.records import DB_RESTARTING_FAULTS, DB_UNAVAILABLE_FAULTS, FaultOutcome
from reports.evidence import Evidence, to_epoch
from reports.percentiles import percentile
from reports.scope import matching_names, names_of, profile_aliases
from reports.summary_doc import (
    ChaosSection,
    FaultRow,
    HealthDuring,
    HealthEndpoint,
    HealthViolation,
    Reconnect,
    Recovery,
    RequestsDuring,
)

if TYPE_CHECKING:  # catalog (read by thresholds) imports the measures
    from reports.thresholds import ThresholdSet

ORDERS = "POST /api/orders"
DB_UNAVAILABLE = DB_UNAVAILABLE_FAULTS
GRACE_S = 1.0
BUCKET_S = 5.0
DEFAULT_BOUND_MS = 6500.0
DEFAULT_P95_LIMIT_MS = 500.0
FAIL_FAST_METRIC = "fault_request_latency"
RECONCILE = {
    "acknowledged": ("checked", "missing"),
    "indeterminate": ("total", "once", "not_at_all", "more_than_once", "unknown"),
    "idempotent_retries": ("keys", "duplicate_effects"),
}
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Fault:
    """One faults.jsonl line; `index` counts from 1 in start order, `end` is None if never reverted."""

    index: int
    kind: str
    target: str | None
    start: float
    end: float | None
    outcome: str
    detail: str
    params: dict[str, Any]

    @property
    def label(self) -> str:
        """`db_restart#1`: names the fault's checks."""
        return f"{self.kind}#{self.index}"

    @property
    def makes_db_unavailable(self) -> bool:
        """Whether fail fast applies: the database is down or frozen during it."""
        return self.kind in DB_UNAVAILABLE

    @property
    def not_injected(self) -> str | None:
        """Why the fault never took effect (its apply failed or never ran), else None."""
        if self.outcome == FaultOutcome.FAILED and (
            "apply failed" in self.detail or "not applied" in self.detail
        ):
            return f"{self.label} was not injected: {self.detail}"
        return None


def faults(ev: Evidence) -> list[Fault]:
    """The run's faults in start order (lines without a readable start are skipped)."""
    rows = [(start, f) for f in ev.faults or [] if (start := to_epoch(f.get("start"))) is not None]
    rows.sort(key=lambda r: r[0])
    return [
        Fault(
            index=i,
            kind=str(f.get("kind") or "fault"),
            target=None if f.get("target") is None else str(f.get("target")),
            start=start,
            end=to_epoch(f.get("end")),
            outcome=str(f.get("outcome") or ""),
            detail=str(f.get("detail") or ""),
            params=dict(f.get("params") or {}),
        )
        for i, (start, f) in enumerate(rows, start=1)
    ]


def planned_faults(ev: Evidence) -> int:
    """How many faults the plan scheduled."""
    planned = ev.plan.get("faults") if ev.plan else None
    return len(planned) if isinstance(planned, list) else 0


def is_chaos(ev: Evidence) -> bool:
    """Whether the chaos checks apply: the run logged or planned at least one fault."""
    return bool(ev.faults) or planned_faults(ev) > 0


def missing_faults(ev: Evidence) -> str | None:
    """Why per-fault checks cannot be made on a chaos run (no faults.jsonl line), else None."""
    if faults(ev) or not is_chaos(ev):
        return None
    return f"no faults.jsonl line: the plan scheduled {planned_faults(ev)} fault(s) but none was logged"


def fail_fast_bound_ms(ts: ThresholdSet) -> float:
    """The fail-fast bound: the request threshold's limit, so one number configures requests and health."""
    return next((t.expr.limit for t in ts.thresholds if t.metric == FAIL_FAST_METRIC), DEFAULT_BOUND_MS)


def core_latency(ts: ThresholdSet) -> tuple[float, tuple[str, ...]]:
    """(P95 limit in ms, request patterns) of `core_p95`: what P95 recovery is measured against."""
    th = next((t for t in ts.thresholds if t.name == "core_p95"), None)
    if th is None:
        return DEFAULT_P95_LIMIT_MS, ts.tags.get("core", ())
    return th.expr.limit, th.requests + (ts.tags[th.tag] if th.tag else ())


def in_flight(ev: Evidence, fault: Fault) -> BoolArray:
    """Rows of requests.csv in flight during the fault: sent before its end, answered after its start."""
    assert ev.requests is not None
    sent = ev.requests["ts"].to_numpy(dtype=np.float64)
    answered = sent + ev.requests["latency_ms"].to_numpy(dtype=np.float64) / 1000.0
    end = fault.end if fault.end is not None else math.inf
    return np.asarray((sent < end) & (answered > fault.start), dtype=bool)


def requests_during(ev: Evidence, fault: Fault, bound_ms: float) -> RequestsDuring:
    """Requests in flight during the fault: count, 503s, no responses, max latency, slowest over the bound."""
    assert ev.requests is not None
    rows = ev.requests[in_flight(ev, fault)]
    latency = rows["latency_ms"].to_numpy(dtype=np.float64)
    status = rows["status"].to_numpy()
    slow = rows[latency > bound_ms].sort_values("latency_ms", ascending=False).head(5)
    return {
        "count": len(rows),
        "status_503": int((status == 503).sum()),
        "no_response": int((status == 0).sum()),
        "max_latency_ms": float(latency.max()) if len(latency) else None,
        "over_bound": int((latency > bound_ms).sum()),
        "latencies_ms": latency,
        "slowest": [
            {
                "name": str(r["name"]),
                "status": int(r["status"]),
                "error_code": str(r["error_code"]),
                "latency_ms": float(r["latency_ms"]),
                "sent_after_fault_start_s": round(float(r["ts"]) - fault.start, 3),
            }
            for r in slow.to_dict("records")
        ],
    }


def _health_violation(
    endpoint: str, status: int, latency_ms: float, answered: float, end: float, bound_ms: float
) -> str:
    """Why one poll during a database-unavailable fault is wrong, or '' if it is right."""
    if status == 0:
        return "no answer"
    if endpoint == "live":
        return "" if status == 200 else f"answered {status}, not 200"
    if status == 503:
        return "" if latency_ms <= bound_ms else f"503 after {latency_ms:.0f} ms"
    if 200 <= status < 300:
        return "" if answered >= end - GRACE_S else "answered 2xx while the database was down"
    return f"answered {status}, not 503"


def health_during(ev: Evidence, fault: Fault, bound_ms: float) -> HealthDuring:
    """Health polls during the fault, per endpoint; for faults in `DB_UNAVAILABLE`, the wrong answers."""
    assert ev.health is not None
    h = ev.health
    end = fault.end if fault.end is not None else math.inf
    sent = h["ts"].to_numpy(dtype=np.float64)
    per: dict[str, HealthEndpoint] = {}
    examples: list[HealthViolation] = []
    judged = violations = 0
    for endpoint in HEALTH_ENDPOINTS:
        opens = fault.start if endpoint == "live" else fault.start + GRACE_S
        rows = h[(h["endpoint"] == endpoint).to_numpy() & (sent >= opens) & (sent < end)]
        wrong = 0
        if fault.makes_db_unavailable:
            for r in rows.to_dict("records"):
                status, latency_ms, sent_at = int(r["status"]), float(r["latency_ms"]), float(r["ts"])
                why = _health_violation(
                    endpoint, status, latency_ms, sent_at + latency_ms / 1000.0, end, bound_ms
                )
                if why:
                    wrong += 1
                    if len(examples) < 10:
                        examples.append(
                            {
                                "endpoint": endpoint,
                                "status": status,
                                "latency_ms": latency_ms,
                                "sent_after_fault_start_s": round(sent_at - fault.start, 3),
                                "why": why,
                            }
                        )
            judged += len(rows)
            violations += wrong
        latency = rows["latency_ms"].to_numpy(dtype=np.float64)
        per[endpoint] = {
            "polls": len(rows),
            "statuses": {str(k): v for k, v in sorted(Counter(rows["status"].tolist()).items())},
            "max_latency_ms": float(np.nanmax(latency)) if len(latency) else None,
            "violations": wrong,
        }
    return {"endpoints": per, "judged": judged, "violations": violations, "examples": examples}


def recovery(ev: Evidence, fault: Fault, p95_limit_ms: float, core: tuple[str, ...]) -> Recovery:
    """Seconds from the fault's end to the first 2xx order, and to core P95 back under `p95_limit_ms`.

    `None` when the fault never ended; `inf` when it did not happen before the evidence ended
    (`evidence_after_s` says how long after the end the evidence goes on).
    """
    assert ev.requests is not None
    out: Recovery = {"first_order_s": None, "p95_s": None, "evidence_after_s": None}
    if fault.end is None:
        return out
    df = ev.requests
    sent = df["ts"].to_numpy(dtype=np.float64)
    answered = sent + df["latency_ms"].to_numpy(dtype=np.float64) / 1000.0
    status = df["status"].to_numpy()
    orders = np.asarray(df["name"].isin(names_of(ev, ORDERS)), dtype=bool)
    ok = orders & (status >= 200) & (status < 300) & (answered >= fault.end)
    out["first_order_s"] = float(answered[ok].min() - fault.end) if ok.any() else math.inf
    out["evidence_after_s"] = max(0.0, float(np.nanmax(answered)) - fault.end) if len(df) else 0.0
    t = df["t"].to_numpy(dtype=np.float64)
    names = matching_names(df["name"].cat.categories, core, profile_aliases(ev))
    succeeded = (status >= 200) & (status < 300)
    after = np.asarray(df["name"].isin(names), dtype=bool) & succeeded & (t >= fault.end)
    buckets = ((t[after] - fault.end) // BUCKET_S).astype(np.int64)
    latency = df["latency_user_ms"].to_numpy(dtype=np.float64)[after]
    out["p95_s"] = math.inf
    for b in np.unique(buckets):
        if percentile(latency[buckets == b], 95.0) < p95_limit_ms:
            out["p95_s"] = float(b) * BUCKET_S
            break
    return out


def restarted_by(all_faults: list[Fault], fault: Fault, until: float) -> list[str]:
    """`service_crash` faults overlapping [fault start, until]: then a restart, not the pool, reconnected."""
    return [
        f.label
        for f in all_faults
        if f.kind == "service_crash" and f.start <= until and (f.end is None or f.end >= fault.start)
    ]


def _reconnect(listed: list[Fault], fault: Fault, until: float) -> Reconnect:
    """After a db_restart or db_crash: did orders succeed again with no service restart in between?"""
    if fault.kind not in DB_RESTARTING_FAULTS:
        return {"restarted_by": [], "pool_reconnected": None}
    restarts = restarted_by(listed, fault, until)
    return {"restarted_by": restarts, "pool_reconnected": math.isfinite(until) and not restarts}


def reconcile_counts(ev: Evidence) -> dict[str, Any] | None:
    """reconcile.json's counts per section (None for a count it lacks) and up to 5 examples each."""
    if ev.reconcile is None:
        return None
    out: dict[str, Any] = {"ran_at": ev.reconcile.get("ran_at"), "source": ev.reconcile.get("source")}
    unchecked = (ev.reconcile.get("acknowledged") or {}).get("not_checked")
    out["not_checked"] = unchecked if isinstance(unchecked, dict) else {}
    for section, keys in RECONCILE.items():
        part = ev.reconcile.get(section)
        part = part if isinstance(part, dict) else {}
        counts = {k: part[k] if isinstance(part.get(k), int) else None for k in keys}
        examples = part.get("examples")
        out[section] = {**counts, "examples": examples[:5] if isinstance(examples, list) else []}
    return out


def run_start(ev: Evidence) -> float:
    """Epoch second the run started: run.json's started_at, else its first phase, else the first evidence."""
    start = to_epoch(ev.run.get("started_at"))
    if start is not None:
        return start
    if ev.phases:
        return min(w.start for w in ev.phases)
    return ev.span[0] if ev.span else 0.0


def chaos_section(ev: Evidence, ts: ThresholdSet) -> ChaosSection | None:
    """The report's per-fault section (None unless this is a chaos run)."""
    if not is_chaos(ev):
        return None
    bound = fail_fast_bound_ms(ts)
    limit, core = core_latency(ts)
    t0 = run_start(ev)
    listed = faults(ev)
    rows: list[FaultRow] = []
    for f in listed:
        rec = recovery(ev, f, limit, core) if ev.requests is not None else None
        req = requests_during(ev, f, bound) if ev.requests is not None else None
        if req is not None:
            del req["latencies_ms"]
        first = rec["first_order_s"] if rec else None
        until = (
            f.end + first if f.end is not None and first is not None and math.isfinite(first) else math.inf
        )
        rows.append(
            {
                "label": f.label,
                "kind": f.kind,
                "target": f.target,
                "start_s": f.start - t0,
                "end_s": None if f.end is None else f.end - t0,
                "duration_s": None if f.end is None else f.end - f.start,
                "outcome": f.outcome,
                "detail": f.detail,
                "params": f.params,
                "fail_fast": f.makes_db_unavailable,
                "not_injected": f.not_injected,
                "requests": req,
                "health": health_during(ev, f, bound) if ev.health is not None else None,
                "recovery": rec,
                **_reconnect(listed, f, until),
            }
        )
    return {
        "faults": rows,
        "planned_faults": planned_faults(ev),
        "missing": missing_faults(ev),
        "fail_fast_bound_ms": bound,
        "grace_s": GRACE_S,
        "bucket_s": BUCKET_S,
        "p95_limit_ms": limit,
        "reconcile": reconcile_counts(ev),
        "evidence": {"health.csv": ev.health is not None, "reconcile.json": ev.reconcile is not None},
    }
