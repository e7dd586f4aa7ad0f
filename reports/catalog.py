"""The metrics a threshold may name: their type (which aggregations apply), unit and evidence.

Metric types follow k6: a *trend* is a distribution of samples (`p(N)`, `avg`, `min`, `max`, `med`,
`count`), a *rate* is a fraction of events (`rate`, and `count` for the numerator), a *counter* is a
count (`count`, `value`), a *gauge* is a series sampled over time (`p(N)`, `avg`, `min`, `max`,
`med`, and `value` = the last sample, as in k6).

`METRICS` is the one registry: each entry carries the measure that turns a run's evidence into
what a threshold on that metric judges (reports/measures*.py), so a metric cannot exist without
its measure or the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports import measures
from reports import measures_chaos as chaos
from reports import measures_db as db
from reports import pg_evidence as pge
from reports.measurement import Measure
from reports.measures_probes import probe_metric

AGGREGATIONS: dict[str, frozenset[str]] = {
    "trend": frozenset({"p", "avg", "min", "max", "med", "count"}),
    "rate": frozenset({"rate", "count"}),
    "counter": frozenset({"count", "value"}),
    "gauge": frozenset({"p", "avg", "min", "max", "med", "value"}),
}
REQUEST_SCOPES = frozenset({"request", "requests", "flow", "tag", "phase", "per"})


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its k6 type, unit, evidence file(s), the scope keys it understands, and its measure.

    `evidence`: files joined by `+` are all needed; alternatives are joined by `|`, strongest first.
    """

    name: str
    type: str
    unit: str
    evidence: str
    description: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    default_probes: tuple[str, ...] = ()
    measure: Measure = field(kw_only=True)  # evidence -> the samples a threshold on it judges


_TIME_SCOPE = frozenset({"phase"})
_CHAOS = "only on a run with faults (reports/chaos.py); "
_PROBE_SCOPE = frozenset({"probes", "per"})
# Alternatives, strongest first: the measure takes the first one the run folder has.
_PG_OR_SERVICE = "postgres.jsonl | pg_activity.csv | service.jsonl"

METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in [
        MetricSpec(
            "http_req_duration",
            "trend",
            "ms",
            "requests.csv",
            "latency a user waited: from the intended send time (free of coordinated omission)",
            REQUEST_SCOPES,
            measure=measures.latency("latency_user_ms"),
        ),
        MetricSpec(
            "http_req_service_time",
            "trend",
            "ms",
            "requests.csv",
            "latency from the actual send (service time)",
            REQUEST_SCOPES,
            measure=measures.latency("latency_ms"),
        ),
        MetricSpec(
            "http_req_failed",
            "rate",
            "",
            "requests.csv",
            "failed requests: no response (status 0), 5xx, or 401/403/404/405/422 (client or harness "
            "fault); 400 business errors, 409 and 429 are expected outcomes",
            REQUEST_SCOPES,
            measure=measures.failed_requests,
        ),
        MetricSpec(
            "probe_violations",
            "counter",
            "rows",
            "probes.json",
            "violating rows of the invariant probes (a probe that errored is no data)",
            _PROBE_SCOPE,
            ("*",),
            measure=probe_metric(),
        ),
        MetricSpec(
            "ledger_violations",
            "counter",
            "rows",
            "probes.json + service.jsonl",
            "ledger probe violations plus `ledger_invariant_violated` log events",
            _PROBE_SCOPE,
            ("*ledger*", "capture_entries_balanced"),
            measure=probe_metric(with_ledger_events=True),
        ),
        MetricSpec(
            "overdrafts",
            "counter",
            "rows",
            "probes.json",
            "wallets below zero",
            _PROBE_SCOPE,
            ("no_negative_wallet", "*overdraft*", "*negative*balance*"),
            measure=probe_metric(),
        ),
        MetricSpec(
            "duplicate_orders",
            "counter",
            "rows",
            "probes.json",
            "orders created twice for one idempotency key",
            _PROBE_SCOPE,
            ("one_order_per_idempotency_key", "*duplicate*order*"),
            measure=probe_metric(),
        ),
        MetricSpec(
            "race_wrong_winner_trials",
            "counter",
            "trials",
            "races.jsonl",
            "race trials whose winners (2xx participants) != expected_winners",
            frozenset(),
            measure=measures.races,
        ),
        MetricSpec(
            "lock_timeout_rate",
            "rate",
            "",
            "requests.csv + service.jsonl",
            "writes that ended in a lock or statement timeout / writes",
            REQUEST_SCOPES,
            measure=db.lock_timeout_rate,
        ),
        MetricSpec(
            "update_conflict_rate",
            "rate",
            "",
            "requests.csv + service.jsonl",
            "(409 ORDER_STATUS_CONFLICT + order_status_update_retry events) / status-change attempts",
            _TIME_SCOPE,
            measure=db.update_conflicts,
        ),
        MetricSpec(
            "lock_wait",
            "trend",
            "ms",
            _PG_OR_SERVICE + " (+ requests.csv)",
            "lock wait durations, from the strongest source. PostgreSQL's log (waits >= deadlock_timeout, "
            "10 ms) or sampling (waits >= one interval) show only waits above a resolution, so there the "
            "population is the writes in scope, one transaction each, a write with no visible wait "
            "counting as 0 ms: p(99) < 50 means fewer than 1 % of writes waited 50 ms or more. From the "
            "service log: one sample per `lock_wait` event",
            _TIME_SCOPE,
            measure=db.lock_wait,
        ),
        MetricSpec(
            "pool_utilization",
            "gauge",
            "%",
            "pool.csv",
            "connection pool utilization, 100 * active / max per sample",
            _TIME_SCOPE,
            measure=measures.pool_utilization,
        ),
        MetricSpec(
            "pool_exhaustion",
            "counter",
            "events",
            "pool.csv + requests.csv",
            "pool samples with waiting > 0 and active == max, plus 503 DATABASE_UNAVAILABLE responses",
            _TIME_SCOPE,
            measure=measures.pool_exhaustion,
        ),
        MetricSpec(
            "slow_queries_500_per_min",
            "gauge",
            "/min",
            _PG_OR_SERVICE,
            "statements over 500 ms (PostgreSQL's `duration:` lines, sampled statements, or the service's "
            "`slow_query_detected`), per minute of (effective) run time",
            _TIME_SCOPE,
            measure=db.slow_per_minute,
        ),
        MetricSpec(
            "slow_query_ratio_100",
            "rate",
            "",
            _PG_OR_SERVICE + " + requests.csv",
            "statements over 100 ms (from the strongest source, as slow_queries_500_per_min) / requests "
            "(each request runs at least one query); sampled durations are lower bounds",
            _TIME_SCOPE,
            measure=db.slow_ratio,
        ),
        MetricSpec(
            "db_deadlocks",
            "counter",
            "deadlocks",
            "postgres.jsonl | pg_stat.csv",
            "deadlocks: SQLSTATE 40P01 errors in PostgreSQL's log, else the pg_stat_database.deadlocks delta",
            _TIME_SCOPE,
            measure=db.db_errors(pge.DEADLOCK, "deadlocks", rate=False),
        ),
        MetricSpec(
            "db_serialization_failures",
            "rate",
            "",
            "postgres.jsonl + requests.csv",
            "serialization failures (SQLSTATE 40001 errors in PostgreSQL's log; sampling cannot see them) "
            "/ writes in scope; `count` is the number of failures",
            _TIME_SCOPE,
            measure=db.db_errors(pge.SERIALIZATION, "serialization failures", rate=True),
        ),
        MetricSpec(
            "db_rollbacks",
            "rate",
            "",
            "pg_stat.csv",
            "rolled-back transactions / all transactions: pg_stat_database's xact_rollback and xact_commit "
            "deltas; `count` is the number of rollbacks",
            _TIME_SCOPE,
            measure=db.db_rollbacks,
        ),
        MetricSpec(
            "health_latency",
            "trend",
            "ms",
            "pool.csv + requests.csv",
            "health check latency: pool sampler's /health/pool latency and GET /health/* requests",
            _TIME_SCOPE,
            measure=measures.health_latency,
        ),
        MetricSpec(
            "acknowledged_writes_lost",
            "counter",
            "writes",
            "reconcile.json",
            _CHAOS + "writes the client got a 2xx for (created_id in requests.csv) missing from the "
            "database at the end (acknowledged.missing of acknowledged.checked)",
            measure=chaos.reconcile("acknowledged", "missing", "checked"),
        ),
        MetricSpec(
            "indeterminate_applied_twice",
            "counter",
            "requests",
            "reconcile.json",
            _CHAOS + "requests that timed out or lost their connection and took effect more than once "
            "(indeterminate.more_than_once; `unknown` is reported, not counted)",
            measure=chaos.reconcile("indeterminate", "more_than_once", "total"),
        ),
        MetricSpec(
            "duplicate_effects",
            "counter",
            "keys",
            "reconcile.json",
            _CHAOS + "idempotency keys retried across a fault that made more than one order or capture",
            measure=chaos.reconcile("idempotent_retries", "duplicate_effects", "keys"),
        ),
        MetricSpec(
            "fault_request_latency",
            "trend",
            "ms",
            "requests.csv + faults.jsonl",
            _CHAOS + "service latency of the requests in flight during each db_restart, db_crash or "
            "db_pause; its limit is the fail-fast bound health polls are held to as well",
            measure=chaos.per_fault("requests", True, chaos.fault_requests),
        ),
        MetricSpec(
            "fault_health_violations",
            "counter",
            "polls",
            "health.csv + faults.jsonl",
            _CHAOS + "health polls during each db_restart, db_crash or db_pause that answered wrong: "
            "/health/db or /ready not 503 within the fail-fast bound, /health/live not 200, or no answer",
            measure=chaos.per_fault("health", True, chaos.fault_health),
        ),
        MetricSpec(
            "recovery_first_order_s",
            "trend",
            "s",
            "requests.csv + faults.jsonl",
            _CHAOS + "seconds from each fault's end to the first 2xx POST /api/orders answered after it "
            "(inf: never recovered)",
            measure=chaos.per_fault(
                "requests", False, chaos.recovery("first_order_s", "2xx POST /api/orders")
            ),
        ),
        MetricSpec(
            "recovery_p95_s",
            "trend",
            "s",
            "requests.csv + faults.jsonl",
            _CHAOS
            + "seconds from each fault's end to the first 5 s bucket whose core P95 (from the intended "
            "send) is under the core_p95 limit",
            measure=chaos.per_fault("requests", False, chaos.recovery("p95_s", "core P95 under its limit")),
        ),
    ]
}
