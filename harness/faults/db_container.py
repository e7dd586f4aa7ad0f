"""`db_restart`, `db_crash` and `db_pause` on the Docker backend, through the engine's API.

The same faults as on the embedded server's processes, done the way an operator would do them
to a container: a fast shutdown is SIGINT to the postmaster (PID 1 in the container), a crash is
SIGKILL to it (the kernel then ends every backend in the container's PID namespace), and a pause
is the engine's cgroup freezer, which stops every process of the container at once and lets it
fork no new one. The container keeps its data and published port, so it comes back where the
service expects it, and the test of the fault is again whether the service recovers by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.db.container import DockerBackend
from harness.faults.base import FaultContext, FaultFailed

EXIT_TIMEOUT_S = 15.0
START_TIMEOUT_S = 60.0


def _backend(context: FaultContext, kind: str) -> DockerBackend:
    if context.container is None:
        raise FaultFailed(f"{kind}: no Docker container in this run")
    return context.container


class _ContainerDown:
    """Ends the server with `signal` at apply, starts the container again at revert."""

    kind: str
    signal: str

    def __init__(self, params: Mapping[str, Any], context: FaultContext) -> None:
        self.db = _backend(context, self.kind)

    def apply(self) -> str:
        if self.db.status() != "running":
            raise FaultFailed(f"{self.kind}: container {self.db.container_id} is {self.db.status()}")
        try:
            self.db.kill(self.signal)
        except Exception as exc:
            raise FaultFailed(f"{self.kind}: the engine refused {self.signal}: {exc}") from exc
        code = self.db.wait_exit(EXIT_TIMEOUT_S)
        if code is None:
            raise FaultFailed(f"{self.kind}: container still running {EXIT_TIMEOUT_S:g}s after {self.signal}")
        return f"{self.signal} to container {self.db.container_id:.12} (exit {code})"

    def revert(self) -> str:
        try:
            self.db.start_again(START_TIMEOUT_S)
        except Exception as exc:
            raise FaultFailed(f"{self.kind}: the container did not start again: {exc}") from exc
        return f"container {self.db.container_id:.12} running again (port {self.db.port})"


class ContainerRestart(_ContainerDown):
    """Fast shutdown (sessions rolled back, clean checkpoint), as `docker stop` with STOPSIGNAL SIGINT."""

    kind = "db_restart"
    signal = "SIGINT"


class ContainerCrash(_ContainerDown):
    """`docker kill`: SIGKILL to the postmaster; the start at revert runs crash recovery."""

    kind = "db_crash"
    signal = "SIGKILL"


class ContainerPause:
    """`docker pause`: the cgroup freezer stops the postmaster and every backend at once."""

    kind = "db_pause"

    def __init__(self, params: Mapping[str, Any], context: FaultContext) -> None:
        self.db = _backend(context, self.kind)

    def apply(self) -> str:
        try:
            self.db.pause()
        except Exception as exc:
            raise FaultFailed(f"{self.kind}: the engine could not pause the container: {exc}") from exc
        return f"docker pause {self.db.container_id:.12}"

    def revert(self) -> str:
        # Always tried, even after a failed apply: a container left frozen would hang the run.
        status = self.db.status()
        if status != "paused":
            return f"container {status}: nothing to unpause"
        try:
            self.db.unpause()
        except Exception as exc:
            raise FaultFailed(f"{self.kind}: the engine could not unpause the container: {exc}") from exc
        return f"docker unpause {self.db.container_id:.12}"
