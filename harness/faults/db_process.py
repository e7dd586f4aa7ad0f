"""Faults on the PostgreSQL server process itself: `db_restart`, `db_crash`, `db_pause`.

They need the postmaster we own (the embedded backend), the container we run (the Docker
backend, see db_container.py), or a way the user gives us to act on a server someone else runs
(`--db-container`: the same container code; `--db-hooks`: their commands, see db_hooks.py). The
server comes back on the same port and data folder, so the service's URL stays valid and the
test of the fault is whether the service recovers by itself.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Mapping
from typing import Any

import psutil

from harness.db.base import DatabaseError
from harness.db.embedded import EmbeddedPostgres
from harness.faults.base import Factory, FaultContext, FaultFailed, FaultKind, Injector, no_unknown
from harness.faults.db_container import ContainerCrash, ContainerPause, ContainerRestart
from harness.faults.db_hooks import HookCrash, HookPause, HookRestart
from harness.faults.keeper import on_keeper

EXIT_TIMEOUT_S = 15.0
START_TIMEOUT_S = 60.0


def _pg(context: FaultContext, kind: str) -> EmbeddedPostgres:
    if context.pg is None:
        raise FaultFailed(f"{kind}: no embedded PostgreSQL in this run")
    return context.pg


def _start(pg: EmbeddedPostgres, kind: str) -> str:
    """Start the server again from the keeper thread (see keeper.py for why not from ours)."""
    try:
        on_keeper(pg.start, timeout_s=START_TIMEOUT_S)
    except (DatabaseError, TimeoutError) as exc:
        raise FaultFailed(f"{kind}: PostgreSQL did not start again: {exc}") from exc
    return f"PostgreSQL running again (pid {pg.pid}, port {pg.port})"


def _running_pid(pg: EmbeddedPostgres, kind: str) -> int:
    pid = pg.pid
    if pid is None:
        raise FaultFailed(f"{kind}: PostgreSQL is not running")
    return pid


class _ServerDown:
    """A fault that ends the server at apply (each its own way) and starts it again at revert."""

    kind: str

    def __init__(self, params: Mapping[str, Any], context: FaultContext) -> None:
        self.pg = _pg(context, self.kind)

    def revert(self) -> str:
        return _start(self.pg, self.kind)


class DbRestart(_ServerDown):
    """Fast shutdown (SIGINT: sessions rolled back, clean checkpoint) now, start at revert."""

    kind = "db_restart"

    def apply(self) -> str:
        pid = _running_pid(self.pg, self.kind)
        code = self.pg.stop("fast")
        return f"fast shutdown of postmaster {pid} (exit {code})"


class DbCrash(_ServerDown):
    """SIGKILL the postmaster (its backends follow it); start at revert runs crash recovery."""

    kind = "db_crash"

    def apply(self) -> str:
        pid = _running_pid(self.pg, self.kind)
        self.pg.signal(signal.SIGKILL)
        code = self.pg.wait_exit(EXIT_TIMEOUT_S)
        if code is None:
            raise FaultFailed(f"{self.kind}: postmaster {pid} still alive {EXIT_TIMEOUT_S:g}s after SIGKILL")
        return f"SIGKILL postmaster {pid} (exit {code})"


class DbPause:
    """SIGSTOP the postmaster and every backend: connections hang, none fail.

    Signalling the postmaster's process group is not enough: each PostgreSQL backend calls
    setsid() and lives in a group of its own, so open connections would keep answering. So the
    postmaster is stopped first (it can then fork no new backend) and then each of its
    descendants; revert resumes them in the reverse order.
    """

    kind = "db_pause"

    def __init__(self, params: Mapping[str, Any], context: FaultContext) -> None:
        self.pg = _pg(context, self.kind)
        self.stopped: list[psutil.Process] = []

    def apply(self) -> str:
        pid = _running_pid(self.pg, self.kind)
        try:
            postmaster = psutil.Process(pid)
            postmaster.send_signal(signal.SIGSTOP)
            self.stopped.append(postmaster)
            for child in postmaster.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):  # a backend that just exited
                    child.send_signal(signal.SIGSTOP)
                    self.stopped.append(child)
        except (psutil.Error, OSError) as exc:
            raise FaultFailed(f"{self.kind}: could not stop postmaster {pid}: {exc}") from exc
        return f"SIGSTOP postmaster {pid} and {len(self.stopped) - 1} backends"

    def revert(self) -> str:
        # Always sent, even after a failed apply: a server left stopped would hang the whole run.
        resumed, errors = 0, []
        for proc in reversed(self.stopped):
            try:
                proc.send_signal(signal.SIGCONT)
                resumed += 1
            except psutil.NoSuchProcess:
                pass
            except (psutil.Error, OSError) as exc:
                errors.append(f"{proc.pid}: {exc}")
        self.stopped.clear()
        if errors:
            raise FaultFailed(f"{self.kind}: could not resume {', '.join(errors)}")
        return f"SIGCONT {resumed} processes"


def _no_params(params: Mapping[str, Any], where: str) -> None:
    no_unknown(params, set(), where)


def _by_backend(on_process: Factory, on_container: Factory, on_hooks: Factory) -> Factory:
    """The container's injector (Docker backend or --db-container), the hooks' (--db-hooks), or
    the processes' one (embedded)."""

    def make(params: Mapping[str, Any], context: FaultContext) -> Injector:
        if context.container is not None:
            return on_container(params, context)
        if context.hooks is not None:
            return on_hooks(params, context)
        return on_process(params, context)

    return make


_NEEDS = "a PostgreSQL the harness runs (embedded: its postmaster; docker: its container)"
_OURS = ("embedded", "docker")
KINDS = [
    FaultKind(
        "db_restart",
        _no_params,
        _OURS,
        _NEEDS,
        _by_backend(DbRestart, ContainerRestart, HookRestart),
        hooks=("stop", "start"),
    ),
    FaultKind(
        "db_crash",
        _no_params,
        _OURS,
        _NEEDS,
        _by_backend(DbCrash, ContainerCrash, HookCrash),
        hooks=("kill", "start"),
    ),
    FaultKind(
        "db_pause",
        _no_params,
        _OURS,
        _NEEDS,
        _by_backend(DbPause, ContainerPause, HookPause),
        hooks=("pause", "resume"),
    ),
]
