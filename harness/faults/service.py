"""`service_crash`: SIGKILL the service mid-load, start it again (same port) at revert."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import RunFailed
from harness.faults.base import FaultContext, FaultFailed, FaultKind, no_unknown
from harness.faults.keeper import on_keeper
from harness.service_process import ServiceProcess

START_TIMEOUT_S = 30.0


class ServiceCrash:
    """Kill the service's process group with SIGKILL; revert starts a new process."""

    kind = "service_crash"

    def __init__(self, params: Mapping[str, Any], context: FaultContext) -> None:
        if context.service is None:
            raise FaultFailed("service_crash: the run does not own the service process")
        self.service: ServiceProcess = context.service

    def apply(self) -> str:
        pid = self.service.pid
        if pid is None or self.service.returncode is not None:
            raise FaultFailed(f"service_crash: the service is not running (pid {pid})")
        code = self.service.kill()
        return f"SIGKILL service pid {pid} (exit {code})"

    def revert(self) -> str:
        if self.service.pid is not None and self.service.returncode is None:
            return f"service already running (pid {self.service.pid})"
        try:
            # From the keeper thread: the new process must not die with the scheduler's thread.
            on_keeper(lambda: self.service.start(timeout_s=START_TIMEOUT_S), timeout_s=START_TIMEOUT_S + 10)
        except (RunFailed, TimeoutError) as exc:
            raise FaultFailed(f"service_crash: the service did not start again: {exc}") from exc
        return f"service started again (pid {self.service.pid}, {self.service.base_url})"


def check_params(params: Mapping[str, Any], where: str) -> None:
    """No params."""
    no_unknown(params, set(), where)


KINDS = [
    FaultKind(
        "service_crash",
        check_params,
        ("embedded", "external", "docker"),
        "a service process the harness started (not a --target run)",
        ServiceCrash,
    )
]
