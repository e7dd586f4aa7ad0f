"""What every fault shares: the error types, the run context, the spec checks and the injector shape.

A fault is a plan item `{"kind","start_s","duration_s","target","params"}` (docs/contracts.md).
Each kind has a params validator and an injector factory; an injector has `apply()` and
`revert()`, and `revert()` is always called (in a `finally`), even when `apply()` raised, so
every `revert()` is safe to call on a fault that was never (or only half) applied.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import InvalidInput, RunFailed

if TYPE_CHECKING:
    from harness.db.container import DockerBackend
    from harness.db.embedded import EmbeddedPostgres
    from harness.faults.db_hooks import DbHooks
    from harness.faults.db_proxy import DbProxy
    from harness.faults.proxy import FaultProxy
    from harness.service_process import ServiceProcess

# The database/service setups a run can have: the harness's own PostgreSQL (embedded, docker), a
# database URL with the harness's own service (external), or a backend someone else runs (target).
CONTEXT_KINDS = ("embedded", "external", "docker", "target")
SPEC_KEYS = {"kind", "start_s", "duration_s", "target", "params"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class FaultFailed(RunFailed):
    """A fault could not be applied (or reverted): the run's chaos did not happen as planned."""


@dataclass
class FaultContext:
    """What the faults of one run may act on; None where the run does not own that part."""

    pg: EmbeddedPostgres | None = None
    container: DockerBackend | None = None
    service: ServiceProcess | None = None
    database_url: str = ""
    proxy: FaultProxy | None = None  # driven directly (library use, tests)
    db_proxy: DbProxy | None = None  # driven through Toxiproxy's API (what a run uses)
    hooks: DbHooks | None = None  # the user's commands that act on a database we do not run


class Injector(Protocol):
    """One fault, ready to apply; `revert()` must be safe after a failed or partial `apply()`."""

    def apply(self) -> str:
        """Inject the fault; return a short human detail for faults.jsonl, or raise FaultFailed."""
        ...

    def revert(self) -> str:
        """Undo the fault; return a detail, or raise FaultFailed."""
        ...


ParamsCheck = Callable[[Mapping[str, Any], str], None]
Factory = Callable[[Mapping[str, Any], FaultContext], Injector]


@dataclass(frozen=True)
class FaultKind:
    """A registered fault: its params check, the contexts it can run in and its injector."""

    name: str
    check_params: ParamsCheck
    contexts: tuple[str, ...]
    needs: str  # why other contexts cannot run it, for the error message
    factory: Factory
    # The --db-hooks commands that inject it on a database the harness does not run (a
    # --db-container does all of them); empty: no way but the contexts above.
    hooks: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSetup:
    """What a run's setup lets faults act on, known before anything starts."""

    kind: str  # one of CONTEXT_KINDS
    db_container: str | None = None  # --db-container: a PostgreSQL container the engine reaches
    db_hooks: frozenset[str] | None = None  # --db-hooks: the commands its file defines
    hooks_file: str = ""

    @property
    def db_control(self) -> bool:
        """Whether the user gave the harness a way to act on a database it does not run."""
        return self.db_container is not None or self.db_hooks is not None


def cannot_inject(kind: FaultKind, setup: RunSetup) -> str | None:
    """Why `kind` cannot be injected in `setup`, or None when it can: the one place that decides."""
    if setup.kind in kind.contexts:
        return None
    if kind.hooks and setup.db_container is not None:
        return None
    if kind.hooks and setup.db_hooks is not None:
        missing = [h for h in kind.hooks if h not in setup.db_hooks]
        if not missing:
            return None
        return (
            f"{kind.name} needs the hooks {' and '.join(kind.hooks)} in {setup.hooks_file} "
            f"(missing: {', '.join(missing)})"
        )
    give_back = ", or --db-container NAME / --db-hooks FILE" if kind.hooks else ""
    return f"{kind.name} needs {kind.needs}{give_back}; this run's database is {setup.kind}"


def number(params: Mapping[str, Any], key: str, where: str, *, minimum: float = 0.0) -> float | None:
    """`params[key]` as a finite number >= minimum, None when absent; InvalidInput naming the field."""
    if key not in params:
        return None
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where}.{key}: must be a number, got {value!r}")
    if value < minimum:
        raise InvalidInput(f"{where}.{key}: must be >= {minimum:g}, got {value!r}")
    return float(value)


def integer(params: Mapping[str, Any], key: str, where: str, *, minimum: int = 1) -> int | None:
    """`params[key]` as an int >= minimum, None when absent; InvalidInput naming the field."""
    if key not in params:
        return None
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{where}.{key}: must be an integer, got {value!r}")
    if value < minimum:
        raise InvalidInput(f"{where}.{key}: must be >= {minimum}, got {value!r}")
    return value


def identifier(params: Mapping[str, Any], key: str, where: str) -> str | None:
    """`params[key]` as a SQL identifier (`name` or `schema.name`), None when absent."""
    if key not in params:
        return None
    value = params[key]
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise InvalidInput(
            f"{where}.{key}: must be a table name like wallets or public.wallets, got {value!r}"
        )
    return value


def no_unknown(params: Mapping[str, Any], allowed: set[str], where: str) -> None:
    """Reject typos: a misspelled param would otherwise be a silently ignored one."""
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidInput(
            f"{where}.{unknown[0]}: unknown param (known: {', '.join(sorted(allowed)) or 'none'})"
        )


def check_common(spec: Mapping[str, Any], where: str, kinds: Mapping[str, FaultKind]) -> FaultKind:
    """Check the fields every fault has; return its registered kind."""
    if not isinstance(spec, Mapping):
        raise InvalidInput(f"{where}: must be a table, got {type(spec).__name__}")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise InvalidInput(f"{where}.{unknown[0]}: unknown field (known: {', '.join(sorted(SPEC_KEYS))})")
    kind = spec.get("kind")
    if kind not in kinds:
        raise InvalidInput(f"{where}.kind: unknown fault kind {kind!r} (known: {', '.join(sorted(kinds))})")
    for key in ("start_s", "duration_s"):
        if key not in spec:
            raise InvalidInput(f"{where}.{key}: required")
        number(spec, key, where, minimum=0.0)
    if spec["duration_s"] <= 0:
        raise InvalidInput(f"{where}.duration_s: must be > 0, got {spec['duration_s']!r}")
    target = spec.get("target")
    if target is not None and not isinstance(target, str):
        raise InvalidInput(f"{where}.target: must be a string or null, got {target!r}")
    params = spec.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InvalidInput(f"{where}.params: must be a table, got {params!r}")
    return kinds[str(kind)]


def params_of(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """The spec's params (a missing or null `params` is an empty table)."""
    params = spec.get("params")
    return params if isinstance(params, Mapping) else {}
