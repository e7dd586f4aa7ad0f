"""`db_latency`: switch a toxic on in the run's fault proxy for the fault's duration.

Params (at least one): `latency_ms`, `jitter_ms`, `bandwidth_kbps`, `reset_peer` (true),
`timeout_ms` (0: drop data until reverted; > 0: also close each connection after that long).

A run's proxy is driven through Toxiproxy's API (`DbProxy`: ours, or a real Toxiproxy with
`--toxiproxy URL`): the params become Toxiproxy toxics (`toxics.toxics_for`), added at apply and
removed at revert. A bare `FaultProxy` in the context (library use) gets the Toxic directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.errors import InvalidInput
from harness.faults.base import FaultContext, FaultFailed, FaultKind, no_unknown, number
from harness.faults.proxy import FaultProxy, Toxic
from harness.faults.toxics import toxics_for

if TYPE_CHECKING:
    from harness.faults.db_proxy import DbProxy

PARAMS = {"latency_ms", "jitter_ms", "bandwidth_kbps", "reset_peer", "timeout_ms"}


def check_params(params: Mapping[str, Any], where: str) -> None:
    """Known params, right types, and at least one toxic (a toxic-less fault would be a no-op)."""
    no_unknown(params, PARAMS, where)
    for key in ("latency_ms", "jitter_ms", "timeout_ms"):
        number(params, key, where, minimum=0.0)
    bandwidth = number(params, "bandwidth_kbps", where, minimum=0.0)
    if bandwidth == 0.0:
        raise InvalidInput(f"{where}.bandwidth_kbps: must be > 0 (omit it for unlimited)")
    if "reset_peer" in params and not isinstance(params["reset_peer"], bool):
        raise InvalidInput(f"{where}.reset_peer: must be true or false, got {params['reset_peer']!r}")
    if not toxic_of(params).active:
        raise InvalidInput(
            f"{where}.params: db_latency needs a toxic: latency_ms, jitter_ms, bandwidth_kbps, "
            "reset_peer = true or timeout_ms"
        )


def toxic_of(params: Mapping[str, Any]) -> Toxic:
    """The Toxic a checked params table describes."""
    timeout = params.get("timeout_ms")
    return Toxic(
        latency_ms=float(params.get("latency_ms", 0.0)),
        jitter_ms=float(params.get("jitter_ms", 0.0)),
        bandwidth_kbps=float(params.get("bandwidth_kbps", 0.0)),
        reset_peer=bool(params.get("reset_peer", False)),
        timeout_ms=None if timeout is None else float(timeout),
    )


class DbLatency:
    """The proxy's toxic on at apply, cleared at revert."""

    kind = "db_latency"

    def __init__(self, params: Mapping[str, Any], context: FaultContext) -> None:
        self.toxic = toxic_of(params)
        self.db_proxy: DbProxy | None = context.db_proxy
        self.proxy: FaultProxy | None = context.proxy
        if self.db_proxy is None and self.proxy is None:
            raise FaultFailed("db_latency: the run has no fault proxy in front of PostgreSQL")
        self.specs = toxics_for(self.toxic)

    def apply(self) -> str:
        if self.db_proxy is not None:
            self.db_proxy.add(self.specs)
            toxics = ", ".join(f"{s.name} {dict(s.attributes)}" for s in self.specs)
            return f"toxics {toxics} on {self.db_proxy.label()}"
        assert self.proxy is not None
        if self.proxy.port is None:
            raise FaultFailed("db_latency: the fault proxy is not running")
        self.proxy.set_toxic(self.toxic)
        return f"toxic on proxy :{self.proxy.port}: {self.toxic} ({self.proxy.connections} connections)"

    def revert(self) -> str:
        if self.db_proxy is not None:
            removed = self.db_proxy.remove([s.name for s in self.specs])
            return f"toxics removed ({', '.join(removed) or 'none were on'}) from {self.db_proxy.label()}"
        assert self.proxy is not None
        if self.proxy.port is None:
            return "proxy not running: nothing to clear"
        self.proxy.clear()
        return f"toxic cleared on proxy :{self.proxy.port}"


KINDS = [
    FaultKind(
        "db_latency",
        check_params,
        ("embedded", "external", "docker"),
        "a fault proxy between the service and PostgreSQL (the harness must start the service)",
        DbLatency,
    )
]
