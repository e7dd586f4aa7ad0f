"""What the database did: lock timeouts, update conflicts, lock waits, slow statements, errors, rollbacks.

Decisions written down here because they change verdicts:
- A lock timeout is a response or `http_exception` with code LOCK_TIMEOUT, LOCK_NOT_AVAILABLE,
  STATEMENT_TIMEOUT or QUERY_CANCELED, or a `lock_timeout` log event. ASSIGNMENT_LOCKED is a
  NOWAIT conflict (by design), not a timeout. The request side and the log side see the same
  timeouts, so the larger of the two counts is used, not their sum. Denominator: writes
  (POST/PUT/PATCH/DELETE) in scope, seed 001's "transactions".
- Slow queries per minute are counted in tumbling 60 s buckets of the run's (effective) clock;
  the check judges the worst minute (`max`). Both `slow_query_detected` (seed 001) and
  `slow_query` (seed 000) are read.
- Lock waits and slow statements come from the strongest source present: PostgreSQL's log
  (postgres.jsonl) > PostgreSQL sampling (pg_activity.csv) > the service's log (service.jsonl);
  each measurement names its `source`. With PostgreSQL's evidence the lock-wait percentile is
  over the writes in scope, one transaction each, a write with no visible wait counting as 0 ms
  (below the source's resolution): `p(99) < 50` means fewer than 1 % of writes waited 50 ms or
  more. With the service log it is over the waits that log names, one sample each.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reports import pg_evidence as pge
from reports.evidence import Evidence
from reports.measurement import (
    LOCK_TIMEOUT_CODES,
    SLOW_QUERY_EVENTS,
    STATUS_CHANGE_REQUESTS,
    WRITE_METHODS,
    FloatArray,
    Measure,
    Measurement,
    no_requests,
    pg_events_in_scope,
    request_splits,
    scoped_requests,
    service_events,
    writes_in_scope,
)
from reports.scope import time_mask

if TYPE_CHECKING:  # catalog (read by thresholds) imports the measures
    from reports.thresholds import Threshold, ThresholdSet

NO_LOCK_EVIDENCE = (
    "no lock-wait evidence: no postgres.jsonl (PostgreSQL's log, on a server the harness runs), "
    "no pg_activity.csv (give --database-url), no service.jsonl (--service-log)"
)
NO_SLOW_EVIDENCE = NO_LOCK_EVIDENCE.replace("lock-wait", "slow-statement")


def lock_timeout_rate(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    """Lock timeouts among writes in scope, the larger of the response and service-log counts."""
    if (none := no_requests(ev)) is not None:
        return none
    assert ev.requests is not None
    out = []
    codes = ev.requests["error_code"].isin(LOCK_TIMEOUT_CODES).to_numpy()
    writes = ev.requests["name"].astype(str).str.startswith(WRITE_METHODS).to_numpy()
    svc_count = 0
    if ev.service is not None:
        svc = service_events(ev, th, ts, ("lock_timeout", "http_exception"))
        svc_count = int(((svc["event"] == "lock_timeout") | svc["code"].isin(LOCK_TIMEOUT_CODES)).sum())
    for label, m in request_splits(ev, th, ts):
        req_count = int((codes & m).sum())
        num = max(req_count, svc_count if label is None else 0)
        out.append(
            Measurement(
                label,
                numerator=num,
                denominator=int((writes & m).sum()),
                detail=f"{req_count} from responses, {svc_count} from the service log",
            )
        )
    return out


def update_conflicts(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    """Order status changes that conflicted or were retried, among status-change attempts."""
    if (none := no_requests(ev)) is not None:
        return none
    rows = scoped_requests(ev, th, ts, STATUS_CHANGE_REQUESTS)
    conflicts = int((rows["error_code"] == "ORDER_STATUS_CONFLICT").sum())
    retries = 0
    if ev.service is not None:
        retries = len(service_events(ev, th, ts, ("order_status_update_retry",)))
    return [
        Measurement(
            numerator=conflicts + retries,
            denominator=len(rows),
            detail=f"{conflicts} ORDER_STATUS_CONFLICT, {retries} retries, {len(rows)} attempts",
        )
    ]


def lock_wait(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    """Lock waits from the strongest source (reports/pg_evidence.py); the population is stated below.

    PostgreSQL's evidence shows only waits above a resolution (the log: deadlock_timeout, 10 ms;
    sampling: one interval). There the population is the writes in scope, each one transaction:
    a write with no visible wait counts as 0 ms (below the resolution), so `p(99) < 50` means
    fewer than 1 % of writes waited 50 ms or more. The service log keeps its own population: one
    sample per `lock_wait` event it logged.
    """
    src = pge.lock_wait_source(ev)
    if src is None:
        return [Measurement(missing=NO_LOCK_EVIDENCE)]
    if src.key == pge.SERVICE_LOG:
        rows = service_events(ev, th, ts, ("lock_wait",))
        values = rows["duration"].dropna().to_numpy(dtype=np.float64)
        return [
            Measurement(
                values=values,
                source=src.label,
                detail=f"{src.label}: {values.size:,} logged waits, one sample each",
            )
        ]
    assert src.events is not None
    waits = pg_events_in_scope(ev, th, ts, src.events)
    durations = waits["duration_ms"].to_numpy(dtype=np.float64)
    writes = writes_in_scope(ev, th, ts)
    visible = int((durations >= src.resolution_ms).sum())
    slowest = waits.sort_values("duration_ms", ascending=False).head(5)
    examples = [
        {"duration_ms": round(float(d), 1), "outcome": o, "statement": st}
        for d, o, st in slowest[["duration_ms", "outcome", "statement"]].itertuples(index=False)
    ]
    if writes is None:
        return [
            Measurement(
                values=durations,
                source=src.label,
                examples=examples,
                detail=f"{src.label}: {visible:,} waits >= {src.resolution_ms:g} ms; no requests.csv, "
                "so the population is the waits alone",
            )
        ]
    below = max(0, writes - durations.size)
    return [
        Measurement(
            values=np.concatenate([durations, np.zeros(below)]),
            source=src.label,
            examples=examples,
            detail=f"{src.label}: {visible:,} waits >= {src.resolution_ms:g} ms among {writes:,} writes "
            f"(each write one transaction; a write with no visible wait counts as 0 ms)",
        )
    ]


def _slow_statements(
    ev: Evidence, th: Threshold, ts: ThresholdSet
) -> tuple[pge.Source, FloatArray, FloatArray] | None:
    """(source, durations ms, end times) of slow statements in scope, from the strongest source."""
    src = pge.slow_statement_source(ev)
    if src is None:
        return None
    if src.key == pge.SERVICE_LOG:
        slow = service_events(ev, th, ts, SLOW_QUERY_EVENTS)
        durations = pd.to_numeric(slow["duration"], errors="coerce").to_numpy(dtype=np.float64, na_value=0.0)
        return src, durations, slow["ts"].to_numpy(dtype=np.float64)
    assert src.events is not None
    events = pg_events_in_scope(ev, th, ts, src.events)
    return src, events["duration_ms"].to_numpy(dtype=np.float64), events["ended"].to_numpy(dtype=np.float64)


def slow_per_minute(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    """Slow statements (> 500 ms) per 60 s bucket of the run's clock, in scope."""
    found = _slow_statements(ev, th, ts)
    if found is None:
        return [Measurement(missing=NO_SLOW_EVIDENCE)]
    src, durations, ended = found
    span = ev.span
    slow_t = ended[durations > 500]
    if span is None:
        return [Measurement(values=np.zeros(0), source=src.label)]
    start = min(span[0], float(slow_t.min())) if slow_t.size else span[0]
    end = max(span[1], float(slow_t.max())) if slow_t.size else span[1]
    buckets = max(1, math.ceil((end - start) / 60.0))
    counts = np.bincount(((slow_t - start) // 60).astype(np.int64), minlength=buckets)[:buckets]
    mids = start + 60.0 * np.arange(buckets, dtype=np.float64) + 30.0
    keep = time_mask(ev, mids, th.phase, ts.exclude_phases)
    return [
        Measurement(
            values=counts[keep].astype(np.float64),
            source=src.label,
            detail=f"{src.label}: {int(slow_t.size)} slow queries > 500 ms",
        )
    ]


def slow_ratio(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    """Statements over 100 ms among the requests in scope."""
    if (none := no_requests(ev)) is not None:
        return none
    found = _slow_statements(ev, th, ts)
    if found is None:
        return [Measurement(missing=NO_SLOW_EVIDENCE)]
    src, durations, _ = found
    num = int((durations > 100).sum())
    requests = len(scoped_requests(ev, th, ts))
    return [
        Measurement(
            numerator=num,
            denominator=requests,
            source=src.label,
            detail=f"{src.label}: {num:,} statements > 100 ms among {requests:,} requests",
        )
    ]


def db_errors(state_code: str, what: str, *, rate: bool) -> Measure:
    """ERRORs with `state_code` in PostgreSQL's log; deadlocks also from pg_stat_database's counter.

    `rate`: a rate metric (errors / writes in scope), else a counter (errors, out of the writes).
    """

    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        writes = writes_in_scope(ev, th, ts) or 0
        if ev.pg_log is not None:
            events = pg_events_in_scope(ev, th, ts, pge.log_errors(ev.pg_log, state_code))
            label = f"PostgreSQL log (SQLSTATE {state_code})"
            examples = [
                {"pid": int(p), "statement": st}
                for p, st in events[["pid", "statement"]].head(5).itertuples(index=False)
            ]
            return [
                Measurement(
                    count=0 if rate else len(events),
                    population=0 if rate else writes,
                    numerator=len(events) if rate else 0,
                    denominator=writes if rate else 0,
                    source=label,
                    examples=examples,
                    detail=f"{label}: {len(events)} {what} among {writes:,} writes",
                )
            ]
        if state_code == pge.DEADLOCK and ev.pg_stat is not None:
            return [_stat_count(ev, th, ts, "deadlocks", what, writes)]
        return [
            Measurement(
                missing=f"no postgres.jsonl: {what} are seen in PostgreSQL's log (a server the harness runs)"
                + ("" if state_code != pge.DEADLOCK else " or pg_stat.csv (--database-url)")
            )
        ]

    return measure


def _stat_count(
    ev: Evidence, th: Threshold, ts: ThresholdSet, column: str, what: str, population: int
) -> Measurement:
    """A pg_stat_database counter's increase over the threshold's phase scope."""
    assert ev.pg_stat is not None
    keep = time_mask(
        ev, ev.pg_stat["ts"].to_numpy(dtype=np.float64, na_value=np.nan), th.phase, ts.exclude_phases
    )
    count = pge.stat_delta(ev.pg_stat, column, keep)
    label = f"pg_stat_database.{column} (sampled every second)"
    return Measurement(count=count, population=population, source=label, detail=f"{label}: {count} {what}")


def db_rollbacks(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    """Rolled-back transactions among all transactions, from pg_stat_database."""
    if ev.pg_stat is None:
        return [
            Measurement(missing="no pg_stat.csv: rollbacks are counted by pg_stat_database (--database-url)")
        ]
    assert ev.pg_stat is not None
    keep = time_mask(
        ev, ev.pg_stat["ts"].to_numpy(dtype=np.float64, na_value=np.nan), th.phase, ts.exclude_phases
    )
    commits = pge.stat_delta(ev.pg_stat, "xact_commit", keep)
    m = _stat_count(ev, th, ts, "xact_rollback", "rollbacks", 0)
    m.denominator, m.numerator = commits + int(m.count), int(m.count)
    m.count = m.population = 0  # a rate: rollbacks over all transactions
    m.detail += f" among {m.denominator:,} transactions"
    return [m]
