"""The plan the harness hands to Locust (`plan.json`, docs/contracts.md "Plan").

The harness builds a `Plan` (`harness.scenario_model.Scenario.resolve`) and writes `to_json()`;
the Locust processes read it back with `Plan.from_json`. Every time and rate in a plan is
*effective* (nominal rate x speed-up, nominal duration / speed-up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

# The rows of seed 000's "Expected Traffic (Initial Launch)" table that the reference service has
# (webhook deliveries are out of scope: the service has no webhooks). Order matters: it is the
# order of the plan's rate tables.
FLOWS: tuple[str, ...] = (
    "orders_created",
    "payments_initiated",
    "payments_captured",
    "deliveries_confirmed",
    "agent_assignments",
    "admin_metrics",
)


class Kind(StrEnum):
    """What a scenario does: open-model load, a race, or a stepped capacity search."""

    LOAD = "load"
    RACE = "race"
    CAPACITY = "capacity"


class ArrivalKind(StrEnum):
    """How arrivals are spaced: exponential gaps (Poisson process) or exactly even."""

    POISSON = "poisson"
    CONSTANT = "constant"


class RaceKind(StrEnum):
    """The contested resources of seed 002 D4/D6 and API.md's Idempotency-Key."""

    ASSIGNMENT_ACCEPT = "assignment_accept"
    STATUS_CHANGE = "status_change"
    WALLET_CAPTURE = "wallet_capture"
    IDEMPOTENT_CREATE = "idempotent_create"
    # docs/business-rules.md (locustfiles/common/race_setup_orders.py)
    CONFIRM_CANCEL = "confirm_cancel"
    PAYMENT_CAPTURE = "payment_capture"
    CANCEL_CAPTURE = "cancel_capture"
    ASSIGNMENT_OPEN = "assignment_open"


# -- the JSON shapes --
class PhaseDoc(TypedDict):
    name: str
    start_s: float
    duration_s: float
    rates_per_hour: dict[str, float]
    nominal_rates_per_hour: dict[str, float]


class RaceDoc(TypedDict):
    kind: str
    participants: int
    trials: int
    interval_s: float
    params: dict[str, Any]  # per race kind, validated by the harness


class FaultDoc(TypedDict):
    kind: str
    start_s: float
    duration_s: float
    target: str | None
    params: dict[str, Any]  # per fault kind, validated by the harness's fault registry


class TlsDoc(TypedDict):
    verify: bool
    ca_bundle: str | None


class ProfileDoc(TypedDict):
    """plan.json's `profile`: the target profile's module (a dotted name or a .py path), each step's
    request name, `aliases` (a request name -> the same step's API.md name, where they differ), and
    for a file its text (`source`), so a worker on another machine needs only the plan."""

    module: str
    names: dict[str, str]
    aliases: dict[str, str]
    source: NotRequired[str | None]


class PlanDoc(TypedDict):
    scenario: str
    kind: str
    speedup: float
    arrival: str
    seed: int
    max_in_flight: int
    request_timeout_s: float
    duration_s: float
    phases: list[PhaseDoc]
    race: RaceDoc | None
    faults: list[FaultDoc]
    thresholds: list[dict[str, Any]]  # the scenario's [[thresholds]], passed through (reports validate)
    tls: TlsDoc
    profile: NotRequired[ProfileDoc | None]


# -- the values --
@dataclass(frozen=True)
class PlanPhase:
    """A phase as run: effective start/duration and rates, with the nominal rates beside them."""

    name: str
    start_s: float
    duration_s: float
    rates_per_hour: Mapping[str, float]
    nominal_rates_per_hour: Mapping[str, float] = field(default_factory=dict)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def to_json(self) -> PhaseDoc:
        return {
            "name": self.name,
            "start_s": self.start_s,
            "duration_s": self.duration_s,
            "rates_per_hour": dict(self.rates_per_hour),
            "nominal_rates_per_hour": dict(self.nominal_rates_per_hour),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> PlanPhase:
        return cls(
            str(doc["name"]),
            float(doc["start_s"]),
            float(doc["duration_s"]),
            {k: float(v) for k, v in doc["rates_per_hour"].items()},
            {k: float(v) for k, v in (doc.get("nominal_rates_per_hour") or {}).items()},
        )


@dataclass(frozen=True)
class RaceSpec:
    """Participants fire at one instant, `trials` times; trial k fires `k x interval_s` after the first."""

    kind: RaceKind
    participants: int
    trials: int
    interval_s: float
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> RaceDoc:
        return {
            "kind": str(self.kind),
            "participants": self.participants,
            "trials": self.trials,
            "interval_s": self.interval_s,
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RaceSpec:
        return cls(
            RaceKind(doc["kind"]),
            int(doc["participants"]),
            int(doc["trials"]),
            float(doc["interval_s"]),
            dict(doc.get("params") or {}),
        )


@dataclass(frozen=True)
class FaultSpec:
    """A fault to inject (kinds are validated by the harness's fault registry)."""

    kind: str
    start_s: float
    duration_s: float
    target: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> FaultDoc:
        return {
            "kind": self.kind,
            "start_s": self.start_s,
            "duration_s": self.duration_s,
            "target": self.target,
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FaultSpec:
        target = doc.get("target")
        return cls(
            str(doc["kind"]),
            float(doc["start_s"]),
            float(doc["duration_s"]),
            None if target is None else str(target),
            dict(doc.get("params") or {}),
        )


@dataclass(frozen=True)
class Tls:
    """How the Locust users check an https target's certificate (`--insecure`, `--ca-bundle`)."""

    verify: bool = True
    ca_bundle: str | None = None

    def to_json(self) -> TlsDoc:
        return {"verify": self.verify, "ca_bundle": self.ca_bundle}


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The top-level settings a scenario file states and its plan carries, declared once for both.

    A scenario's `speedup` is its default; a plan's is the one it was resolved at.
    """

    kind: Kind
    speedup: float
    arrival: ArrivalKind
    seed: int
    max_in_flight: int
    request_timeout_s: float


@dataclass(frozen=True, kw_only=True)
class Plan(RunSettings):
    """A resolved scenario: what the Locust processes run (`plan.json`)."""

    scenario: str
    duration_s: float
    phases: tuple[PlanPhase, ...]
    race: RaceSpec | None
    faults: tuple[FaultSpec, ...] = ()
    thresholds: tuple[Mapping[str, Any], ...] = ()
    tls: Tls = Tls()
    profile_doc: ProfileDoc | None = None  # None: API.md's profile

    @property
    def profile(self) -> str | None:
        """The target profile module the Locust processes load (None: API.md's)."""
        return self.profile_doc["module"] if self.profile_doc else None

    @property
    def nominal_duration_s(self) -> float:
        """The plan's length in the documented world (effective x speed-up)."""
        return self.duration_s * self.speedup

    def expected_arrivals(self, flow: str) -> float:
        """Arrivals of `flow` the plan asks for: the same at every speed-up."""
        return sum(p.rates_per_hour.get(flow, 0.0) * p.duration_s / 3600.0 for p in self.phases)

    def phase_at(self, elapsed_s: float) -> str:
        """The phase an instant falls in (before the start: the first; after the end: `after`)."""
        if not self.phases:
            return ""
        if elapsed_s < self.phases[0].start_s:
            return self.phases[0].name
        for phase in self.phases:
            if elapsed_s < phase.end_s:
                return phase.name
        return "after"

    def to_json(self) -> PlanDoc:
        """Exactly the plan.json shape of docs/contracts.md."""
        return {
            "scenario": self.scenario,
            "kind": str(self.kind),
            "speedup": self.speedup,
            "arrival": str(self.arrival),
            "seed": self.seed,
            "max_in_flight": self.max_in_flight,
            "request_timeout_s": self.request_timeout_s,
            "duration_s": self.duration_s,
            "phases": [p.to_json() for p in self.phases],
            "race": None if self.race is None else self.race.to_json(),
            "faults": [f.to_json() for f in self.faults],
            "thresholds": [dict(t) for t in self.thresholds],
            "tls": self.tls.to_json(),
            "profile": self.profile_doc,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Plan:
        """A `Plan` from a plan.json document (absent optional keys take their defaults)."""
        race, tls = doc.get("race"), doc.get("tls") or {}
        return cls(
            scenario=str(doc["scenario"]),
            kind=Kind(doc["kind"]),
            speedup=float(doc["speedup"]),
            arrival=ArrivalKind(doc.get("arrival", "poisson")),
            seed=int(doc.get("seed", 1)),
            max_in_flight=int(doc.get("max_in_flight", 200)),
            request_timeout_s=float(doc.get("request_timeout_s", 10.0)),
            duration_s=float(doc["duration_s"]),
            phases=tuple(PlanPhase.from_json(p) for p in doc["phases"]),
            race=None if race is None else RaceSpec.from_json(race),
            faults=tuple(FaultSpec.from_json(f) for f in doc.get("faults") or ()),
            thresholds=tuple(dict(t) for t in doc.get("thresholds") or ()),
            tls=Tls(bool(tls.get("verify", True)), tls.get("ca_bundle")),
            profile_doc=_profile_doc(doc.get("profile")),
        )


def _profile_doc(doc: Any) -> ProfileDoc | None:
    if not isinstance(doc, Mapping) or not doc.get("module"):
        return None
    source = doc.get("source")
    return {
        "module": str(doc["module"]),
        "names": dict(doc.get("names") or {}),
        "aliases": dict(doc.get("aliases") or {}),
        "source": source if isinstance(source, str) else None,
    }
