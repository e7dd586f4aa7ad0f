"""Runs one scenario end to end and leaves its evidence in a run folder.

Order of life: validate (before anything starts) -> run folder -> database + service + seed ->
pool, health and CPU samplers -> Locust -> probes -> reconciliation. Whatever happens (success, a
crash of Locust or the service, Ctrl-C, a timeout), everything started is stopped in reverse order
at the end, each exit is recorded in `run.json`, and `status` says whether the evidence is complete.
"""

from __future__ import annotations

import json
import signal
import ssl
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from harness.cpu_sampler import CpuSampler, Groups
from harness.db.backends import Backend
from harness.db.container import DockerBackend
from harness.db_control import DbControl
from harness.errors import HarnessError, RunFailed
from harness.faults import FaultContext, FaultScheduler, needs_proxy
from harness.health_sampler import HealthSampler
from harness.locust_runner import LocustProcesses
from harness.log_tail import LogTail
from harness.pg_evidence import PgEvidence
from harness.pool_sampler import PoolSampler
from harness.probes import ProbeSet, run_probes
from harness.progress import Progress
from harness.reconcile_http import reconcile_stack
from harness.run_folder import RunRecord, iso, machine, versions
from harness.stack import Stack, external_stack, start_service_stack
from harness.target import Tls
from loadgate_contract.files import PLAN_JSON, PROBES_JSON, SCENARIO_TOML
from loadgate_contract.plan import PhaseDoc, PlanDoc
from loadgate_contract.records import PhaseEntry, ProcessEntry, RunStatus

# Past the plan's duration, how long Locust may take to stop before the harness stops it.
OVERRUN_S = 45.0


@dataclass
class RunOptions:
    """How to run, as opposed to what to run (the scenario)."""

    speedup: float | None = None
    workers: int = 0
    target: str | None = None
    fixtures: Path | None = None
    database_url: str | None = None
    safeguards_off: tuple[str, ...] = ()
    master_bind_host: str = "127.0.0.1"
    master_port: int | None = None
    expect_remote_workers: int = 0
    service_env: dict[str, str] = field(default_factory=dict)
    service_log: Path | None = None  # with `target`: the target service's log, copied as it grows
    toxiproxy_url: str | None = None  # db_latency's proxy on this Toxiproxy (else loadgate's own)
    probes: Path | None = None  # --probes DIR: the team's own invariant probes (docs/probes.md)
    probes_off: tuple[str, ...] = ()  # --probes-off NAME,...
    probe_set: ProbeSet = field(default_factory=ProbeSet)  # this scenario's, resolved by orchestrate
    users: Path | None = None  # with `target`: a users file, logged in into the run's fixtures.json
    tls: Tls = field(default_factory=Tls)  # how the target's certificate is checked (https only)
    db_container: str | None = None  # a user's PostgreSQL container for the database faults
    db_hooks: Path | None = None  # or a hooks file with their commands (faults/db_hooks.py)
    profile: str | None = None  # --profile: the target profile, over the scenario's (docs/profiles.md)


@dataclass
class Outcome:
    run_dir: Path
    status: RunStatus
    errors: list[str]


def _phases_epoch(plan: PlanDoc, t0: float) -> list[PhaseEntry]:
    return [
        {"name": p["name"], "start": t0 + p["start_s"], "end": t0 + p["start_s"] + p["duration_s"]}
        for p in plan["phases"]
    ]


def _highest(
    phases: list[PhaseDoc], key: Literal["rates_per_hour", "nominal_rates_per_hour"]
) -> dict[str, float]:
    """Each flow's highest rate over the phases: a scenario's headline rate (per phase: `phase_rates`)."""
    rates: dict[str, float] = {}
    for phase in phases:
        for flow, rate in phase[key].items():
            rates[flow] = max(rates.get(flow, 0.0), float(rate))
    return rates


def _initial_record(run_dir: Path, plan: PlanDoc, options: RunOptions) -> RunRecord:
    phases = plan["phases"]
    nominal = _highest(phases, "nominal_rates_per_hour")
    effective = _highest(phases, "rates_per_hour")
    record = RunRecord(
        run_dir,
        {
            "id": run_dir.name,
            "scenario": plan["scenario"],
            "kind": plan["kind"],
            "status": RunStatus.STARTING,
            "started_at": iso(time.time()),
            "ended_at": None,
            "speedup": plan["speedup"],
            "duration_s": plan["duration_s"],
            "nominal_rates_per_hour": nominal,
            "effective_rates_per_hour": effective,
            "phase_rates": [
                {
                    "name": p["name"],
                    "nominal": p["nominal_rates_per_hour"],
                    "effective": p["rates_per_hour"],
                }
                for p in phases
            ],
            "phases": [],
            "target": options.target,
            "target_tls_verify": options.tls.verify,
            "target_ca_bundle": str(options.tls.ca_bundle) if options.tls.ca_bundle else None,
            "database": None,
            "safeguards_off": list(options.safeguards_off),
            "race_window_ms": float(options.service_env.get("RACE_WINDOW_MS", 0)),
            "defects": [d for d in options.service_env.get("DEFECTS", "").split(",") if d],
            "workers": options.workers,
            "probes": options.probe_set.describe(),
            "versions": versions(),
            "machine": machine(),
            "processes": [],
            "errors": [],
        },
    )
    record.save()
    return record


def _drive(
    locust: LocustProcesses, stack: Stack, progress: Progress, deadline: float, faults: FaultScheduler | None
) -> str | None:
    """Wait for Locust to finish; return why the run ended early, or None if it ran to its end."""
    while locust.running():
        active = faults.active() if faults is not None else []
        progress.faults = active
        crashing_on_purpose = any(kind.startswith("service_crash") for kind in active)
        if stack.service is not None and stack.service.returncode is not None and not crashing_on_purpose:
            return f"the service exited with code {stack.service.returncode} during the run"
        if time.monotonic() > deadline:
            return "Locust did not finish within the plan's duration plus its allowance"
        progress.tick()
        time.sleep(1.0)
    assert locust.master is not None
    code = locust.master.returncode
    if code not in (0, None):
        return f"Locust exited with code {code} (see locust.log)"
    return None


def _process_groups(stack: Stack, backend: Backend | None, locust: LocustProcesses) -> Groups:
    """The root pids `cpu.csv` follows: service, each Locust process, the postmaster (when local)."""
    groups: dict[str, list[int]] = {}
    if stack.service is not None and stack.service.pid is not None:
        groups["service"] = [stack.service.pid]
    for name, pid in locust.pids():
        groups[name] = [pid]
    postmaster = backend.postmaster_pid() if backend is not None else None
    if postmaster is not None:
        groups["postgres"] = [postmaster]
    return groups


def _write_probes(run_dir: Path, stack: Stack, record: RunRecord, probes: ProbeSet) -> None:
    if stack.database_url is None:
        return
    try:
        result = run_probes(stack.database_url, probes=probes)
    except Exception as exc:
        record.add_error(f"invariant probes could not run: {exc}")
        return
    (run_dir / PROBES_JSON).write_text(json.dumps(result, indent=2, default=str) + "\n")


def _users_fixtures(
    target: str, users: Path, run_dir: Path, record: RunRecord, tls: Tls, profile: str | None = None
) -> Path:
    """The run folder's fixtures.json, from logging every user of `users` in to `target` through
    the run's target profile (plan.json `profile.module`)."""
    from harness.fixtures_build import write_fixtures
    from harness.users_file import load_users
    from locustfiles.common.profile import load_profile

    out = run_dir / "fixtures.json"
    warnings = write_fixtures(
        target, load_users(users), out, verify=tls.httpx_verify(), profile=load_profile(profile)
    )
    record.update(users_file=str(users), users_warnings=warnings)
    return out


def _write_reconcile(
    run_dir: Path, stack: Stack, record: RunRecord, verify: bool | ssl.SSLContext = True
) -> None:
    """`reconcile.json`; a reconciliation that cannot run is a run error, never a silent gap."""
    try:
        reconcile_stack(run_dir, stack, verify=verify)
    except Exception as exc:
        record.add_error(f"reconciliation could not run: {type(exc).__name__}: {exc}")


class _Component(Protocol):
    def start(self) -> None: ...
    def stop(self) -> object: ...


class _Teardown(ExitStack):
    """Each component's stop, registered as it starts, run in reverse order at the end; a failing step
    is recorded in run.json and the others still run. SIGINT waits until they end (a second Ctrl-C
    would leave processes behind)."""

    def __init__(self, record: RunRecord) -> None:
        super().__init__()
        self.record = record

    def attempt(self, what: str, step: Callable[[], object]) -> None:
        try:
            step()
        except Exception as exc:
            self.record.add_error(f"while stopping, {what} failed: {type(exc).__name__}: {exc}")

    def add(self, what: str, step: Callable[[], object]) -> None:
        self.callback(self.attempt, what, step)

    def start(self, what: str, component: _Component) -> None:
        """Start `component`, its stop registered first (a failed start may leave a part running)."""
        self.add(f"stopping the {what}", component.stop)
        component.start()

    def __exit__(self, *exc_info: Any) -> bool | None:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return super().__exit__(*exc_info)
        finally:
            signal.signal(signal.SIGINT, previous)


def run_plan(
    plan: PlanDoc,
    scenario_text: str,
    run_dir: Path,
    options: RunOptions,
    *,
    backend: Backend | None,
    out: TextIO,
    db_control: DbControl | None = None,
) -> Outcome:
    """Run a resolved plan into `run_dir`. Raises only for KeyboardInterrupt; failures are recorded."""
    (run_dir / SCENARIO_TOML).write_text(scenario_text)
    plan = {**plan, "tls": options.tls.to_plan()}  # how the Locust users check the certificate
    (run_dir / PLAN_JSON).write_text(json.dumps(plan, indent=2) + "\n")
    record = _initial_record(run_dir, plan, options)
    verify, probes = options.tls.httpx_verify(), options.probe_set
    scheduler: FaultScheduler | None = None
    status, errors = RunStatus.FAILED, []
    exits: list[ProcessEntry] = []  # each stopped process's exit, for run.json `processes`
    teardown = _Teardown(record)
    # Registered first, so it runs last: the exits, and the status the run ended with.
    teardown.callback(lambda: record.update(processes=exits, status=status, ended_at=iso(time.time())))
    try:
        if options.target:
            fixtures = options.fixtures
            if options.users is not None:
                profile = plan.get("profile")
                module = profile["module"] if profile else None
                fixtures = _users_fixtures(
                    options.target, options.users, run_dir, record, options.tls, module
                )
            stack = external_stack(options.target, fixtures, options.database_url)
        else:
            assert backend is not None
            stack = start_service_stack(
                backend,
                run_dir,
                safeguards_off=options.safeguards_off,
                service_env=options.service_env,
                with_proxy=needs_proxy(plan["faults"]),
                toxiproxy_url=options.toxiproxy_url,
            )
        teardown.add("stopping the service", lambda: exits.extend(stack.stop_service()))

        def check() -> None:  # after the load and the samplers stop, while the service still runs
            if status == RunStatus.FAILED and not stack.database_url:
                return
            teardown.attempt("the invariant probes", lambda: _write_probes(run_dir, stack, record, probes))
            teardown.attempt("the reconciliation", lambda: _write_reconcile(run_dir, stack, record, verify))

        teardown.callback(check)
        record.data["versions"]["postgresql"] = stack.info.get("postgresql")
        record.update(target=stack.base_url, database=stack.info.get("database"), status=RunStatus.RUNNING)
        if stack.proxy is not None:
            record.update(fault_proxy=stack.info["fault_proxy"])
        if db_control is not None:
            record.update(db_control=db_control.describe())
        if stack.service is not None:
            record.add_process({"name": "service", "pid": stack.service.pid})
        if options.service_log is not None:
            teardown.start("service-log sampler", LogTail(options.service_log, run_dir / "service.jsonl"))
            record.update(service_log=str(options.service_log))
        pg = PgEvidence(run_dir, stack.database_url, stack.backend, note=record.add_error)
        teardown.start("PostgreSQL sampler", pg)
        teardown.start("pool sampler", PoolSampler(stack.base_url, run_dir / "pool.csv", verify=verify))
        teardown.start("health sampler", HealthSampler(stack.base_url, run_dir / "health.csv", verify=verify))
        locust = LocustProcesses(
            host=stack.base_url,
            run_dir=run_dir,
            plan_path=run_dir / PLAN_JSON,
            fixtures_path=stack.fixtures_path,
            workers=options.workers,
            master_bind_host=options.master_bind_host,
            expect_remote_workers=options.expect_remote_workers,
        )
        if options.master_port:
            locust.master_port = options.master_port
        # Registered before Locust (started after it, once it has pids): it also sees Locust stop.
        cpu = CpuSampler(lambda: _process_groups(stack, backend, locust), run_dir / "cpu.csv")
        teardown.add("stopping the CPU sampler", cpu.stop)
        teardown.add("stopping Locust", lambda: exits.extend(locust.stop()))
        t0 = time.time()
        locust.start()
        for name, pid in locust.pids():
            record.add_process({"name": name, "pid": pid})
        cpu.start()
        record.update(phases=_phases_epoch(plan, t0), load_started_at=iso(t0))
        if plan["faults"]:
            hooks = db_control.hooks if db_control is not None else None
            context = FaultContext(
                pg=getattr(backend, "pg", None),
                container=backend
                if isinstance(backend, DockerBackend)
                else (db_control.container if db_control is not None else None),
                service=stack.service,
                database_url=stack.database_url or "",
                db_proxy=stack.proxy,
                hooks=hooks.logging_to(run_dir / "db_hooks.log", stack.database_url) if hooks else None,
            )
            scheduler = faults = FaultScheduler(plan["faults"], context, run_dir / "faults.jsonl", t0=t0)

            def revert() -> None:  # first of all: it resumes a paused database, restarts a crashed one
                teardown.attempt("reverting faults", faults.stop)
                for error in faults.errors:
                    record.add_error(f"fault: {error}")

            teardown.callback(revert)
            faults.start()
        progress = Progress(
            run_dir,
            plan["duration_s"],
            [(p["name"], p["start_s"], p["duration_s"]) for p in plan["phases"]],
            out=out,
            target=stack.base_url,
        )
        deadline = time.monotonic() + plan["duration_s"] + OVERRUN_S
        why = _drive(locust, stack, progress, deadline, scheduler)
        progress.final()
        if why:
            errors.append(why)
            record.add_error(why)
        status = RunStatus.INCOMPLETE if why else RunStatus.COMPLETE
    except KeyboardInterrupt:
        errors.append("interrupted (Ctrl-C or SIGTERM)")
        record.add_error(errors[-1])
        status = RunStatus.INCOMPLETE
        raise
    except HarnessError as exc:
        errors.append(str(exc))
        record.add_error(str(exc))
        status = RunStatus.FAILED
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
        record.add_error(errors[-1])
        status = RunStatus.FAILED
        raise RunFailed(errors[-1]) from exc
    finally:
        teardown.close()
    return Outcome(run_dir, status, errors)
