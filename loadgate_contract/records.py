"""The JSON records of a run folder (docs/contracts.md "Run folder"): `run.json`, `faults.jsonl`,
`races.jsonl`, `reconcile.json`, `probes.json`, and the run status values.

TypedDicts, so the writer (harness, Locust) and the reader (reports) are checked against one shape.
Records are read from files a killed or older run may have left, so readers still `.get()` keys.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NotRequired, TypedDict


class RunStatus(StrEnum):
    """`run.json` `status`: how far the run got. Anything but COMPLETE is an incomplete run."""

    STARTING = "starting"  # the record exists, the service stack is not up yet
    RUNNING = "running"  # the load runs (a killed run still says so)
    COMPLETE = "complete"  # the plan ran to its end
    INCOMPLETE = "incomplete"  # stopped early: Ctrl-C, SIGTERM, a child died, a member did not complete
    FAILED = "failed"  # the run could not run (bad setup, a crash)


SUITE_KIND = "suite"  # `run.json` `kind` of a suite folder (a run's kind is a plan.Kind value)


class FaultOutcome(StrEnum):
    """`faults.jsonl` `outcome`."""

    APPLIED = "applied"
    FAILED = "failed"


# Faults during which the database is down or frozen (fail fast applies; reports/chaos.py).
DB_UNAVAILABLE_FAULTS: tuple[str, ...] = ("db_restart", "db_crash", "db_pause")
# Faults that end with the database back from a stop (recovery is measured after them).
DB_RESTARTING_FAULTS: tuple[str, ...] = ("db_restart", "db_crash")


class ErrorEntry(TypedDict):
    at: str
    message: str


class ProcessEntry(TypedDict, total=False):
    name: str
    pid: int | None
    exit_code: int | None
    stopped_by: str | None


class PhaseEntry(TypedDict):
    """A phase as it ran, epoch seconds."""

    name: str
    start: float
    end: float


class PhaseRates(TypedDict):
    name: str
    nominal: dict[str, float]
    effective: dict[str, float]


class SkippedEntry(TypedDict):
    scenario: str
    reason: str


class DatabaseInfo(TypedDict, total=False):
    """`run.json` `database`: the PostgreSQL the run used, as its backend describes it."""

    kind: str  # embedded, external, docker; or external read-only for a target
    url: str | None  # password redacted
    database_url: str | None
    pid: int | None
    version: str | None
    log: str | None
    image: str | None
    container: str | None
    read_only: bool


class FaultProxyInfo(TypedDict):
    """`run.json` `fault_proxy`: the Toxiproxy API a db_latency fault's toxics went through."""

    kind: str  # loadgate (its own API) or toxiproxy
    api: str
    version: str
    in_process: bool
    proxy: str
    listen: str
    upstream: str


class DbControlInfo(TypedDict, total=False):
    """`run.json` `db_control`: a user's container, or a hooks file, for the database faults."""

    kind: str  # container or hooks
    container: str | None
    file: str
    hooks: list[str]


class ProbesConfig(TypedDict):
    """`run.json` `probes`: the probe folder run and who switched which probe off."""

    directory: str
    shipped: bool
    off: dict[str, str]


class MachineInfo(TypedDict, total=False):
    hostname: str
    platform: str
    cores: int | None
    memory_mb: int | None
    python_executable: str


class RunRecordDoc(TypedDict, total=False):
    """`run.json` of a run, or of a suite (`kind` "suite": `scenarios`, `children`, `skipped`)."""

    id: str
    scenario: str
    kind: str
    status: str  # a RunStatus value
    started_at: str
    ended_at: str | None
    load_started_at: str
    speedup: float
    duration_s: float
    nominal_rates_per_hour: dict[str, float]
    effective_rates_per_hour: dict[str, float]
    phase_rates: list[PhaseRates]
    phases: list[PhaseEntry]
    target: str | None
    target_tls_verify: bool
    target_ca_bundle: str | None
    database: DatabaseInfo | str | None
    safeguards_off: list[str]
    race_window_ms: float
    defects: list[str]
    workers: int
    probes: ProbesConfig
    versions: dict[str, str | None]
    machine: MachineInfo
    processes: list[ProcessEntry]
    errors: list[ErrorEntry]
    fault_proxy: FaultProxyInfo
    db_control: DbControlInfo
    service_log: str
    users_file: str
    users_warnings: list[str]
    # a suite's own record
    scenarios: list[str]
    children: list[str]
    skipped: list[SkippedEntry]


class FaultRecord(TypedDict):
    """One `faults.jsonl` line, written when the fault is reverted (or could not be)."""

    kind: str
    target: str | None
    start: float | None
    end: float | None
    params: dict[str, Any]
    outcome: str  # a FaultOutcome value
    detail: str


class Participant(TypedDict, total=False):
    actor: str
    status: int
    code: str
    latency_ms: float | None
    sent_at: float | None
    index: int
    worker: int | str
    created_id: str | None


class RaceTrial(TypedDict, total=False):
    """One `races.jsonl` line; a trial whose resource could not be made has an `error`."""

    kind: str
    trial: int
    resource_id: str | None
    fire_at: float | None
    participants: list[Participant]
    winners: int
    expected_winners: int
    error: str


class AcknowledgedDoc(TypedDict):
    checked: int
    missing: int
    not_checked: NotRequired[dict[str, int]]  # per kind: acknowledged writes the look-up could not read back
    examples: list[dict[str, Any]]


class IndeterminateDoc(TypedDict):
    total: int
    once: int
    not_at_all: int
    more_than_once: int
    unknown: int
    examples: list[dict[str, Any]]


class IdempotentRetriesDoc(TypedDict):
    keys: int
    duplicate_effects: int
    examples: list[dict[str, Any]]


class ReconcileDoc(TypedDict):
    """`reconcile.json`: what the database (or the target's API) holds of what the load did."""

    ran_at: float
    source: NotRequired[str]  # where the look-ups went: `database` or `http`
    acknowledged: AcknowledgedDoc
    indeterminate: IndeterminateDoc
    idempotent_retries: IdempotentRetriesDoc


class ProbeResult(TypedDict, total=False):
    name: str
    description: str
    metrics: list[str]
    violations: int
    examples: list[dict[str, Any]]  # the violating rows, whatever columns the probe returns
    error: str | None
    off: str | None


class ProbesDoc(TypedDict, total=False):
    """`probes.json` (docs/probes.md)."""

    ran_at: str
    directory: str
    shipped: bool
    probes: list[ProbeResult]


class PgSamplerDoc(TypedDict, total=False):
    """`pg_sampler.json`: how the PostgreSQL sampler ran (docs/pg-evidence.md)."""

    hz: float
    slow_ms: float
    samples: int
    errors: int
    running: bool
    pg_stat_statements: bool


class PgStatement(TypedDict):
    queryid: str
    query: str
    calls: int
    total_exec_time_ms: float
    mean_exec_time_ms: float
    max_exec_time_ms: float
    rows: int


class PgStatementsDoc(TypedDict):
    """`pg_statements.json`: pg_stat_statements deltas between the run's start and end."""

    note: str
    statements: list[PgStatement]
