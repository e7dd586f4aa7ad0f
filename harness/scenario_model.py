"""The scenario model: typed, frozen values that a validated scenario TOML becomes.

Kept apart from parsing (`scenario_parse`) and loading (`scenario`) so the model can be built
in tests without files and read without the validation machinery around it.

Time: every number in a scenario is *nominal* (the documented world: rates per hour, durations in
seconds of a real hour). `Scenario.resolve(speedup)` turns it into a `Plan` of *effective* numbers
(rate x speed-up, duration / speed-up): the same count of arrivals, N times denser. A plan keeps
both so every report can state nominal and effective rates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import InvalidInput
from loadgate_contract.plan import FLOWS, FaultSpec, Plan, PlanPhase, RaceSpec, RunSettings

if TYPE_CHECKING:
    from harness.sizing import SizingSpec

# The plan's shapes and value sets are the run folder contract's (loadgate_contract.plan).


@dataclass(frozen=True)
class PhaseSpec:
    """One nominal phase: `rates` (nominal/hour, merged over the scenario's) times `scale`."""

    name: str
    duration_s: float
    scale: float = 1.0
    rates: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CapacitySpec:
    """Steps `step-1..max_steps` at scale start_scale x step_factor^(i-1) of the scenario's rates."""

    start_scale: float
    step_factor: float
    step_duration_s: float
    max_steps: int


@dataclass(frozen=True, kw_only=True)
class Scenario(RunSettings):
    """A validated scenario file, all numbers nominal."""

    name: str
    description: str
    rates: Mapping[str, float]
    phases: tuple[PhaseSpec, ...]
    race: RaceSpec | None = None
    capacity: CapacitySpec | None = None
    thresholds: tuple[Mapping[str, Any], ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    source: Path | None = None
    probes: Path | None = None  # a folder of the team's own invariant probes (docs/probes.md)
    probes_off: tuple[str, ...] = ()  # probes switched off for this scenario
    profile: str | None = None  # target profile: a dotted module or a .py file (docs/profiles.md)
    sizing: SizingSpec | None = None  # [sizing]: plan the run so every critical check is judged

    @property
    def path(self) -> Path:
        """The file the scenario came from (a name-derived path for scenarios built in code)."""
        return self.source if self.source is not None else Path(f"{self.name}.toml")

    def nominal_phases(self) -> tuple[PhaseSpec, ...]:
        """The phases as written, then (capacity) the generated steps, then (race) one `race` phase."""
        phases = list(self.phases)
        if self.capacity is not None:
            c = self.capacity
            phases += [
                PhaseSpec(f"step-{i}", c.step_duration_s, c.start_scale * c.step_factor ** (i - 1))
                for i in range(1, c.max_steps + 1)
            ]
        if self.race is not None:
            phases.append(PhaseSpec("race", self.race.trials * self.race.interval_s, 0.0))
        return tuple(phases)

    @property
    def nominal_duration_s(self) -> float:
        """Sum of the nominal phase durations."""
        return sum(p.duration_s for p in self.nominal_phases())

    def resolve(self, speedup: float | None = None) -> Plan:
        """Effective plan: rates x speed-up, durations / speed-up (`None`: the scenario's own)."""
        s = float(self.speedup if speedup is None else speedup)
        if not s > 0:
            raise InvalidInput(f"--speedup: must be > 0, got {speedup}")
        phases: list[PlanPhase] = []
        start = 0.0
        for spec in self.nominal_phases():
            merged = {flow: float(spec.rates.get(flow, self.rates.get(flow, 0.0))) for flow in FLOWS}
            nominal = {flow: rate * spec.scale for flow, rate in merged.items()}
            duration = spec.duration_s / s
            phases.append(
                PlanPhase(
                    name=spec.name,
                    start_s=start,
                    duration_s=duration,
                    rates_per_hour={flow: rate * s for flow, rate in nominal.items()},
                    nominal_rates_per_hour=nominal,
                )
            )
            start += duration
        race = self.race
        if race is not None:
            race = RaceSpec(race.kind, race.participants, race.trials, race.interval_s / s, race.params)
        faults = tuple(
            FaultSpec(f.kind, f.start_s / s, f.duration_s / s, f.target, f.params) for f in self.faults
        )
        return Plan(
            scenario=self.name,
            kind=self.kind,
            speedup=s,
            arrival=self.arrival,
            seed=self.seed,
            max_in_flight=self.max_in_flight,
            request_timeout_s=self.request_timeout_s,
            duration_s=start,
            phases=tuple(phases),
            race=race,
            faults=faults,
            thresholds=self.thresholds,
        )


@dataclass(frozen=True)
class SuiteEntry:
    """A suite member: a validated scenario and the speed-up the suite runs it at (None: its own)."""

    scenario: Scenario
    speedup: float | None = None

    @property
    def name(self) -> str:
        """The member scenario's name."""
        return self.scenario.name

    def resolve(self) -> Plan:
        """The member's plan at the suite's speed-up."""
        return self.scenario.resolve(self.speedup)


@dataclass(frozen=True)
class Suite:
    """Scenarios run in sequence into one report."""

    name: str
    description: str
    entries: tuple[SuiteEntry, ...]
    source: Path | None = None
    probes: Path | None = None  # every member's probe folder, unless the member names its own
    probes_off: tuple[str, ...] = ()

    @property
    def scenarios(self) -> tuple[SuiteEntry, ...]:
        """The members in run order (alias of `entries`)."""
        return self.entries
