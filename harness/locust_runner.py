"""Locust as the harness runs it: one local runner, or Locust's own master with N local workers.

Locust's distributed mode is the way to more cores; nothing here replaces it. The harness only
starts the processes with the plan, fixtures and run folder in their environment, and owns them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.db.base import free_port
from harness.processes import spawn, stop
from loadgate_contract.files import ENV_FIXTURES, ENV_PLAN, ENV_RUN_DIR
from loadgate_contract.records import ProcessEntry

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfiles" / "loadgate.py"


def locust_executable() -> str:
    beside = Path(sys.executable).with_name("locust")
    return str(beside) if beside.exists() else (shutil.which("locust") or "locust")


@dataclass
class LocustProcesses:
    """The Locust processes of one scenario run."""

    host: str
    run_dir: Path
    plan_path: Path
    fixtures_path: Path
    workers: int = 0
    master_bind_host: str = "127.0.0.1"
    master_port: int = field(default_factory=free_port)
    expect_remote_workers: int = 0
    stop_timeout_s: int = 5
    master: subprocess.Popen[bytes] | None = None
    worker_procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _env(self) -> dict[str, str]:
        # Locust's own switch for a process that imports it without running it (tests do): a
        # Locust process that inherits it runs unpatched and its workers never reach the master.
        env = {k: v for k, v in os.environ.items() if k != "LOCUST_SKIP_MONKEY_PATCH"}
        env[ENV_PLAN] = str(self.plan_path.resolve())
        env[ENV_FIXTURES] = str(self.fixtures_path.resolve())
        env[ENV_RUN_DIR] = str(self.run_dir.resolve())
        env.update(
            LOADGATE_WORKERS=str(max(self.workers + self.expect_remote_workers, 1)),
            PYTHONUNBUFFERED="1",
        )
        return env

    @property
    def distributed(self) -> bool:
        return self.workers > 0 or self.expect_remote_workers > 0

    def master_args(self) -> list[str]:
        args = [
            locust_executable(),
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            self.host,
            "--exit-code-on-error",
            "0",
            "--stop-timeout",
            str(self.stop_timeout_s),
            "--loglevel",
            "INFO",
            "--only-summary",
        ]
        if self.distributed:
            args += [
                "--master",
                "--master-bind-host",
                self.master_bind_host,
                "--master-bind-port",
                str(self.master_port),
                "--expect-workers",
                str(self.workers + self.expect_remote_workers),
            ]
        return args

    def worker_args(self) -> list[str]:
        return [
            locust_executable(),
            "-f",
            str(LOCUSTFILE),
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(self.master_port),
            "--loglevel",
            "INFO",
        ]

    def start(self) -> None:
        env = self._env()
        log = self.run_dir / "locust.log"
        self.master = spawn(self.master_args(), log_path=log, env=env)
        for _ in range(self.workers):
            self.worker_procs.append(spawn(self.worker_args(), log_path=log, env=env))

    def running(self) -> bool:
        return self.master is not None and self.master.poll() is None

    def pids(self) -> list[tuple[str, int]]:
        named = [("locust-master" if self.distributed else "locust", self.master)] if self.master else []
        named += [(f"locust-worker-{i}", p) for i, p in enumerate(self.worker_procs)]
        return [(name, proc.pid) for name, proc in named if proc is not None]

    def stop(self) -> list[ProcessEntry]:
        """Stop the master (it tells workers to quit), then any worker still there; report exits."""
        exits: list[ProcessEntry] = []
        if self.master is not None:
            by = "exited" if self.master.poll() is not None else "harness"
            code = stop(self.master, grace_s=self.stop_timeout_s + 10)
            exits.append(
                {"name": self.pids()[0][0], "pid": self.master.pid, "exit_code": code, "stopped_by": by}
            )
        for i, proc in enumerate(self.worker_procs):
            by = "exited" if proc.poll() is not None else "harness"
            code = stop(proc, grace_s=10)
            exits.append({"name": f"locust-worker-{i}", "pid": proc.pid, "exit_code": code, "stopped_by": by})
        return exits
