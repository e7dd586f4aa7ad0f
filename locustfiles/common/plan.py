"""plan.json (docs/contracts.md) as the Locust side reads it.

The Locust processes read the plan as data, not through `harness.scenario`: a worker on another
machine needs only this package and the JSON file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Phase:
    """An effective phase: starts `start_s` after the test start."""

    name: str
    start_s: float
    duration_s: float
    rates_per_hour: Mapping[str, float]

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Race:
    kind: str
    participants: int
    trials: int
    interval_s: float
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunPlan:
    scenario: str
    kind: str
    speedup: float
    arrival: str
    seed: int
    max_in_flight: int
    request_timeout_s: float
    duration_s: float
    phases: tuple[Phase, ...]
    race: Race | None
    tls_verify: bool = True  # check the target's certificate (plan.json `tls`; off: --insecure)
    ca_bundle: str | None = None  # trust this CA file instead of the system's (--ca-bundle)
    profile: str | None = None  # target profile module (plan.json `profile.module`); None: API.md's

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


def parse_plan(doc: Mapping[str, Any]) -> RunPlan:
    """A `RunPlan` from the plan.json document."""
    race = doc.get("race")
    return RunPlan(
        scenario=str(doc["scenario"]),
        kind=str(doc["kind"]),
        speedup=float(doc["speedup"]),
        arrival=str(doc.get("arrival", "poisson")),
        seed=int(doc.get("seed", 1)),
        max_in_flight=int(doc.get("max_in_flight", 200)),
        request_timeout_s=float(doc.get("request_timeout_s", 10.0)),
        duration_s=float(doc["duration_s"]),
        phases=tuple(
            Phase(str(p["name"]), float(p["start_s"]), float(p["duration_s"]), dict(p["rates_per_hour"]))
            for p in doc["phases"]
        ),
        race=None
        if race is None
        else Race(
            str(race["kind"]),
            int(race["participants"]),
            int(race["trials"]),
            float(race["interval_s"]),
            dict(race.get("params") or {}),
        ),
        tls_verify=bool((doc.get("tls") or {}).get("verify", True)),
        ca_bundle=(doc.get("tls") or {}).get("ca_bundle"),
        profile=(doc.get("profile") or {}).get("module") or None,
    )


def load_plan() -> RunPlan:
    """`LOADGATE_PLAN`, or for a human at the web UI: steady_50 at speed-up 1 (`LOADGATE_SCENARIO`)."""
    path = os.environ.get("LOADGATE_PLAN")
    if path:
        return parse_plan(json.loads(Path(path).read_text()))
    # Only the interactive default needs the scenario files (and so the harness package).
    from harness.scenario import load_scenario

    name = os.environ.get("LOADGATE_SCENARIO", "steady_50")
    speedup = float(os.environ.get("LOADGATE_SPEEDUP", "1"))
    return parse_plan(load_scenario(name).resolve(speedup).to_json())
