"""Size a load run from what it must judge: every critical check gets its minimum samples.

A scenario with a `[sizing]` table states the confidence it needs that each critical check of a
load run reaches its `min_samples` (reports/thresholds.toml); the harness then plans the run so it
does, before anything starts, and says per check how many samples it expects:

    [sizing]
    confidence = 0.95        # P(a check gets >= min_samples) the plan must reach, for every check
    max_speedup = 1200       # the densest the documented mix may be run (effective = nominal x this)
    max_duration_s = 50      # the longest the scenario may take, wall seconds

How. Judged samples come from two clocks. Request counts grow with *nominal* time (the documented
rates x nominal seconds); 1 s samplers (pool utilization, health latency) grow with *wall* time.
So the plan simulates more nominal time at a higher speed-up (the same phases, faults and mix, each
nominal duration x r x w, speed-up x r: wall time x w, every effective rate x r) with r and w the
least that give every check its minimum; the ratios of the mix never change (no flow is added or
boosted on its own), so what is judged is still the documented load, denser. Where `max_speedup`
and `max_duration_s` cannot give a check enough, the forecast names the check and says so, and the
report then shows it as insufficient data: never a silent pass.

Counts are expected values: one arrival of a flow makes the requests of `MIX` below (the flows of
locustfiles/common/flows.py; prerequisites an empty pipeline adds are extra, not counted, so the
forecast is a lower bound), over the judged time (phases not excluded, fault windows and their
aftermath cut out). Arrivals are Poisson, so the chance of reaching `min_samples` is a Poisson tail.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from harness.errors import InvalidInput
from harness.scenario_model import Scenario
from loadgate_contract.plan import FaultSpec, Kind, Plan
from locustfiles.common.flow_steps import MIX_STEPS
from locustfiles.common.profile import DEFAULT_PROFILE, load_profile

# Request names are API.md's profile's: the names thresholds are written in (a profile's own names
# are matched to them through plan.json's `profile.aliases`).
_NAMES = load_profile(DEFAULT_PROFILE).names()


def _mix() -> dict[str, dict[str, float]]:
    """`MIX_STEPS` by request name."""
    names = _NAMES
    return {flow: {names[step]: per for step, per in steps.items()} for flow, steps in MIX_STEPS.items()}


MIX: Mapping[str, Mapping[str, float]] = _mix()
WRITE_METHODS = ("POST ", "PUT ", "PATCH ", "DELETE ")
STATUS_CHANGES = (_NAMES["change_status"],)
# What a metric's samples are: request rows in scope, writes in scope, status changes, or 1 s samples.
BASIS: Mapping[str, str] = {
    "http_req_duration": "requests",
    "http_req_service_time": "requests",
    "http_req_failed": "requests",
    "slow_query_ratio_100": "requests",
    "lock_timeout_rate": "writes",
    "lock_wait": "writes",
    "update_conflict_rate": "status changes",
    "pool_utilization": "1 s samples",
    "health_latency": "1 s samples",
}
AFTERMATH_S = 5.0  # reports/scope.py: the seconds after a fault that default checks skip
SIZING_KEYS = {"confidence", "max_speedup", "max_duration_s", "max_topup"}


@dataclass(frozen=True)
class SizingSpec:
    """A scenario's `[sizing]` table."""

    confidence: float = 0.95
    max_speedup: float | None = None
    max_duration_s: float | None = None
    max_topup: float = 10.0


def parse_sizing(raw: Mapping[str, Any], error: Any) -> SizingSpec | None:
    """Validate a `[sizing]` table; `error(path, reason)` records each problem (scenario_parse.Checker)."""
    ok = True
    for key in sorted(set(raw) - SIZING_KEYS):
        error(f"sizing.{key}", f"unknown key (known: {', '.join(sorted(SIZING_KEYS))})")
        ok = False
    values: dict[str, float] = {}
    for key in SIZING_KEYS & set(raw):
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            error(f"sizing.{key}", f"must be a number > 0, got {value!r}")
            ok = False
            continue
        values[key] = float(value)
    if values.get("max_topup", 1.0) < 1:
        error("sizing.max_topup", f"must be >= 1, got {values['max_topup']:g}")
        ok = False
    if values.get("confidence", 0.5) >= 1:
        error("sizing.confidence", f"must be < 1, got {values['confidence']:g}")
        ok = False
    return SizingSpec(**values) if ok else None


def poisson_at_least(lam: float, k: int) -> float:
    """P(N >= k) for N ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    term = total = math.exp(-lam)
    for i in range(1, k):
        term *= lam / i
        total += term
    return max(0.0, 1.0 - total)


def needed_mean(k: int, confidence: float) -> float:
    """The least Poisson mean whose P(N >= k) reaches `confidence`."""
    lo, hi = 0.0, max(1.0, 4.0 * k + 20)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if poisson_at_least(mid, k) < confidence else (lo, mid)
    return hi


@dataclass(frozen=True)
class Forecast:
    """What one critical check is expected to get from a plan."""

    check: str
    basis: str
    expected: float
    minimum: int
    chance: float  # P(samples >= minimum)
    note: str = ""
    unsent: bool = False  # no flow of the mix sends this request: it gets no check, whatever the size
    names: tuple[str, ...] = ()  # the request names it counts

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (sizing.json)."""
        return dataclasses.asdict(self)


def _judged_windows(plan: Plan, exclude: tuple[str, ...]) -> list[tuple[float, float, Mapping[str, float]]]:
    """(start, end, effective rates/hour) of the time default checks judge."""
    cuts: list[tuple[float, float]] = []
    for f in plan.faults:
        if "during_fault" in exclude:
            cuts.append((f.start_s, f.start_s + f.duration_s))
        if "fault_aftermath" in exclude:
            cuts.append((f.start_s + f.duration_s, f.start_s + f.duration_s + AFTERMATH_S))
    out: list[tuple[float, float, Mapping[str, float]]] = []
    for phase in plan.phases:
        if phase.name in exclude:
            continue
        pieces = [(phase.start_s, phase.start_s + phase.duration_s)]
        for c0, c1 in sorted(cuts):
            pieces = [
                piece
                for a, b in pieces
                for piece in ((a, min(b, c0)), (max(a, c1), b))
                if piece[1] - piece[0] > 1e-9
            ]
        out += [(a, b, phase.rates_per_hour) for a, b in pieces]
    return out


def expected_requests(plan: Plan, exclude: tuple[str, ...]) -> tuple[dict[str, float], float]:
    """Expected judged requests per name, and the judged wall seconds, of a plan."""
    counts: dict[str, float] = {}
    seconds = 0.0
    for a, b, rates in _judged_windows(plan, exclude):
        seconds += b - a
        for flow, rate in rates.items():
            arrivals = rate * (b - a) / 3600.0
            for name, per in MIX.get(flow, {}).items():
                counts[name] = counts.get(name, 0.0) + arrivals * per
    return counts, seconds


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name == p or fnmatchcase(name, p) for p in patterns)


def _forecast(
    th: Any, basis: str, check: str, expected: float, names: tuple[str, ...] = (), *, unsent: bool = False
) -> Forecast:
    if basis == "1 s samples":
        chance = 1.0 if expected >= th.min_samples + 2 else 0.0
    else:
        chance = poisson_at_least(expected, th.min_samples)
    note = "no flow of the documented mix sends it: it gets no check" if unsent else ""
    return Forecast(check, basis, expected, th.min_samples, chance, note, unsent, names)


def forecast(plan: Plan, thresholds: Any, confidence: float = 0.95) -> list[Forecast]:
    """Every critical check of a load plan that needs samples, with the samples it should get.

    `thresholds` is a reports.thresholds.ThresholdSet. A name a threshold's scope lists but no flow
    of the mix sends gets a forecast of 0 with a note: it will have no check at all.
    """
    if plan.kind is not Kind.LOAD:
        return []
    counts, seconds = expected_requests(plan, thresholds.exclude_phases)
    out: list[Forecast] = []
    for th in thresholds.thresholds:
        basis = BASIS.get(th.metric)
        if basis is None or th.severity != "critical" or th.min_samples <= 0 or th.phase is not None:
            continue
        if not th.applies_to("load"):
            continue
        if basis == "1 s samples":
            out.append(_forecast(th, basis, th.name, seconds))
            continue
        patterns = th.requests + (thresholds.tags[th.tag] if th.tag else ())
        names = {n: c for n, c in counts.items() if not patterns or _matches(n, patterns)}
        if th.flow is not None:
            names = {n: c for n, c in names.items() if n in MIX.get(th.flow, {})}
        if basis == "writes":
            names = {n: c for n, c in names.items() if n.startswith(WRITE_METHODS)}
        elif basis == "status changes":
            names = {n: c for n, c in names.items() if n in STATUS_CHANGES}
        if th.per == "name":
            out += [_forecast(th, basis, f"{th.name}[{n}]", names[n], (n,)) for n in sorted(names)]
            out += [
                _forecast(th, basis, f"{th.name}[{p}]", 0.0, (p,), unsent=True)
                for p in patterns
                if not any(ch in p for ch in "*?[") and p not in names
            ]
        else:
            out.append(_forecast(th, basis, th.name, sum(names.values()), tuple(sorted(names))))
    return out


@dataclass(frozen=True)
class Sizing:
    """How a scenario was sized, and what each critical check should get from the sized plan."""

    scenario: str
    confidence: float
    base_speedup: float
    speedup: float
    stretch: float  # wall time x this
    nominal_duration_s: float
    duration_s: float
    forecasts: tuple[Forecast, ...]
    topup: Mapping[str, float] = dataclasses.field(default_factory=dict)  # flow -> x its documented rate

    @property
    def short(self) -> list[Forecast]:
        """Checks the plan cannot give their minimum with the required confidence."""
        return [f for f in self.forecasts if f.chance < self.each and not f.unsent]

    @property
    def each(self) -> float:
        """The chance each check needs so that all reach their minimum with `confidence`."""
        return per_check(self.confidence, self.forecasts)

    @property
    def unsent(self) -> list[Forecast]:
        """Names the thresholds list but no flow of the mix sends: no check at all (said, not sized)."""
        return [f for f in self.forecasts if f.unsent]

    def to_json(self) -> dict[str, Any]:
        """sizing.json of a run folder."""
        return {
            "scenario": self.scenario,
            "confidence": self.confidence,
            "base_speedup": self.base_speedup,
            "speedup": self.speedup,
            "wall_stretch": self.stretch,
            "nominal_duration_s": self.nominal_duration_s,
            "duration_s": self.duration_s,
            "topup": dict(self.topup),
            "checks": [f.to_json() for f in self.forecasts],
            "short": [f.check for f in self.short],
            "unsent": [f.check for f in self.unsent],
        }

    def text(self) -> str:
        """The forecast printed before the run: one line per check, the short ones first."""
        n = len(self.forecasts) - len(self.unsent)
        head = (
            f"loadgate: sizing {self.scenario}: speed-up x{self.speedup:g} (was x{self.base_speedup:g}), "
            f"nominal {self.nominal_duration_s / 3600:.2f} h in {self.duration_s:.0f} s "
            f"(wall x{self.stretch:.2f}) "
            f"so that all {n} critical checks reach min_samples with {self.confidence:.0%} confidence "
            f"(each {self.each:.2%}); expected samples:"
        )
        lines = [head]
        for flow, factor in sorted(self.topup.items()):
            lines.append(
                f"  {flow}: x{factor:g} its documented rate (calls added beyond the mix for its short checks)"
            )
        ordered = sorted(
            self.forecasts, key=lambda f: (not f.unsent, f.chance >= self.confidence, f.expected)
        )
        for f in ordered:
            mark = "none " if f.unsent else "ok   " if f.chance >= self.confidence else "SHORT"
            note = f"  {f.note}" if f.note else ""
            if f.chance < self.each and not f.unsent:
                note = "  the documented load cannot give enough within max_speedup/max_duration_s"
            lines.append(
                f"  {mark} {f.check:<55} expect {f.expected:7.1f} {f.basis:<14} min {f.minimum:>3}  "
                f"P(enough) {f.chance:6.1%}{note}"
            )
        return "\n".join(lines) + "\n"


def _scaled(scenario: Scenario, speedup: float, nominal_factor: float) -> Scenario:
    """The same scenario with every nominal duration x `nominal_factor`, run at `speedup`."""
    phases = tuple(dataclasses.replace(p, duration_s=p.duration_s * nominal_factor) for p in scenario.phases)
    faults = tuple(
        FaultSpec(f.kind, f.start_s * nominal_factor, f.duration_s * nominal_factor, f.target, f.params)
        for f in scenario.faults
    )
    return dataclasses.replace(scenario, speedup=speedup, phases=phases, faults=faults)


def _round_up(x: float, step: float) -> float:
    return math.ceil(x / step - 1e-9) * step


def per_check(confidence: float, forecasts: list[Forecast] | tuple[Forecast, ...]) -> float:
    """The chance each check needs so that all of them reach their minimum with `confidence` (Bonferroni)."""
    n = max(1, sum(1 for f in forecasts if not f.unsent))
    return 1.0 - (1.0 - confidence) / n


def _boosted(scenario: Scenario, topup: Mapping[str, float]) -> Scenario:
    """The scenario with each flow of `topup` sent that many times its documented rate."""
    if not topup:
        return scenario
    rates = {f: r * topup.get(f, 1.0) for f, r in scenario.rates.items()}
    phases = tuple(
        dataclasses.replace(p, rates={f: r * topup.get(f, 1.0) for f, r in p.rates.items()})
        for p in scenario.phases
    )
    return dataclasses.replace(scenario, rates=rates, phases=phases)


def size(
    scenario: Scenario, speedup: float | None, thresholds: Any, spec: SizingSpec | None = None
) -> tuple[Scenario, Sizing | None]:
    """The scenario to run and its sizing; unchanged (and None) without a `[sizing]` table.

    In order: wall time for the 1 s samplers; then more nominal time at a higher speed-up (the
    whole mix, its ratios kept) up to `max_speedup`; then more wall time up to `max_duration_s`;
    what is still short comes from sending only the flows behind the short checks more often
    (`max_topup` times their documented rate at most), said per flow; what is short after that is
    said per check.
    """
    spec = spec or getattr(scenario, "sizing", None)
    if spec is None or scenario.kind is not Kind.LOAD:
        return scenario, None
    base = float(speedup if speedup is not None else scenario.speedup)
    plan = scenario.resolve(base)
    forecasts = forecast(plan, thresholds, spec.confidence)
    each = per_check(spec.confidence, forecasts)
    # A 1 s sampler loses a sample at either end of a window, and a restart outlasts its plan: 4 spare s.
    time_need = max(
        [(f.minimum + 4) / f.expected for f in forecasts if f.basis == "1 s samples" and f.expected > 0]
        + [1.0]
    )
    req_need = max(
        [
            needed_mean(f.minimum, each) / f.expected
            for f in forecasts
            if f.basis != "1 s samples" and f.expected > 0
        ]
        + [1.0]
    )
    max_w = max(1.0, (spec.max_duration_s or math.inf) / plan.duration_s)
    max_r = max(1.0, (spec.max_speedup or math.inf) / base)
    w = min(max_w, time_need)
    r = min(max_r, max(1.0, req_need / w))
    new_speedup = min(max(base, _round_up(base * r, 10 if base * r >= 100 else 1)), max(base, base * max_r))
    r = new_speedup / base
    w = min(max_w, _round_up(w, 0.05)) if w > 1 else 1.0
    sized = _scaled(scenario, new_speedup, r * w) if (r, w) != (1.0, 1.0) else scenario
    # What density and time could not give: the flows behind the short checks, and only them, more often.
    topup: dict[str, float] = {}
    for f in forecast(sized.resolve(new_speedup), thresholds, spec.confidence):
        if f.basis == "1 s samples" or f.unsent or f.expected <= 0 or f.chance >= each:
            continue
        factor = min(spec.max_topup, needed_mean(f.minimum, each) / f.expected)
        for flow, sends in MIX.items():
            if any(name in sends for name in f.names):
                topup[flow] = max(topup.get(flow, 1.0), _round_up(factor, 0.1))
    sized = _boosted(sized, topup)
    sized_plan = sized.resolve(new_speedup)
    return sized, Sizing(
        scenario=scenario.name,
        confidence=spec.confidence,
        base_speedup=base,
        speedup=new_speedup,
        stretch=w,
        nominal_duration_s=sized_plan.nominal_duration_s,
        duration_s=sized_plan.duration_s,
        forecasts=tuple(forecast(sized_plan, thresholds, spec.confidence)),
        topup=topup,
    )


def load_threshold_set(path: Path | None, scenario: Scenario) -> Any:
    """The thresholds a run of `scenario` is judged with (the file, then the scenario's overrides)."""
    from reports.thresholds import load_thresholds

    try:
        return load_thresholds(path, [dict(t) for t in scenario.thresholds] or None, str(scenario.path))
    except Exception as exc:  # reported by the run's own validation with file and line
        raise InvalidInput(f"{scenario.path}: thresholds: {exc}") from exc


__all__ = [
    "MIX",
    "MIX_STEPS",
    "Forecast",
    "Sizing",
    "SizingSpec",
    "forecast",
    "load_threshold_set",
    "needed_mean",
    "parse_sizing",
    "poisson_at_least",
    "size",
]
