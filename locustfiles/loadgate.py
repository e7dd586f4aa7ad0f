"""The loadgate locustfile: `locust -f locustfiles/loadgate.py` (what the harness runs).

Environment:
    LOADGATE_PLAN      plan.json (docs/contracts.md); required (`harness serve` writes one for
                       the web UI: steady_50 at speed-up 1; every run folder has one)
    LOADGATE_FIXTURES  fixtures file; unset: .pgdata/fixtures.json (what `make serve` seeds)
                       (the target profile is plan.json's `profile.module`, default API.md's:
                       a dotted module importable here, or a .py file at the same path)
    LOADGATE_RUN_DIR   where the master (or local runner) writes requests.csv and races.jsonl;
                       unset: runs/manual-<UTC stamp>/

One `LoadgateDriver` user runs per worker process: the open-model arrival loop for load and
capacity plans, or a race participant (worker 0 also coordinates) for race plans. Roles (buyer,
seller, agent, admin) are the seeded users the flows act as, not Locust user classes: in an open
model the number of concurrent users is an outcome, not an input.
"""

from __future__ import annotations

from locust import User, events, task
from locust.env import Environment

import logging
import sys
import time
from pathlib import Path
from typing import Any

# `locust -f` imports this file by path; make the package importable from a plain checkout too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from locustfiles.common.actors import Cast, load_cast
from locustfiles.common.driver import run_load
from locustfiles.common.plan import load_plan
from locustfiles.common.profile import plan_profile
from locustfiles.common.races import RaceCollector, RaceParticipants, coordinate
from locustfiles.common.runtime import Runtime, run_dir_from_env
from locustfiles.common.shape import PlanShape
from locustfiles.common.step_watch import StepWatch

log = logging.getLogger("loadgate")

PLAN = load_plan()
# Resolved once: every flow and race step of this process reads it (docs/profiles.md).
PROFILE = plan_profile(PLAN.profile, PLAN.profile_doc.get("source") if PLAN.profile_doc else None)
RUNTIME = Runtime(PLAN, run_dir_from_env())
_state: dict[str, Any] = {}


def _cast() -> Cast:
    if "cast" not in _state:
        _state["cast"] = load_cast(PROFILE)
    cast: Cast = _state["cast"]
    return cast


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    RUNTIME.register(environment)
    runner = environment.runner
    _watch_capacity(runner)
    if PLAN.race is None or runner is None:
        return
    from locust.runners import WorkerRunner

    if not isinstance(runner, WorkerRunner):
        collector = RaceCollector(PLAN.race, RUNTIME.run_dir, PLAN.request_timeout_s + 5.0)
        collector.register(environment)
        _state["collector"] = collector
    from locust.runners import MasterRunner

    if not isinstance(runner, MasterRunner):
        participants = RaceParticipants(RUNTIME, PLAN.race, _cast(), environment.host or "", PROFILE)
        participants.register(environment)
        _state["participants"] = participants


def _watch_capacity(runner: Any) -> None:
    """A capacity ramp stops at its first broken step (where the samples land: master or local)."""
    from locust.runners import WorkerRunner

    if PLAN.kind != "capacity" or runner is None or isinstance(runner, WorkerRunner):
        return
    from locust.runners import MasterRunner

    # Workers report their samples every few seconds; a local runner writes them at once.
    grace = 5.0 if isinstance(runner, MasterRunner) else 1.5
    watch = StepWatch(PLAN, grace_s=grace)
    RUNTIME.writer.on_rows = watch.add
    _state["watch"] = watch


def _finished() -> bool:
    watch: StepWatch | None = _state.get("watch")
    if watch is not None and RUNTIME.t0 is not None and RUNTIME.stop_reason is None:
        broken = watch.broken(time.time() - RUNTIME.t0)
        if broken is not None:
            log.warning("loadgate: capacity step broke (%s); the steps above it are not run", broken)
            RUNTIME.request_stop(broken)
    if RUNTIME.stop_reason is not None:
        return True
    if PLAN.race is not None:
        collector: RaceCollector | None = _state.get("collector")
        return collector is not None and collector.complete() and 0 in RUNTIME.done_workers
    return RUNTIME.all_done()


class LoadgateDriver(User):
    """The one driver per worker process (see the module docstring)."""

    def wait_time(self) -> float:
        return 1.0

    @task
    def drive(self) -> None:
        # A second driver on the same process (never planned) must not double the load.
        if RUNTIME.driving:
            return
        RUNTIME.driving = True
        try:
            if PLAN.race is None:
                run_load(RUNTIME, self.environment, self.host or "", _cast(), PROFILE)
            elif RUNTIME.worker_index == 0:
                participants: RaceParticipants = _state["participants"]
                participants.host = self.host or participants.host
                coordinate(RUNTIME, participants, PLAN.race)
            else:
                RUNTIME.wait_started()
                return  # passive: fires on the coordinator's messages; stays "driving" until stopped
            RUNTIME.report_done()
        except Exception:
            log.exception("loadgate: driver failed")
            RUNTIME.report_done()


class LoadgateShape(PlanShape):
    plan = PLAN
    user_class = LoadgateDriver
    finished = staticmethod(_finished)
