"""Scenario and suite TOML -> model, collecting every error before reporting any.

Why collect rather than raise at the first problem: a scenario is edited by hand and a user who
fixes one typo only to meet the next one on the next run learns to distrust the tool (the
Chaos Toolkit habit of validating the whole experiment first). Each error names the file, the
field path and the reason: `scenarios/peak_200.toml: phases[1].duration_s: must be > 0, got -5`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.scenario_model import CapacitySpec, PhaseSpec, Scenario
from harness.sizing import parse_sizing
from loadgate_contract.plan import FLOWS, ArrivalKind, FaultSpec, Kind, RaceKind, RaceSpec

TOP_KEYS = {
    "name",
    "description",
    "kind",
    "speedup",
    "arrival",
    "seed",
    "max_in_flight",
    "request_timeout_s",
    "duration_s",
    "rates",
    "phases",
    "race",
    "capacity",
    "thresholds",
    "faults",
    "probes",
    "probes_off",
    "profile",
    "sizing",
}
PHASE_KEYS = {"name", "duration_s", "scale", "rates"}
RACE_KEYS = {"kind", "participants", "trials", "interval_s", "params"}
CAPACITY_KEYS = {"start_scale", "step_factor", "step_duration_s", "max_steps"}
FAULT_KEYS = {"kind", "start_s", "duration_s", "target", "params"}
# Race parameters each kind understands (anything else is a typo worth reporting).
RACE_PARAMS: dict[RaceKind, set[str]] = {
    RaceKind.ASSIGNMENT_ACCEPT: set(),
    RaceKind.STATUS_CHANGE: {"from_status", "targets"},
    RaceKind.WALLET_CAPTURE: {"affordable", "price_cents"},
    RaceKind.IDEMPOTENT_CREATE: set(),
    RaceKind.CONFIRM_CANCEL: set(),
    RaceKind.PAYMENT_CAPTURE: set(),
    RaceKind.CANCEL_CAPTURE: set(),
    RaceKind.ASSIGNMENT_OPEN: set(),
}
ORDER_STATUSES = ("PENDING", "CONFIRMED", "SHIPPING", "DELIVERED", "CANCELLED")


def did_you_mean(word: str, known: set[str] | tuple[str, ...]) -> str:
    """` (did you mean 'x'?)` when a known word is close, else ``."""
    close = difflib.get_close_matches(word, sorted(known), n=1)
    return f" (did you mean {str(close[0])!r}?)" if close else ""


class Checker:
    """Reads typed values out of a TOML table, recording an error instead of raising."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.errors: list[str] = []

    def error(self, path: str, reason: str) -> None:
        self.errors.append(f"{self.where}: {path}: {reason}")

    def unknown_keys(self, table: Mapping[str, Any], known: set[str], prefix: str = "") -> None:
        for key in table:
            if key not in known:
                self.error(f"{prefix}{key}", f"unknown key{did_you_mean(key, known)}")

    def string(self, table: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str | None:
        value = table.get(key, default)
        if key not in table and default is None:
            self.error(path, "required")
            return None
        if not isinstance(value, str):
            self.error(path, f"must be a string, got {_type(value)}")
            return None
        return value

    def number(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str,
        *,
        default: float | None = None,
        minimum: float = 0.0,
        strict: bool = True,
    ) -> float | None:
        """A float (ints accepted, bools not); > minimum when strict, else >= minimum."""
        if key not in table:
            if default is None:
                self.error(path, "required")
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"must be a number, got {_type(value)}")
            return None
        if strict and not value > minimum:
            self.error(path, f"must be > {_num(minimum)}, got {_num(value)}")
            return None
        if not strict and not value >= minimum:
            self.error(path, f"must be >= {_num(minimum)}, got {_num(value)}")
            return None
        return float(value)

    def integer(
        self, table: Mapping[str, Any], key: str, path: str, *, default: int | None = None, minimum: int = 1
    ) -> int | None:
        if key not in table:
            if default is None:
                self.error(path, "required")
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"must be an integer, got {_type(value)}")
            return None
        if value < minimum:
            self.error(path, f"must be >= {minimum}, got {value}")
            return None
        return value

    def table(self, parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(path, f"must be a table, got {_type(value)}")
            return None
        return value

    def tables(self, parent: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        """An array of tables (`[[key]]`); bad members are reported and skipped."""
        value = parent.get(key, [])
        if not isinstance(value, list):
            self.error(key, f"must be an array of tables ([[{key}]]), got {_type(value)}")
            return []
        out: list[Mapping[str, Any]] = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append(item)
            else:
                self.error(f"{key}[{i}]", f"must be a table, got {_type(item)}")
        return out

    def choice(
        self, table: Mapping[str, Any], key: str, path: str, options: tuple[str, ...], default: str | None
    ) -> str | None:
        value = self.string(table, key, path, default)
        if value is not None and value not in options:
            self.error(
                path, f"must be one of {', '.join(options)}, got {value!r}{did_you_mean(value, options)}"
            )
            return None
        return value


def _type(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return names.get(type(value), type(value).__name__)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _rates(c: Checker, table: Mapping[str, Any], path: str) -> dict[str, float]:
    rates: dict[str, float] = {}
    for flow in table:
        if flow not in FLOWS:
            c.error(f"{path}.{flow}", f"unknown flow{did_you_mean(flow, FLOWS)}; flows: {', '.join(FLOWS)}")
            continue
        rate = c.number(table, flow, f"{path}.{flow}", strict=False)
        if rate is not None:
            rates[flow] = rate
    return rates


def _phases(c: Checker, doc: Mapping[str, Any]) -> list[PhaseSpec]:
    phases: list[PhaseSpec] = []
    for i, raw in enumerate(c.tables(doc, "phases")):
        p = f"phases[{i}]"
        c.unknown_keys(raw, PHASE_KEYS, f"{p}.")
        name = c.string(raw, "name", f"{p}.name")
        duration = c.number(raw, "duration_s", f"{p}.duration_s")
        scale = c.number(raw, "scale", f"{p}.scale", default=1.0, strict=False)
        rates_table = c.table(raw, "rates", f"{p}.rates")
        rates = _rates(c, rates_table, f"{p}.rates") if rates_table is not None else {}
        if name is not None and duration is not None and scale is not None:
            phases.append(PhaseSpec(name, duration, scale, rates))
    names = [p.name for p in phases]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        c.error("phases", f"phase name {dup!r} is used twice")
    return phases


def _race(c: Checker, raw: Mapping[str, Any]) -> RaceSpec | None:
    c.unknown_keys(raw, RACE_KEYS, "race.")
    kind = c.choice(raw, "kind", "race.kind", tuple(str(k) for k in RaceKind), None)
    participants = c.integer(raw, "participants", "race.participants", minimum=2)
    trials = c.integer(raw, "trials", "race.trials")
    interval = c.number(raw, "interval_s", "race.interval_s", default=1.0)
    params = c.table(raw, "params", "race.params") or {}
    if kind is None or participants is None or trials is None or interval is None:
        return None
    race_kind = RaceKind(kind)
    c.unknown_keys(params, RACE_PARAMS[race_kind] | {"stagger_ms"}, "race.params.")
    stagger_ms = c.number(params, "stagger_ms", "race.params.stagger_ms", default=0.0, strict=False)
    if stagger_ms is not None and stagger_ms * (participants - 1) >= interval * 1000:
        c.error(
            "race.params.stagger_ms",
            f"{_num(stagger_ms)} ms x {participants - 1} (participants - 1) must be < interval_s"
            f" ({_num(interval * 1000)} ms): the last participant would fire in the next trial",
        )
    if race_kind is RaceKind.WALLET_CAPTURE:
        affordable = c.integer(params, "affordable", "race.params.affordable", minimum=0)
        c.integer(params, "price_cents", "race.params.price_cents", default=1000)
        if affordable is not None and affordable >= participants:
            c.error("race.params.affordable", f"must be < participants ({participants}), got {affordable}")
    if race_kind is RaceKind.STATUS_CHANGE:
        c.choice(params, "from_status", "race.params.from_status", ORDER_STATUSES, "CONFIRMED")
        targets = params.get("targets", ["SHIPPING", "CANCELLED"])
        if not isinstance(targets, list) or not targets or not all(t in ORDER_STATUSES for t in targets):
            c.error("race.params.targets", f"must be a non-empty array of {', '.join(ORDER_STATUSES)}")
    return RaceSpec(race_kind, participants, trials, interval, dict(params))


def _capacity(c: Checker, raw: Mapping[str, Any]) -> CapacitySpec | None:
    c.unknown_keys(raw, CAPACITY_KEYS, "capacity.")
    start = c.number(raw, "start_scale", "capacity.start_scale", default=1.0)
    factor = c.number(raw, "step_factor", "capacity.step_factor", minimum=1.0)
    step = c.number(raw, "step_duration_s", "capacity.step_duration_s")
    steps = c.integer(raw, "max_steps", "capacity.max_steps")
    if start is None or factor is None or step is None or steps is None:
        return None
    return CapacitySpec(start, factor, step, steps)


def _thresholds(c: Checker, doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Only the shape is ours to check; the reports part validates metrics and expressions."""
    out: list[Mapping[str, Any]] = []
    for i, raw in enumerate(c.tables(doc, "thresholds")):
        ok = True
        for key in ("metric", "expr"):
            ok = c.string(raw, key, f"thresholds[{i}].{key}") is not None and ok
        if ok:
            out.append(dict(raw))
    return out


def _faults(c: Checker, doc: Mapping[str, Any]) -> list[FaultSpec]:
    out: list[FaultSpec] = []
    for i, raw in enumerate(c.tables(doc, "faults")):
        p = f"faults[{i}]"
        c.unknown_keys(raw, FAULT_KEYS, f"{p}.")
        kind = c.string(raw, "kind", f"{p}.kind")
        start = c.number(raw, "start_s", f"{p}.start_s", strict=False)
        duration = c.number(raw, "duration_s", f"{p}.duration_s", strict=False)
        target = c.string(raw, "target", f"{p}.target", "") if "target" in raw else None
        params = c.table(raw, "params", f"{p}.params") or {}
        if kind is not None and start is not None and duration is not None:
            out.append(FaultSpec(kind, start, duration, target, dict(params)))
    return out


def probe_keys(c: Checker, doc: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """`probes = "DIR"` (relative to the file, resolved by the caller) and `probes_off = [names]`."""
    folder = c.string(doc, "probes", "probes", "") if "probes" in doc else None
    off = doc.get("probes_off", [])
    if not isinstance(off, list) or not all(isinstance(n, str) and n for n in off):
        c.error("probes_off", f"must be an array of probe names, got {_type(off)}")
        off = []
    return folder or None, tuple(off)


def parse_scenario(doc: Mapping[str, Any], c: Checker, default_name: str) -> Scenario | None:
    """Build a `Scenario` from a parsed TOML document; errors go to `c` (None if any)."""
    c.unknown_keys(doc, TOP_KEYS)
    name = c.string(doc, "name", "name", default_name)
    description = c.string(doc, "description", "description", "")
    kind_s = c.choice(doc, "kind", "kind", tuple(str(k) for k in Kind), "load")
    speedup = c.number(doc, "speedup", "speedup", default=1.0)
    arrival = c.choice(doc, "arrival", "arrival", tuple(str(k) for k in ArrivalKind), "poisson")
    seed = c.integer(doc, "seed", "seed", default=1, minimum=0)
    max_in_flight = c.integer(doc, "max_in_flight", "max_in_flight", default=200)
    timeout = c.number(doc, "request_timeout_s", "request_timeout_s", default=10.0)
    rates_table = c.table(doc, "rates", "rates")
    rates = _rates(c, rates_table, "rates") if rates_table is not None else {}
    phases = _phases(c, doc)
    race_table = c.table(doc, "race", "race")
    race = _race(c, race_table) if race_table is not None else None
    cap_table = c.table(doc, "capacity", "capacity")
    capacity = _capacity(c, cap_table) if cap_table is not None else None
    thresholds = _thresholds(c, doc)
    faults = _faults(c, doc)
    probes, probes_off = probe_keys(c, doc)
    profile = c.string(doc, "profile", "profile") if "profile" in doc else None
    sizing_table = c.table(doc, "sizing", "sizing")
    sizing = parse_sizing(sizing_table, c.error) if sizing_table is not None else None
    kind = Kind(kind_s) if kind_s is not None else None

    if "duration_s" in doc:
        duration = c.number(doc, "duration_s", "duration_s")
        if "phases" in doc:
            c.error("duration_s", "give either duration_s (one steady phase) or [[phases]], not both")
        elif duration is not None:
            phases = [PhaseSpec("steady", duration)]
    if kind is Kind.RACE:
        if race_table is None:
            c.error("race", "required when kind = 'race'")
        for key in ("phases", "capacity", "duration_s"):
            if key in doc:
                c.error(key, "not allowed when kind = 'race' (a race's length is trials x interval_s)")
    else:
        if kind is not None and "race" in doc:
            c.error("race", f"only allowed when kind = 'race', not {str(kind)!r}")
        if rates_table is None:
            c.error("rates", f"required when kind = {str(kind)!r}")
        elif not any(r > 0 for r in rates.values()) and not c.errors:
            c.error("rates", "at least one flow needs a rate > 0")
    if kind is Kind.CAPACITY and cap_table is None:
        c.error("capacity", "required when kind = 'capacity'")
    if kind is not None and kind is not Kind.LOAD and "sizing" in doc:
        c.error("sizing", f"only allowed when kind = 'load', not {str(kind)!r}")
    if kind is Kind.LOAD:
        if "capacity" in doc:
            c.error("capacity", "only allowed when kind = 'capacity'")
        if not phases and "duration_s" not in doc and "phases" not in doc:
            c.error("phases", "a load scenario needs [[phases]] or duration_s")

    if c.errors or None in (name, description, kind, speedup, arrival, seed, max_in_flight, timeout):
        return None
    assert name is not None and description is not None and kind is not None
    assert speedup is not None and arrival is not None and seed is not None
    assert max_in_flight is not None and timeout is not None
    return Scenario(
        name=name,
        description=description,
        kind=kind,
        speedup=speedup,
        arrival=ArrivalKind(arrival),
        seed=seed,
        max_in_flight=max_in_flight,
        request_timeout_s=timeout,
        rates=rates,
        phases=tuple(phases),
        race=race,
        capacity=capacity,
        thresholds=tuple(thresholds),
        faults=tuple(faults),
        probes=Path(probes) if probes else None,
        probes_off=probes_off,
        profile=profile or None,
        sizing=sizing,
    )
