"""Write synthetic run folders exactly as docs/contracts.md specifies: evidence with known values.

Used by the unit tests (one folder per threshold that breaks it, one that holds it), the headless
Chromium test and the 1 M-sample benchmark. Not used by `generate` itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loadgate_contract.records import (
    FaultRecord,
    Participant,
    ProbeResult,
    RaceTrial,
    ReconcileDoc,
    RunRecordDoc,
)
from reports.evidence import PG_LOG_MARKER, REQUEST_COLUMNS

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
CORE = [
    "POST /api/orders",
    "GET /api/orders/{id}",
    "PATCH /api/orders/{id}",
    "POST /api/payments",
    "POST /api/payments/{id}/capture",
    "GET /api/wallets/{id}",
    "POST /api/shipping/assignments",
    "POST /api/shipping/assignments/{id}/accept",
]
CAPTURE = "POST /api/payments/{id}/capture"
PROBES = [  # as harness/probes/*.sql names them
    "assignment_single_acceptance",
    "capture_entries_balanced",
    "ledger_total_zero",
    "no_negative_wallet",
    "one_order_per_idempotency_key",
    "order_history_single_path",
    "unique_ledger_idempotency_key",
]


def iso(ts: float) -> str:
    """ISO-8601 UTC with milliseconds, as the service logs."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clean_probe(name: str) -> ProbeResult:
    return {"name": name, "description": name, "violations": 0, "examples": [], "error": None}


@dataclass
class SyntheticRun:
    """A run folder under construction; `write(path)` puts it on disk."""

    kind: str = "load"
    status: str = "complete"
    t0: float = T0
    warmup_s: float = 60.0
    steady_s: float = 600.0
    seed: int = 1
    frames: list[pd.DataFrame] = field(default_factory=list)
    events: list[dict[str, Any]] | None = field(default_factory=list)
    pool_rows: list[list[Any]] | None = field(default_factory=list)
    races: list[RaceTrial] | None = None
    faults: list[FaultRecord] | None = None
    probes: list[ProbeResult] | None = field(default_factory=lambda: [_clean_probe(n) for n in PROBES])
    thresholds: list[dict[str, Any]] = field(default_factory=list)
    write_requests: bool = True
    health_rows: list[tuple[float, str, int, float]] | None = None
    reconcile: ReconcileDoc | None = None
    pg_log: list[dict[str, Any]] | None = None  # postgres.jsonl lines (PostgreSQL's jsonlog)
    pg_stat_rows: list[list[float]] | None = None  # pg_stat.csv
    pg_activity_rows: list[list[Any]] | None = None  # pg_activity.csv

    @property
    def end(self) -> float:
        """Epoch second the load ended."""
        return self.t0 + self.warmup_s + self.steady_s

    def window(self, phase: str) -> tuple[float, float]:
        """(start, end) of a phase by name."""
        if phase == "warmup":
            return self.t0, self.t0 + self.warmup_s
        return self.t0 + self.warmup_s, self.end

    def add_requests(
        self,
        name: str,
        latencies_ms: Any,
        *,
        status: int = 200,
        error_code: str = "",
        phase: str = "steady",
        flow: str = "",
        lag_ms: float = 0.0,
        window: tuple[float, float] | None = None,
    ) -> None:
        """Requests of one name with the given service latencies, evenly spread over the phase."""
        lat = np.asarray(latencies_ms, dtype=np.float64)
        start, end = window or self.window(phase)
        ts = np.linspace(start, end, num=len(lat), endpoint=False) + 0.0005
        frame = pd.DataFrame(
            {
                "ts": ts,
                "ts_intended": ts - lag_ms / 1000.0,
                "name": name,
                "status": status,
                "latency_ms": lat,
                "bytes": 512,
                "error_code": error_code,
                "phase": phase,
                "worker": "w1",
                "flow": flow,
                "created_id": "",
                "idempotency_key": "",
            }
        )
        self.frames.append(frame)

    def add_event(self, event: str, t: float | None = None, **fields: Any) -> None:
        """One service.jsonl line (timestamp defaults to mid-steady)."""
        assert self.events is not None
        ts = t if t is not None else (self.window("steady")[0] + self.window("steady")[1]) / 2
        self.events.append({"timestamp": iso(ts), "level": "info", "event": event, **fields})

    def add_pg_log(
        self,
        message: str,
        t: float,
        *,
        pid: int = 4242,
        severity: str = "LOG",
        state_code: str = "",
        statement: str = "",
    ) -> None:
        """One postgres.jsonl line, as PostgreSQL's jsonlog writes it (log_timezone UTC)."""
        if self.pg_log is None:
            self.pg_log = []
        stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
        line: dict[str, Any] = {
            "timestamp": stamp,
            "user": "postgres",
            "dbname": "loadgate_synthetic",
            "pid": pid,
            "error_severity": severity,
            "message": message,
        }
        if state_code:
            line["state_code"] = state_code
        if statement:
            line["statement"] = statement
        self.pg_log.append(line)

    def add_pg_lock_wait(self, ms: float, t: float | None = None, *, pid: int = 4242) -> None:
        """A lock wait of `ms` ending at `t`: log_lock_waits' "still waiting" (at 10 ms) and "acquired"."""
        end = t if t is not None else sum(self.window("steady")) / 2
        began = end - ms / 1000.0
        stmt = "UPDATE wallets SET balance = balance - $1 WHERE id = $2"
        self.add_pg_log(
            f"process {pid} still waiting for ShareLock on transaction 7 after 10.012 ms",
            began + 0.010,
            pid=pid,
            statement=stmt,
        )
        self.add_pg_log(
            f"process {pid} acquired ShareLock on transaction 7 after {ms:.3f} ms",
            end,
            pid=pid,
            statement=stmt,
        )

    def add_pg_slow(self, ms: float, t: float | None = None, *, pid: int = 4343) -> None:
        """A `duration: N ms` line (log_min_duration_statement) ending at `t`."""
        end = t if t is not None else sum(self.window("steady")) / 2
        self.add_pg_log(f"duration: {ms:.3f} ms  execute <unnamed>: SELECT 1", end, pid=pid)

    def set_pg_stat(self, *, commits_per_s: float = 20.0, rollbacks: int = 0, deadlocks: int = 0) -> None:
        """pg_stat.csv every 5 s over the run; `rollbacks`/`deadlocks` spread evenly over steady."""
        times = np.arange(self.t0, self.end + 5.0, 5.0)
        steady = self.window("steady")
        frac = np.clip((times - steady[0]) / (steady[1] - steady[0]), 0.0, 1.0)
        self.pg_stat_rows = [
            [
                float(t),
                float(np.floor(commits_per_s * (t - self.t0))),
                float(np.floor(rollbacks * f)),
                float(np.floor(deadlocks * f)),
                0.0,
                0.0,
                0.0,
                5.0,
            ]
            for t, f in zip(times, frac, strict=True)
        ]

    def add_pool(
        self,
        *,
        active: int = 5,
        max_size: int = 20,
        waiting: int = 0,
        latency_ms: float = 5.0,
        phase: str = "steady",
        every_s: float = 1.0,
    ) -> None:
        """pool.csv rows every `every_s` over a phase."""
        assert self.pool_rows is not None
        start, end = self.window(phase)
        for ts in np.arange(start, end, every_s):
            util = active / max_size
            self.pool_rows.append(
                [
                    f"{ts:.3f}",
                    "healthy",
                    max_size,
                    active,
                    max_size - active,
                    waiting,
                    max_size,
                    f"{util:.3f}",
                    f"{latency_ms:.2f}",
                ]
            )

    def set_probe(self, name: str, violations: int, examples: list[dict[str, Any]] | None = None) -> None:
        """Set one probe's violation count (added if absent)."""
        assert self.probes is not None
        for p in self.probes:
            if p["name"] == name:
                p["violations"], p["examples"] = violations, examples or []
                return
        self.probes.append(
            {
                "name": name,
                "description": name,
                "violations": violations,
                "examples": examples or [],
                "error": None,
            }
        )

    def add_fault(
        self, kind: str, start: float, end: float | None, *, outcome: str = "applied", detail: str = ""
    ) -> None:
        """One faults.jsonl line (epoch seconds)."""
        line: FaultRecord = {
            "kind": kind,
            "target": None,
            "start": start,
            "end": end,
            "params": {},
            "outcome": outcome,
            "detail": detail,
        }
        self.faults = [*(self.faults or []), line]

    def add_health(
        self,
        endpoint: str,
        status: int,
        latency_ms: float,
        window: tuple[float, float],
        every_s: float = 0.25,
    ) -> None:
        """health.csv polls of one endpoint over `window`, all with the same answer."""
        rows = self.health_rows if self.health_rows is not None else []
        rows.extend(
            (float(ts), endpoint, status, latency_ms) for ts in np.arange(window[0], window[1], every_s)
        )
        self.health_rows = rows

    def set_health(self, endpoint: str, status: int, latency_ms: float, window: tuple[float, float]) -> None:
        """Replace the answer of an endpoint's polls sent inside `window`."""
        assert self.health_rows is not None
        self.health_rows = [
            (ts, e, status, latency_ms) if e == endpoint and window[0] <= ts < window[1] else (ts, e, st, lat)
            for ts, e, st, lat in self.health_rows
        ]

    def run_json(self, path: Path) -> RunRecordDoc:
        """The run.json this folder gets."""
        return {
            "id": path.name,
            "scenario": f"synthetic_{self.kind}",
            "kind": self.kind,
            "status": self.status,
            "started_at": iso(self.t0),
            "ended_at": iso(self.end),
            "speedup": 60.0,
            "duration_s": self.warmup_s + self.steady_s,
            "nominal_rates_per_hour": {"orders_created": 50.0},
            "effective_rates_per_hour": {"orders_created": 3000.0},
            "phases": [
                {"name": "warmup", "start": self.t0, "end": self.t0 + self.warmup_s},
                {"name": "steady", "start": self.t0 + self.warmup_s, "end": self.end},
            ],
            "target": "http://127.0.0.1:8000",
            "database": "synthetic",
            "safeguards_off": [],
            "workers": 1,
            "versions": {"loadgate": "test", "python": "3.11"},
            "machine": {"cores": 2, "memory_mb": 1024},
            "processes": [],
            "errors": [],
        }

    def write(self, path: Path) -> Path:
        """Write every evidence file into `path` (created)."""
        path.mkdir(parents=True, exist_ok=True)
        (path / "run.json").write_text(json.dumps(self.run_json(path), indent=2))
        plan = {"scenario": f"synthetic_{self.kind}", "kind": self.kind, "thresholds": self.thresholds}
        (path / "plan.json").write_text(json.dumps(plan))
        if self.write_requests:
            df = (
                pd.concat(self.frames, ignore_index=True)
                if self.frames
                else pd.DataFrame(columns=list(REQUEST_COLUMNS))
            )
            df = df.sort_values("ts", kind="stable") if len(df) else df
            df.to_csv(path / "requests.csv", index=False, columns=list(REQUEST_COLUMNS), float_format="%.4f")
        if self.events is not None:
            (path / "service.jsonl").write_text("".join(json.dumps(e) + "\n" for e in self.events))
        if self.pool_rows is not None:
            header = "ts,status,size,active,idle,waiting,max,utilization,latency_ms\n"
            (path / "pool.csv").write_text(
                header + "".join(",".join(map(str, r)) + "\n" for r in self.pool_rows)
            )
        if self.races is not None:
            (path / "races.jsonl").write_text("".join(json.dumps(r) + "\n" for r in self.races))
        if self.faults is not None:
            (path / "faults.jsonl").write_text("".join(json.dumps(f) + "\n" for f in self.faults))
        if self.health_rows is not None:
            rows = sorted(self.health_rows)
            (path / "health.csv").write_text(
                "ts,endpoint,status,latency_ms\n"
                + "".join(f"{t:.3f},{e},{st},{lat:.2f}\n" for t, e, st, lat in rows)
            )
        if self.reconcile is not None:
            (path / "reconcile.json").write_text(json.dumps(self.reconcile))
        if self.pg_log is not None:
            stamp = datetime.fromtimestamp(self.t0, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
            marker = {"timestamp": stamp, "dbname": "loadgate_synthetic", "pid": 1, "message": PG_LOG_MARKER}
            # the harness's log tail writes its start marker first (reports/evidence.py PG_LOG_MARKER)
            lines = [marker, *sorted(self.pg_log, key=lambda r: str(r["timestamp"]))]
            (path / "postgres.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        if self.pg_stat_rows is not None:
            (path / "pg_stat.csv").write_text(
                "ts,xact_commit,xact_rollback,deadlocks,conflicts,temp_files,temp_bytes,numbackends\n"
                + "".join(
                    ",".join(f"{v:.3f}" if i == 0 else f"{v:.0f}" for i, v in enumerate(r)) + "\n"
                    for r in self.pg_stat_rows
                )
            )
        if self.pg_activity_rows is not None:
            (path / "pg_activity.csv").write_text(
                "ts,pid,state,wait_event_type,wait_event,query_start,waitstart,locktype,mode,query\n"
                + "".join(
                    ",".join("" if v is None else str(v) for v in r) + "\n" for r in self.pg_activity_rows
                )
            )
            (path / "pg_sampler.json").write_text(json.dumps({"hz": 20.0, "slow_ms": 50.0}))
        if self.probes is not None:
            (path / "probes.json").write_text(json.dumps({"ran_at": iso(self.end), "probes": self.probes}))
        return path


def race_trial(
    trial: int, winners: int, *, expected: int = 1, participants: int = 10, kind: str = "assignment_accept"
) -> RaceTrial:
    """One races.jsonl line with `winners` 2xx participants and the rest 409 ASSIGNMENT_TAKEN."""
    parts: list[Participant] = [
        {
            "actor": f"agent{i}",
            "status": 200 if i < winners else 409,
            "code": "" if i < winners else "ASSIGNMENT_TAKEN",
            "latency_ms": 20.0 + i,
            "sent_at": T0 + trial,
        }
        for i in range(participants)
    ]
    return {
        "kind": kind,
        "trial": trial,
        "resource_id": f"res-{trial}",
        "fire_at": T0 + trial,
        "participants": parts,
        "winners": winners,
        "expected_winners": expected,
    }


def healthy_load(seed: int = 1, per_endpoint: int = 200) -> SyntheticRun:
    """A load run on which every threshold of reports/thresholds.toml holds, with margin."""
    rng = np.random.default_rng(seed)
    run = SyntheticRun(kind="load", seed=seed)
    for name in CORE:
        run.add_requests(
            name, rng.uniform(20, 150, size=per_endpoint), status=201 if name.startswith("POST") else 200
        )
        run.add_requests(name, rng.uniform(20, 400, size=20), phase="warmup")
    run.add_requests("GET /health/live", rng.uniform(1, 10, size=60))
    for _ in range(40):
        run.add_event("lock_wait", duration=float(rng.uniform(1, 10)), resource="wallet")
    for _ in range(5):
        run.add_event("slow_query_detected", duration=150.0, threshold=100, operation="orders.find")
        run.add_pg_slow(150.0)
    for _ in range(3):  # what PostgreSQL's log sees of the service's waits: only those >= 10 ms
        run.add_pg_lock_wait(12.0)
    run.set_pg_stat(rollbacks=3)
    run.add_pool(active=5)
    run.add_pool(active=4, phase="warmup")
    return run


def healthy_race(seed: int = 1, trials: int = 20) -> SyntheticRun:
    """A race run on which every race-applicable threshold holds."""
    run = SyntheticRun(kind="race", seed=seed, warmup_s=0.0, steady_s=60.0)
    run.races = [race_trial(i, 1) for i in range(trials)]
    rng = np.random.default_rng(seed)
    for _ in range(30):
        run.add_event("lock_wait", duration=float(rng.uniform(1, 20)), resource="assignment")
    run.add_requests(
        "POST /api/shipping/assignments/{id}/accept", rng.uniform(10, 60, size=trials), status=200
    )
    run.add_requests(
        "POST /api/shipping/assignments/{id}/accept",
        rng.uniform(10, 60, size=trials * 9),
        status=409,
        error_code="ASSIGNMENT_TAKEN",
    )
    run.add_pool(active=8)
    for _ in range(5):
        run.add_pg_lock_wait(15.0)
    run.set_pg_stat(rollbacks=trials * 9)
    return run


def clean_reconcile(ran_at: float = T0) -> ReconcileDoc:
    """A reconcile.json that finds nothing wrong."""
    return {
        "ran_at": ran_at,
        "acknowledged": {"checked": 400, "missing": 0, "examples": []},
        "indeterminate": {
            "total": 6,
            "once": 2,
            "not_at_all": 4,
            "more_than_once": 0,
            "unknown": 0,
            "examples": [],
        },
        "idempotent_retries": {"keys": 5, "duplicate_effects": 0, "examples": []},
    }


def healthy_chaos(
    kind: str = "db_restart",
    *,
    start_s: float = 300.0,
    duration_s: float = 20.0,
    recover_after_s: float | None = 0.5,
    seed: int = 1,
) -> SyntheticRun:
    """A load run with one fault that every threshold holds on: fast 503s while the database is away,
    health that says so, orders again `recover_after_s` after the fault's end (None: never again).

    Like the real service, /health/db and /ready still say 200 in the fault's first half second
    (the shutdown takes a moment) and again in its last half second (the database is back before
    the fault's end is logged): the grace at both ends must absorb that.
    """
    rng = np.random.default_rng(seed)
    run = SyntheticRun(kind="load", seed=seed)
    steady = run.window("steady")
    start, end = run.t0 + start_s, run.t0 + start_s + duration_s
    run.add_fault(kind, start, end)
    back = None if recover_after_s is None else end + recover_after_s
    for name in CORE:
        ok = 201 if name.startswith("POST") else 200
        run.add_requests(name, rng.uniform(20, 150, size=100), status=ok, window=(steady[0], start))
        run.add_requests(name, rng.uniform(5, 60, size=20), status=503, error_code="DATABASE_UNAVAILABLE",
                         window=(start, end))  # fmt: skip
        if back is None or back - end >= 1.0:  # the service still failing after the fault's end
            run.add_requests(name, rng.uniform(5, 60, size=10), status=503, error_code="DATABASE_UNAVAILABLE",
                             window=(end, back or steady[1]))  # fmt: skip
        if back is not None:
            run.add_requests(name, rng.uniform(20, 150, size=100), status=ok, window=(back, steady[1]))
        run.add_requests(name, rng.uniform(20, 400, size=20), phase="warmup")
    for _ in range(40):
        run.add_event("lock_wait", t=steady[0] + 10, duration=float(rng.uniform(1, 10)), resource="wallet")
    run.add_pool(active=5)
    run.add_pool(active=4, phase="warmup")
    for endpoint in ("live", "ready", "db"):
        run.add_health(endpoint, 200, 3.0, (run.t0, run.end))
    for endpoint in ("ready", "db"):
        run.set_health(endpoint, 503, 4.0, (start + 0.5, end - 0.5))
    run.reconcile = clean_reconcile(run.end + 1)
    return run
