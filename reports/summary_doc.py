"""The sections of `summary.json` (schema `loadgate.summary/1`) that the reports compute.

TypedDicts, so the code that builds a section and the renderers that read it agree on one shape.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import numpy as np
import numpy.typing as npt

from loadgate_contract.records import (
    DatabaseInfo,
    ErrorEntry,
    FaultRecord,
    MachineInfo,
    PhaseEntry,
    ProcessEntry,
)


class EndpointRow(TypedDict):
    """One request name (or `ALL`): counts and latency quantiles, user-perceived and service."""

    name: str
    count: int
    throughput_rps: float
    user: dict[str, float]
    service: dict[str, float]
    failed: int
    error_rate: float
    statuses: dict[str, int]
    error_codes: dict[str, int]


class LockConflicts(TypedDict):
    responses_409: dict[str, int]
    service_events: dict[str, int]
    assignment_conflicts_by_reason: dict[str, int]


class RaceExample(TypedDict):
    trial: int | None
    resource_id: str | None
    winners: int
    expected: int


class RaceRow(TypedDict):
    kind: str
    trials: int
    wrong_trials: int
    winners: dict[int, int]
    outcomes: dict[str, int]
    examples: list[RaceExample]


class PoolSummary(TypedDict):
    samples: int
    unreachable: int
    utilization_p50: float | None
    utilization_p95: float | None
    utilization_max: float | None
    waiting_max: float | None
    exhausted_samples: int


class SlowOperation(TypedDict):
    operation: str
    count: int
    max_ms: float


class SlowQueries(TypedDict):
    over_100ms: int
    over_500ms: int
    top_operations: list[SlowOperation]


class ProbeRow(TypedDict):
    name: str | None
    description: str
    violations: int | None
    error: str | None
    examples: list[dict[str, Any]]  # the violating rows, whatever columns the probe returns


class RunInfo(TypedDict):
    """What the run was (run.json's keys a report shows, null when absent), phases, faults, requests."""

    id: str | None
    scenario: str | None
    kind: str | None
    status: str | None
    started_at: str | None
    ended_at: str | None
    speedup: float | None
    duration_s: float | None
    target: str | None
    database: DatabaseInfo | str | None
    safeguards_off: list[str] | None
    workers: int | None
    nominal_rates_per_hour: dict[str, float] | None
    effective_rates_per_hour: dict[str, float] | None
    versions: dict[str, str | None] | None
    machine: MachineInfo | None
    processes: list[ProcessEntry] | None
    errors: list[ErrorEntry] | None
    phases: list[PhaseEntry]
    faults: list[FaultRecord]
    total_requests: int


# -- chaos (reports/chaos.py) --
class SlowRequest(TypedDict):
    name: str
    status: int
    error_code: str
    latency_ms: float
    sent_after_fault_start_s: float


class RequestsDuring(TypedDict):
    """Requests in flight during a fault."""

    count: int
    status_503: int
    no_response: int
    max_latency_ms: float | None
    over_bound: int
    slowest: list[SlowRequest]
    latencies_ms: NotRequired[npt.NDArray[np.float64]]  # for the measures; not in summary.json


class HealthEndpoint(TypedDict):
    polls: int
    statuses: dict[str, int]
    max_latency_ms: float | None
    violations: int


class HealthViolation(TypedDict):
    endpoint: str
    status: int
    latency_ms: float
    sent_after_fault_start_s: float
    why: str


class HealthDuring(TypedDict):
    endpoints: dict[str, HealthEndpoint]
    judged: int
    violations: int
    examples: list[HealthViolation]


class Recovery(TypedDict):
    """Seconds after a fault's end: first 2xx order, core P95 back under its limit (inf: never)."""

    first_order_s: float | None
    p95_s: float | None
    evidence_after_s: float | None


class Reconnect(TypedDict):
    restarted_by: list[str]
    pool_reconnected: bool | None


class FaultRow(Reconnect):
    label: str
    kind: str
    target: str | None
    start_s: float
    end_s: float | None
    duration_s: float | None
    outcome: str
    detail: str
    params: dict[str, Any]  # per fault kind
    fail_fast: bool
    not_injected: str | None
    requests: RequestsDuring | None
    health: HealthDuring | None
    recovery: Recovery | None


class ChaosSection(TypedDict):
    faults: list[FaultRow]
    planned_faults: int
    missing: str | None
    fail_fast_bound_ms: float
    grace_s: float
    bucket_s: float
    p95_limit_ms: float
    reconcile: dict[str, Any] | None  # reports/chaos.py reconcile_counts
    evidence: dict[str, bool]


# -- capacity (reports/capacity.py) --
class StepResources(TypedDict):
    cpu_pct: dict[str, float]
    processes: dict[str, int]
    pool_waiting_mean: float | None
    pool_waiting_max: float | None


class CapacityStep(StepResources):
    step: str
    requests: int
    orders_per_hour: float
    p95_ms: float
    failed_rate: float
    dropped: int
    held: bool
    bottleneck: str


class CapacityResult(TypedDict):
    steps: list[CapacityStep]
    sustained_step: str | None
    sustained_orders_per_hour: float
    headroom_over_documented_peak: float
    broke_at: str | None
    steps_not_run: int
    bottleneck_sustained: str | None
    bottleneck_broken: str | None
    criteria: dict[str, float]
