"""Fault injection for chaos runs: validate a plan's faults, inject them on schedule, log them.

Usage (the runner): `validate_all(plan["faults"], "embedded")` before anything starts; a
proxy in front of PostgreSQL before the service when a `db_latency` fault is planned
(`db_proxy.open_db_proxy`: on a Toxiproxy server, or on loadgate's own behind the same API); then
`FaultScheduler(plan["faults"], FaultContext(...), run_dir / "faults.jsonl", t0).start()` when
the load starts, and `.stop()` in the run's `finally`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.faults.base import FaultContext, FaultFailed, Injector, RunSetup
from harness.faults.keeper import on_keeper
from harness.faults.proxy import FaultProxy, Toxic
from harness.faults.registry import KINDS, injector, unsupported, validate, validate_all
from harness.faults.schedule import FaultScheduler

__all__ = [
    "KINDS",
    "FaultContext",
    "FaultFailed",
    "FaultProxy",
    "FaultScheduler",
    "Injector",
    "RunSetup",
    "Toxic",
    "injector",
    "needs_proxy",
    "on_keeper",
    "unsupported",
    "validate",
    "validate_all",
]


def needs_proxy(faults: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the plan has a fault that needs the proxy in front of PostgreSQL (start it first)."""
    return any(f.get("kind") == "db_latency" for f in faults)
