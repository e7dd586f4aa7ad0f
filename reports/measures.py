"""From evidence to the samples a threshold judges: one function per metric of `catalog.METRICS`.

Each returns a list of `Measurement` (one per `per` split, else one). A measurement with
`missing` set means the evidence file it needs is absent: the judge reports `no_data`.

Decisions written down here because they change verdicts:
- A request *failed* when it got no response (status 0), a 5xx, or 401/403/404/405/422 (a client or
  harness fault that must not pass silently). 400 business errors (INSUFFICIENT_FUNDS,
  INVALID_STATUS_TRANSITION), 409 conflicts and 429 are expected outcomes of a money-moving API.
  Except a 401 with error_code AUTH_RENEWED: its token had expired, the user logged in again and
  the request was sent once more; that resent request (its own row) is the outcome and is judged,
  the 401 row stays as what happened. A failed re-login is its own failed row (POST /api/auth/login).
- A lock timeout is a response or `http_exception` with code LOCK_TIMEOUT, LOCK_NOT_AVAILABLE,
  STATEMENT_TIMEOUT or QUERY_CANCELED, or a `lock_timeout` log event. ASSIGNMENT_LOCKED is a
  NOWAIT conflict (by design), not a timeout. The request side and the log side see the same
  timeouts, so the larger of the two counts is used, not their sum. Denominator: writes
  (POST/PUT/PATCH/DELETE) in scope, seed 001's "transactions".
- The chaos metrics (reports/chaos.py says how each is measured) make no check at all on a run
  without faults, one check per fault for the per-fault ones, and `no_data` when a chaos run lacks
  their evidence (health.csv, reconcile.json, faults.jsonl).
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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from reports import chaos
from reports import pg_evidence as pge
from reports.evidence import Evidence
from reports.scope import matching_names, request_mask, time_mask
from reports.thresholds import Threshold, ThresholdSet

FloatArray = npt.NDArray[np.float64]
FAILED_CLIENT_STATUSES = (401, 403, 404, 405, 422)
LOCK_TIMEOUT_CODES = ("LOCK_TIMEOUT", "LOCK_NOT_AVAILABLE", "STATEMENT_TIMEOUT", "QUERY_CANCELED")
SLOW_QUERY_EVENTS = ("slow_query_detected", "slow_query")
STATUS_CHANGE_REQUESTS = ("PATCH /api/orders/{id}", "PATCH /api/orders/*")
HEALTH_REQUESTS = ("GET /health/*",)
WRITE_METHODS = ("POST ", "PUT ", "PATCH ", "DELETE ")
AUTH_RENEWED = "AUTH_RENEWED"  # locustfiles/common/client.py: a 401 cured by logging in again


@dataclass
class Measurement:
    """Samples for one check: `values` (trend/gauge), `numerator`/`denominator` (rate), `count` (counter)."""

    label: str | None = None
    values: FloatArray | None = None
    numerator: int = 0
    denominator: int = 0
    count: float = 0.0
    population: int = 0
    missing: str | None = None
    optional: bool = False  # a `missing` that never blocks the gate (a probe the team switched off)
    detail: str = ""
    examples: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""  # the evidence the value came from, when a metric has alternatives


Measure = Callable[[Evidence, Threshold, ThresholdSet], list[Measurement]]


NO_SERVICE_LOG = "no service.jsonl (a --target run needs --service-log PATH of that service's log)"


def failed_mask(status: npt.NDArray[np.int32], codes: Any = None) -> npt.NDArray[np.bool_]:
    """Which statuses count as failed requests (see module docstring); `codes`: the error_code column."""
    failed = (status == 0) | (status >= 500) | np.isin(status, FAILED_CLIENT_STATUSES)
    if codes is not None:
        # A 401 that made its user log in again and resend: the resent request is the outcome.
        failed &= ~((status == 401) & (np.asarray(codes, dtype=object) == AUTH_RENEWED))
    return np.asarray(failed, dtype=bool)


def _patterns(th: Threshold, ts: ThresholdSet) -> tuple[str, ...]:
    return th.requests + (ts.tags[th.tag] if th.tag else ())


def _requests(
    ev: Evidence, th: Threshold, ts: ThresholdSet
) -> list[tuple[str | None, npt.NDArray[np.bool_]]]:
    """Row masks per split: one per request name with `per = "name"`, else one for the whole scope."""
    assert ev.requests is not None
    mask = request_mask(
        ev, patterns=_patterns(th, ts), flow=th.flow, phase=th.phase, exclude=ts.exclude_phases
    )
    if th.per != "name":
        return [(None, mask)]
    codes = ev.requests["name"].cat.codes.to_numpy()
    present = np.unique(codes[mask])
    cats = ev.requests["name"].cat.categories
    return [(str(cats[c]), mask & (codes == c)) for c in present] or [(None, mask)]


def _no_requests(ev: Evidence) -> list[Measurement] | None:
    return [Measurement(missing="no requests.csv")] if ev.requests is None else None


def _latency(column: str) -> Measure:
    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        if (none := _no_requests(ev)) is not None:
            return none
        assert ev.requests is not None
        values = ev.requests[column].to_numpy()
        return [Measurement(label, values=values[m]) for label, m in _requests(ev, th, ts)]

    return measure


def _failed(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    if (none := _no_requests(ev)) is not None:
        return none
    assert ev.requests is not None
    failed = failed_mask(ev.requests["status"].to_numpy(), ev.requests["error_code"].astype(str).to_numpy())
    out = []
    for label, m in _requests(ev, th, ts):
        out.append(Measurement(label, numerator=int((failed & m).sum()), denominator=int(m.sum())))
    return out


def _svc(ev: Evidence, th: Threshold, ts: ThresholdSet, events: tuple[str, ...]) -> Any:
    """Service-log rows of the given events inside the threshold's phase scope (a DataFrame).

    An event that lasted (`duration`, ms) is placed where it began, as a request is placed by its
    send time: a lock wait that began inside a fault and ended just after it belongs to the fault.
    In the default scope (every phase but the excluded ones) an event must also have ended outside
    them: a query in flight when the database froze began before the fault but ran into it, and
    is the fault's, not the steady state's.
    """
    assert ev.service is not None
    df = ev.service[ev.service["event"].isin(events)]
    logged = df["ts"].to_numpy(dtype=np.float64, na_value=np.nan)
    began = logged
    if "duration" in df.columns:
        lasted = pd.to_numeric(df["duration"], errors="coerce").to_numpy(dtype=np.float64, na_value=0.0)
        began = logged - np.nan_to_num(lasted, nan=0.0) / 1000.0
    return df[_lasting_in_scope(ev, th, ts, began, logged)]


def _lasting_in_scope(
    ev: Evidence, th: Threshold, ts: ThresholdSet, began: FloatArray, ended: FloatArray
) -> npt.NDArray[np.bool_]:
    """Events placed where they began; in the default scope they must also end outside excluded phases."""
    keep = time_mask(ev, began, th.phase, ts.exclude_phases)
    if th.phase is None:
        keep &= time_mask(ev, ended, None, ts.exclude_phases)
    return keep


def _pg_events(ev: Evidence, th: Threshold, ts: ThresholdSet, events: pd.DataFrame) -> pd.DataFrame:
    """PostgreSQL events (reports/pg_evidence.py) inside the threshold's phase scope."""
    began = events["began"].to_numpy(dtype=np.float64)
    ended = events["ended"].to_numpy(dtype=np.float64)
    return events[_lasting_in_scope(ev, th, ts, began, ended)]


def _time_scoped_requests(
    ev: Evidence, th: Threshold, ts: ThresholdSet, patterns: tuple[str, ...] = ()
) -> Any:
    assert ev.requests is not None
    return ev.requests[request_mask(ev, patterns=patterns, phase=th.phase, exclude=ts.exclude_phases)]


def _lock_timeout_rate(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    if (none := _no_requests(ev)) is not None:
        return none
    assert ev.requests is not None
    out = []
    codes = ev.requests["error_code"].isin(LOCK_TIMEOUT_CODES).to_numpy()
    writes = ev.requests["name"].astype(str).str.startswith(WRITE_METHODS).to_numpy()
    svc_count = 0
    if ev.service is not None:
        svc = _svc(ev, th, ts, ("lock_timeout", "http_exception"))
        svc_count = int(((svc["event"] == "lock_timeout") | svc["code"].isin(LOCK_TIMEOUT_CODES)).sum())
    for label, m in _requests(ev, th, ts):
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


def _update_conflicts(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    if (none := _no_requests(ev)) is not None:
        return none
    rows = _time_scoped_requests(ev, th, ts, STATUS_CHANGE_REQUESTS)
    conflicts = int((rows["error_code"] == "ORDER_STATUS_CONFLICT").sum())
    retries = 0
    if ev.service is not None:
        retries = len(_svc(ev, th, ts, ("order_status_update_retry",)))
    return [
        Measurement(
            numerator=conflicts + retries,
            denominator=len(rows),
            detail=f"{conflicts} ORDER_STATUS_CONFLICT, {retries} retries, {len(rows)} attempts",
        )
    ]


NO_PROBES = "no probes.json (give --database-url so the invariant probes can run)"
NO_LOCK_EVIDENCE = (
    "no lock-wait evidence: no postgres.jsonl (PostgreSQL's log, on a server the harness runs), "
    "no pg_activity.csv (give --database-url), no service.jsonl (--service-log)"
)
NO_SLOW_EVIDENCE = NO_LOCK_EVIDENCE.replace("lock-wait", "slow-statement")


def _writes_in_scope(ev: Evidence, th: Threshold, ts: ThresholdSet) -> int | None:
    if ev.requests is None:
        return None
    rows = _time_scoped_requests(ev, th, ts)
    return int(rows["name"].astype(str).str.startswith(WRITE_METHODS).sum())


def _lock_wait(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
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
        rows = _svc(ev, th, ts, ("lock_wait",))
        values = rows["duration"].dropna().to_numpy(dtype=np.float64)
        return [
            Measurement(
                values=values,
                source=src.label,
                detail=f"{src.label}: {values.size:,} logged waits, one sample each",
            )
        ]
    if src.key == pge.POSTGRES_LOG:
        assert ev.pg_log is not None
        waits = _pg_events(ev, th, ts, pge.log_lock_waits(ev.pg_log))
    else:
        assert ev.pg_activity is not None
        waits = _pg_events(ev, th, ts, pge.sampled_lock_waits(ev.pg_activity))
    durations = waits["duration_ms"].to_numpy(dtype=np.float64)
    writes = _writes_in_scope(ev, th, ts)
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
        req = _time_scoped_requests(ev, th, ts)
        unavailable = int(((req["status"] == 503) & (req["error_code"] == "DATABASE_UNAVAILABLE")).sum())
        n += len(req)
    return [
        Measurement(
            count=full + unavailable,
            population=n,
            detail=f"{full} pool samples full with waiters, {unavailable} 503 DATABASE_UNAVAILABLE",
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
        slow = _svc(ev, th, ts, SLOW_QUERY_EVENTS)
        durations = pd.to_numeric(slow["duration"], errors="coerce").to_numpy(dtype=np.float64, na_value=0.0)
        return src, durations, slow["ts"].to_numpy(dtype=np.float64)
    if src.key == pge.POSTGRES_LOG:
        assert ev.pg_log is not None
        events = _pg_events(ev, th, ts, pge.log_slow_statements(ev.pg_log))
    else:
        assert ev.pg_activity is not None
        events = _pg_events(ev, th, ts, pge.sampled_statements(ev.pg_activity))
    return src, events["duration_ms"].to_numpy(dtype=np.float64), events["ended"].to_numpy(dtype=np.float64)


def _slow_per_minute(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
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


def _slow_ratio(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    if (none := _no_requests(ev)) is not None:
        return none
    found = _slow_statements(ev, th, ts)
    if found is None:
        return [Measurement(missing=NO_SLOW_EVIDENCE)]
    src, durations, _ = found
    num = int((durations > 100).sum())
    requests = len(_time_scoped_requests(ev, th, ts))
    return [
        Measurement(
            numerator=num,
            denominator=requests,
            source=src.label,
            detail=f"{src.label}: {num:,} statements > 100 ms among {requests:,} requests",
        )
    ]


def _db_errors(state_code: str, what: str) -> Measure:
    """ERRORs with `state_code` in PostgreSQL's log; deadlocks also from pg_stat_database's counter."""

    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        writes = _writes_in_scope(ev, th, ts) or 0
        if ev.pg_log is not None:
            events = _pg_events(ev, th, ts, pge.log_errors(ev.pg_log, state_code))
            label = f"PostgreSQL log (SQLSTATE {state_code})"
            examples = [
                {"pid": int(p), "statement": st}
                for p, st in events[["pid", "statement"]].head(5).itertuples(index=False)
            ]
            return [
                Measurement(
                    count=len(events),
                    population=writes,
                    numerator=len(events),
                    denominator=writes,
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
    assert ev.pg_stat is not None
    keep = time_mask(
        ev, ev.pg_stat["ts"].to_numpy(dtype=np.float64, na_value=np.nan), th.phase, ts.exclude_phases
    )
    count = pge.stat_delta(ev.pg_stat, column, keep)
    label = f"pg_stat_database.{column} (sampled every second)"
    return Measurement(count=count, population=population, source=label, detail=f"{label}: {count} {what}")


def _db_rollbacks(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
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
    m.population = m.denominator = commits + int(m.count)
    m.numerator = int(m.count)
    m.detail += f" among {m.population:,} transactions"
    return [m]


def _health(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    parts: list[FloatArray] = []
    if ev.pool is not None:
        parts.append(_pool_rows(ev, th, ts)["latency_ms"].dropna().to_numpy(dtype=np.float64))
    if ev.requests is not None:
        rows = _time_scoped_requests(ev, th, ts, HEALTH_REQUESTS)
        parts.append(rows["latency_user_ms"].to_numpy(dtype=np.float64))
    if not parts:
        return [Measurement(missing="no pool.csv and no requests.csv")]
    return [Measurement(values=np.concatenate(parts))]


def _probe_fix(ev: Evidence, names: list[str]) -> str:
    """How to get evidence from probes that could not run (the shipped ones fit only the reference schema)."""
    assert ev.probes is not None
    them = "it" if len(names) == 1 else "them"
    off = f"switch {them} off with --probes-off {','.join(names)}"
    if ev.probes.get("shipped", True):
        return f"point --probes at probes written for your schema (docs/probes.md), or {off}"
    return f"fix {them} in {ev.probes.get('directory')} for your schema (docs/probes.md), or {off}"


def _serves(probe: dict[str, Any], th: Threshold) -> bool:
    """A probe feeds a threshold when its name matches the globs or its header names the metric."""
    declared = probe.get("metrics") or []
    return bool(matching_names([str(probe.get("name"))], th.probes)) or th.metric in declared


def _probe_metric(with_ledger_events: bool = False) -> Measure:
    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        if ev.probes is None:
            return [Measurement(missing=NO_PROBES)]
        probes = [p for p in ev.probes.get("probes", []) if isinstance(p, dict) and _serves(p, th)]
        chosen = [p for p in probes if not p.get("off")]
        switched = [p for p in probes if p.get("off")]
        if not probes:
            # Blocks a critical check (exit 2): a money invariant nobody looks for must not pass.
            return [
                Measurement(
                    missing=f"no probe in {ev.probes.get('directory', 'probes.json')} named like "
                    f"{list(th.probes)} or declaring `-- metrics: {th.metric}` (name one so, see "
                    "docs/probes.md)"
                )
            ]
        off_notes = [
            Measurement(
                str(p.get("name")) if th.per == "probe" else None,
                missing=f"probe {p.get('name')} switched off by {p.get('off')}",
                optional=True,  # a recorded decision of the team, not a gap in the evidence
            )
            for p in switched
        ]
        if th.per != "probe" and not chosen:
            return off_notes[:1]
        groups = [[p] for p in chosen] if th.per == "probe" else [chosen]
        out = []
        for group in groups:
            label = str(group[0].get("name")) if th.per == "probe" else None
            errored = [str(p.get("name")) for p in group if p.get("error")]
            if errored:
                out.append(
                    Measurement(
                        label,
                        missing=f"probe {', '.join(errored)} could not run: "
                        + "; ".join(str(p.get("error")) for p in group if p.get("error"))
                        + " — "
                        + _probe_fix(ev, errored),
                    )
                )
                continue
            count = sum(int(p.get("violations") or 0) for p in group)
            examples = [{"probe": p.get("name"), **e} for p in group for e in (p.get("examples") or [])[:5]]
            detail = ", ".join(f"{p.get('name')}={p.get('violations')}" for p in group)
            if switched and th.per != "probe":
                detail += "; switched off: " + ", ".join(str(p.get("name")) for p in switched)
            out.append(
                Measurement(label, count=count, population=len(group), examples=examples[:10], detail=detail)
            )
        if with_ledger_events and ev.service is not None and th.per != "probe" and out:
            events = int((ev.service["event"] == "ledger_invariant_violated").sum())
            out[0].count += events
            out[0].detail += f"; {events} ledger_invariant_violated events"
        return out + (off_notes if th.per == "probe" else [])

    return measure


def race_winners(trial: dict[str, Any]) -> int:
    """Winners of a race trial, recounted from the participants when listed (raw evidence).

    A win is a 2xx, except for `idempotent_create`, where twenty 201s carrying one order id are
    one creation and nineteen replays: there a win is a distinct created order id (docs/contracts.md).
    """
    parts = trial.get("participants")
    if not isinstance(parts, list) or not parts:
        return int(trial.get("winners") or 0)
    ok = [p for p in parts if isinstance(p, dict) and 200 <= int(p.get("status") or 0) < 300]
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


def _reconcile(section: str, key: str, population: str) -> Measure:
    """A count from reconcile.json (`section.key`), out of `section.population`, on chaos runs only."""

    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        if not chaos.is_chaos(ev):
            return []
        counts = chaos.reconcile_counts(ev)
        if counts is None:
            return [
                Measurement(
                    missing="no reconcile.json: the run's writes were not checked against the database"
                )
            ]
        part = counts[section]
        if part[key] is None:
            return [Measurement(missing=f"reconcile.json has no integer {section}.{key}")]
        shown = [k for k in chaos.RECONCILE[section] if part[k] is not None]
        detail = ", ".join(f"{k.replace('_', ' ')} {part[k]}" for k in shown)
        if section == "acknowledged" and counts["not_checked"]:
            unread = ", ".join(f"{kind} {n}" for kind, n in sorted(counts["not_checked"].items()))
            detail += f"; not readable back, not judged: {unread}"
        return [
            Measurement(
                count=part[key],
                population=int(part[population] or 0),
                examples=list(part["examples"]),
                detail=detail + _LOOKED_UP.get(str(counts["source"]), ""),
            )
        ]

    return measure


_LOOKED_UP = {"database": " (looked up in the database)", "http": " (looked up through the target's API)"}


PerFault = Callable[[Evidence, chaos.Fault, Threshold, ThresholdSet], Measurement]


def _per_fault(needs: str, fail_fast_only: bool, one: PerFault) -> Measure:
    """One measurement per fault (labelled `kind#n`) on chaos runs; `needs`: the evidence attribute."""

    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        if not chaos.is_chaos(ev):
            return []
        if (why := chaos.missing_faults(ev)) is not None:
            return [Measurement(missing=why)]
        out = []
        for f in chaos.faults(ev):
            if fail_fast_only and not f.makes_db_unavailable:
                continue
            if f.not_injected is not None:
                out.append(Measurement(f.label, missing=f.not_injected))
            elif getattr(ev, needs) is None:
                out.append(Measurement(f.label, missing=f"no {_FILES[needs]}"))
            else:
                out.append(one(ev, f, th, ts))
        return out

    return measure


_FILES = {"requests": "requests.csv", "health": "health.csv"}


def _fault_requests(ev: Evidence, f: chaos.Fault, th: Threshold, ts: ThresholdSet) -> Measurement:
    r = chaos.requests_during(ev, f, th.expr.limit)
    return Measurement(
        f.label,
        values=r["latencies_ms"],
        examples=r["slowest"],
        detail=f"{r['count']} requests in flight, {r['status_503']} answered 503, "
        f"{r['no_response']} without a response, {r['over_bound']} over {th.expr.limit:g} ms",
    )


def _fault_health(ev: Evidence, f: chaos.Fault, th: Threshold, ts: ThresholdSet) -> Measurement:
    h = chaos.health_during(ev, f, chaos.fail_fast_bound_ms(ts))
    per = "; ".join(
        f"{e}: {v['polls']} polls {' '.join(f'{k}x{n}' for k, n in v['statuses'].items())}".rstrip()
        for e, v in h["endpoints"].items()
    )
    return Measurement(
        f.label, count=h["violations"], population=h["judged"], examples=h["examples"], detail=per
    )


def _recovery(key: str, what: str) -> PerFault:
    def one(ev: Evidence, f: chaos.Fault, th: Threshold, ts: ThresholdSet) -> Measurement:
        limit, core = chaos.core_latency(ts)
        r = chaos.recovery(ev, f, limit, core)
        seconds, after = r[key], r["evidence_after_s"]
        if seconds is None:
            return Measurement(f.label, values=np.zeros(0), detail="the fault never ended")
        if math.isfinite(seconds):
            return Measurement(
                f.label, values=np.array([seconds]), detail=f"{what} {seconds:.2f} s after the end"
            )
        if after < th.expr.limit:
            return Measurement(
                f.label,
                values=np.zeros(0),
                detail=f"the evidence ends {after:.1f} s after the fault: too soon to tell",
            )
        return Measurement(
            f.label,
            values=np.array([math.inf]),
            detail=f"never recovered: no {what} in the {after:.0f} s after the end",
        )

    return one


MEASURES: dict[str, Measure] = {
    "http_req_duration": _latency("latency_user_ms"),
    "http_req_service_time": _latency("latency_ms"),
    "http_req_failed": _failed,
    "probe_violations": _probe_metric(),
    "ledger_violations": _probe_metric(with_ledger_events=True),
    "overdrafts": _probe_metric(),
    "duplicate_orders": _probe_metric(),
    "race_wrong_winner_trials": _races,
    "lock_timeout_rate": _lock_timeout_rate,
    "update_conflict_rate": _update_conflicts,
    "lock_wait": _lock_wait,
    "pool_utilization": _pool_utilization,
    "pool_exhaustion": _pool_exhaustion,
    "slow_queries_500_per_min": _slow_per_minute,
    "slow_query_ratio_100": _slow_ratio,
    "db_deadlocks": _db_errors(pge.DEADLOCK, "deadlocks"),
    "db_serialization_failures": _db_errors(pge.SERIALIZATION, "serialization failures"),
    "db_rollbacks": _db_rollbacks,
    "health_latency": _health,
    "acknowledged_writes_lost": _reconcile("acknowledged", "missing", "checked"),
    "indeterminate_applied_twice": _reconcile("indeterminate", "more_than_once", "total"),
    "duplicate_effects": _reconcile("idempotent_retries", "duplicate_effects", "keys"),
    "fault_request_latency": _per_fault("requests", True, _fault_requests),
    "fault_health_violations": _per_fault("health", True, _fault_health),
    "recovery_first_order_s": _per_fault(
        "requests", False, _recovery("first_order_s", "2xx POST /api/orders")
    ),
    "recovery_p95_s": _per_fault("requests", False, _recovery("p95_s", "core P95 under its limit")),
}


def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
    """Measurements for one threshold on one run."""
    return MEASURES[th.metric](ev, th, ts)


__all__ = ["MEASURES", "Measurement", "failed_mask", "measure", "race_winners"]
