"""Open-model arrival schedules: when each flow starts, independent of how earlier flows fared.

Pure logic, seeded, unit-tested. Per phase and flow, arrivals come at the phase's effective rate:
- `poisson`: exponential gaps. N workers each run an independent Poisson process at rate/N; the
  superposition of independent Poisson processes is Poisson at the full rate, so the aggregate is
  exactly the planned process, whatever N is.
- `constant`: one global grid of evenly spaced instants, (i + 0.5) x gap into the phase, dealt
  round-robin (instant i to worker i mod N), so the aggregate is evenly spaced too.
A rate change at a phase boundary restarts the process; for Poisson that is exact (memoryless).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class PhaseLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def start_s(self) -> float: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def rates_per_hour(self) -> Mapping[str, float]: ...


@dataclass(frozen=True, order=True)
class Arrival:
    """A flow to start `at_s` seconds after the common start."""

    at_s: float
    flow: str
    phase: str


def _flow_arrivals(
    phase: PhaseLike,
    flow: str,
    rate_per_hour: float,
    kind: str,
    seed: int,
    worker_index: int,
    worker_count: int,
) -> Iterator[Arrival]:
    if rate_per_hour <= 0 or phase.duration_s <= 0:
        return
    end = phase.start_s + phase.duration_s
    if kind == "constant":
        gap = 3600.0 / rate_per_hour
        i = worker_index
        while (t := phase.start_s + (i + 0.5) * gap) < end:
            yield Arrival(t, flow, phase.name)
            i += worker_count
        return
    # A string seed is hashed deterministically (random.seed version 2), unlike hash().
    rng = random.Random(f"{seed}:{phase.name}:{flow}:{worker_index}")
    rate_per_s = rate_per_hour / 3600.0 / worker_count
    t = phase.start_s
    while (t := t + rng.expovariate(rate_per_s)) < end:
        yield Arrival(t, flow, phase.name)


def schedule(
    phases: Sequence[PhaseLike],
    *,
    kind: str = "poisson",
    seed: int = 1,
    worker_index: int = 0,
    worker_count: int = 1,
) -> Iterator[Arrival]:
    """This worker's share of every flow's arrivals over all phases, in time order (lazily)."""
    if kind not in ("poisson", "constant"):
        raise ValueError(f"unknown arrival kind {kind!r}")
    if not 0 <= worker_index < worker_count:
        raise ValueError(f"worker_index {worker_index} outside 0..{worker_count - 1}")
    streams = [
        _flow_arrivals(phase, flow, rate, kind, seed, worker_index, worker_count)
        for phase in phases
        for flow, rate in phase.rates_per_hour.items()
    ]
    return heapq.merge(*streams)
