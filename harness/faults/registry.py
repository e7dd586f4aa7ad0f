"""All fault kinds, and the checks a plan's `faults` pass before the run starts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import InvalidInput
from harness.faults import db_process, network, service, sessions
from harness.faults.base import (
    CONTEXT_KINDS,
    FaultContext,
    FaultKind,
    Injector,
    RunSetup,
    cannot_inject,
    check_common,
    params_of,
)
from loadgate_contract.records import DB_UNAVAILABLE_FAULTS

KINDS: dict[str, FaultKind] = {
    k.name: k for k in (*db_process.KINDS, *network.KINDS, *sessions.KINDS, *service.KINDS)
}

# Faults of one group act on the same thing and undo each other (a db_crash's restart would end
# a db_pause; the second db_latency's revert would clear the first's toxic): no overlap in a group.
EXCLUSIVE_GROUPS = (set(DB_UNAVAILABLE_FAULTS), {"db_latency"}, {"service_crash"})


def validate(spec: Mapping[str, Any], where: str = "fault") -> None:
    """Check one fault spec's fields and params; InvalidInput names the field (`where.key`)."""
    kind = check_common(spec, where, KINDS)
    kind.check_params(params_of(spec), f"{where}.params")


def _setup(context: str | RunSetup) -> RunSetup:
    setup = context if isinstance(context, RunSetup) else RunSetup(context)
    if setup.kind not in CONTEXT_KINDS:
        raise InvalidInput(f"context kind {setup.kind!r}: must be one of {', '.join(CONTEXT_KINDS)}")
    return setup


def unsupported(faults: Sequence[Mapping[str, Any]], context: str | RunSetup) -> str | None:
    """Why the run's setup cannot inject one of these (checked) faults, None when it can inject all."""
    setup = _setup(context)
    for index, spec in enumerate(faults):
        reason = cannot_inject(KINDS[spec["kind"]], setup)
        if reason is not None:
            return f"faults[{index}].kind: {reason}"
    return None


def validate_all(
    faults: Sequence[Mapping[str, Any]],
    context: str | RunSetup,
    *,
    duration_s: float | None = None,
    check_context: bool = True,
) -> None:
    """Check every fault of a plan, that the run's context can inject it, and that none overlap.

    `context` is the database/service setup: "embedded", "external", "docker" or "target", or a
    `RunSetup` that also says what --db-container / --db-hooks give back. `check_context=False`
    leaves that question to `unsupported` (a suite skips such a member instead of refusing).
    With `duration_s` (the plan's effective length) a fault must also end within the run.
    """
    setup = _setup(context)
    windows: list[tuple[str, float, float, str]] = []
    for index, spec in enumerate(faults):
        where = f"faults[{index}]"
        validate(spec, where)
        kind = KINDS[spec["kind"]]
        reason = cannot_inject(kind, setup) if check_context else None
        if reason is not None:
            raise InvalidInput(f"{where}.kind: {reason}")
        start, end = float(spec["start_s"]), float(spec["start_s"]) + float(spec["duration_s"])
        if duration_s is not None and end > duration_s + 1e-9:
            raise InvalidInput(
                f"{where}.duration_s: the fault ends at {end:g}s, after the run's {duration_s:g}s"
            )
        windows.append((kind.name, start, end, where))
    for i, (name_a, start_a, end_a, where_a) in enumerate(windows):
        for name_b, start_b, end_b, where_b in windows[i + 1 :]:
            same_group = any(name_a in g and name_b in g for g in EXCLUSIVE_GROUPS)
            if same_group and start_a < end_b and start_b < end_a:
                raise InvalidInput(f"{where_b}.start_s: {name_b} overlaps {name_a} of {where_a}")


def injector(spec: Mapping[str, Any], context: FaultContext) -> Injector:
    """The injector for a validated spec (FaultFailed when the context lacks what it needs)."""
    return KINDS[spec["kind"]].factory(params_of(spec), context)
