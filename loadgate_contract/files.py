"""File names and columns of a run folder, the environment the Locust processes get, schema ids."""

from __future__ import annotations

from typing import Final

# -- files of a run folder (docs/contracts.md "Run folder") --
RUN_JSON: Final = "run.json"
SCENARIO_TOML: Final = "scenario.toml"
PLAN_JSON: Final = "plan.json"
REQUESTS_CSV: Final = "requests.csv"
RACES_JSONL: Final = "races.jsonl"
SERVICE_JSONL: Final = "service.jsonl"
POOL_CSV: Final = "pool.csv"
HEALTH_CSV: Final = "health.csv"
CPU_CSV: Final = "cpu.csv"
FAULTS_JSONL: Final = "faults.jsonl"
RECONCILE_JSON: Final = "reconcile.json"
PROBES_JSON: Final = "probes.json"
POSTGRES_JSONL: Final = "postgres.jsonl"
PG_ACTIVITY_CSV: Final = "pg_activity.csv"
PG_STAT_CSV: Final = "pg_stat.csv"
PG_SAMPLER_JSON: Final = "pg_sampler.json"
PG_STATEMENTS_JSON: Final = "pg_statements.json"
DB_HOOKS_LOG: Final = "db_hooks.log"
SUMMARY_JSON: Final = "summary.json"

# -- CSV columns, in file order --
REQUEST_COLUMNS: Final = (
    "ts",  # actual send, epoch s
    "ts_intended",  # when the open model meant to send it (first request of a flow only)
    "name",  # `METHOD /path/{template}`
    "status",  # HTTP status, 0 when no response
    "latency_ms",  # actual send to full response
    "bytes",  # response body size
    "error_code",  # the error body's `code`; CONNECTION_ERROR / TIMEOUT / DROPPED; else empty
    "phase",  # plan phase by elapsed time since the common start
    "worker",  # worker index (0 for a local runner)
    "flow",  # the flow (`orders_created`, `payments_captured:prereq`, `race`, ...)
    "created_id",  # id of what a 2xx write created
    "idempotency_key",  # the Idempotency-Key sent, if any
)
POOL_COLUMNS: Final = (
    "ts",
    "status",
    "size",
    "active",
    "idle",
    "waiting",
    "max",
    "utilization",
    "latency_ms",
)
HEALTH_COLUMNS: Final = ("ts", "endpoint", "status", "latency_ms")
HEALTH_ENDPOINTS: Final = ("live", "ready", "db")
CPU_COLUMNS: Final = ("ts", "process", "processes", "cpu_pct", "rss_mb")
PG_ACTIVITY_COLUMNS: Final = (
    "ts",
    "pid",
    "state",
    "wait_event_type",
    "wait_event",
    "query_start",
    "waitstart",
    "locktype",
    "mode",
    "query",
)
PG_STAT_COLUMNS: Final = (
    "ts",
    "xact_commit",
    "xact_rollback",
    "deadlocks",
    "conflicts",
    "temp_files",
    "temp_bytes",
    "numbackends",
    "blks_read",
    "blks_hit",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
)

# -- what the Locust processes are told (environment variables) --
ENV_PLAN: Final = "LOADGATE_PLAN"  # path of plan.json
ENV_FIXTURES: Final = "LOADGATE_FIXTURES"  # path of the fixtures file
ENV_RUN_DIR: Final = "LOADGATE_RUN_DIR"  # the run folder (the master or local runner writes samples)

# -- schema ids of what the reports write --
SUMMARY_SCHEMA: Final = "loadgate.summary/1"
SUITE_SCHEMA: Final = "loadgate.suite/1"
