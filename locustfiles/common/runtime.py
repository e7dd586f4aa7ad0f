"""What every Locust process of a run shares: the plan, the common start instant, who is done.

Roles follow Locust's runners. The master (or a local runner) owns the run folder, the shape and
the end of the test; workers (or the local runner) run the one driver user each. They talk only
through Locust's own messages (`runner.send_message` / `register_message`), so workers on other
machines need nothing but the master's address:

    master -> workers  loadgate_start  {t0, worker_count}: the shared wall-clock start, so every
                                        worker's arrival schedule and phase column line up
    worker -> master   loadgate_done   {worker}: its schedule ran out and its flows finished
                                        (its buffered samples were sent just before, in order)
    master -> workers  loadgate_stop   {reason}: stop starting arrivals (a capacity step broke)
"""

from __future__ import annotations

from gevent.event import Event
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

import os
import time
from pathlib import Path
from typing import Any

from locustfiles.common.plan import RunPlan
from locustfiles.common.samples import SampleWriter
from locustfiles.common.waker import Waker

START = "loadgate_start"
DONE = "loadgate_done"
STOP = "loadgate_stop"
# Lead time between the master's start and the common t0: the start message must reach every
# worker first. Loopback needs milliseconds; remote workers on a LAN well under this.
DISTRIBUTED_START_LEAD_S = 0.5


class Runtime:
    """Shared state of one Locust process."""

    def __init__(self, plan: RunPlan, run_dir: Path | None) -> None:
        self.plan = plan
        self.run_dir = run_dir
        self.writer = SampleWriter(run_dir, self.phase_of)
        self.environment: Environment | None = None
        self.t0: float | None = None
        self.worker_count = 1
        self.started = Event()
        self.done_workers: set[int] = set()
        self.expected_workers = 1
        self.waker = Waker()
        self.driving = False
        self.stop_reason: str | None = None

    # --- clock ---

    def phase_of(self, ts: float) -> str:
        """The plan phase of an epoch instant (the first phase until the start is known)."""
        return self.plan.phase_at(ts - self.t0) if self.t0 is not None else self.plan.phase_at(0.0)

    @property
    def is_worker(self) -> bool:
        return isinstance(self.environment and self.environment.runner, WorkerRunner)

    @property
    def is_master(self) -> bool:
        return isinstance(self.environment and self.environment.runner, MasterRunner)

    @property
    def worker_index(self) -> int:
        runner = self.environment.runner if self.environment else None
        return max(int(getattr(runner, "worker_index", 0)), 0)

    def register(self, environment: Environment) -> None:
        """Attach the sample writer and the start/done messages for this process's role."""
        self.environment = environment
        self.writer.register(environment)
        runner = environment.runner
        assert runner is not None
        environment.events.test_start.add_listener(self._on_test_start)
        if isinstance(runner, WorkerRunner):
            runner.register_message(START, self._on_start_message)
            runner.register_message(STOP, self._on_stop_message)
        else:
            runner.register_message(DONE, self._on_done_message)

    def _on_test_start(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            return  # the master's start message sets the clock
        self.done_workers.clear()
        if isinstance(runner, MasterRunner):
            count = max(runner.worker_count, 1)
            self._start(time.time() + DISTRIBUTED_START_LEAD_S, count)
            runner.send_message(START, {"t0": self.t0, "worker_count": count})
        else:
            self._start(time.time(), 1)

    def _on_start_message(self, environment: Environment, msg: Any, **_: Any) -> None:
        self._start(float(msg.data["t0"]), int(msg.data["worker_count"]))

    def _start(self, t0: float, worker_count: int) -> None:
        self.t0, self.worker_count, self.expected_workers = t0, worker_count, worker_count
        self.started.set()

    def wait_started(self, timeout_s: float = 30.0) -> float:
        """The common start instant; fails if the master never sent it."""
        if not self.started.wait(timeout_s) or self.t0 is None:
            raise RuntimeError("loadgate: no start message from the master")
        return self.t0

    def sleep_until(self, instant: float) -> None:
        """Sleep to a wall-clock instant (all workers share wall-clock time, not a monotonic clock)."""
        self.waker.sleep_until(instant)

    # --- early stop ---

    def request_stop(self, reason: str) -> None:
        """No more arrivals, here and (from the master) on every worker; flows in flight finish."""
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        runner = self.environment.runner if self.environment else None
        if isinstance(runner, MasterRunner):
            runner.send_message(STOP, {"reason": reason})

    def _on_stop_message(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.stop_reason = str(msg.data.get("reason") or "stopped by the master")

    # --- done ---

    def report_done(self) -> None:
        """This worker's work is over: samples first, then the done mark (same channel, in order)."""
        runner = self.environment.runner if self.environment else None
        if runner is None:
            return
        self.writer.flush_to_master()
        runner.send_message(DONE, {"worker": self.worker_index})

    def _on_done_message(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.done_workers.add(int(msg.data["worker"]))

    def all_done(self) -> bool:
        return len(self.done_workers) >= self.expected_workers


def run_dir_from_env() -> Path | None:
    """`LOADGATE_RUN_DIR`, or for a human run `runs/manual-<UTC stamp>/` (created on first write)."""
    path = os.environ.get("LOADGATE_RUN_DIR")
    if path:
        return Path(path)
    return Path("runs") / time.strftime("manual-%Y%m%dT%H%M%SZ", time.gmtime())
