"""Open-model arrival schedules: counts, spacing, seeding and the split across workers."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import pytest

from locustfiles.common.arrivals import schedule


@dataclass(frozen=True)
class P:
    name: str
    start_s: float
    duration_s: float
    rates_per_hour: dict[str, float] = field(default_factory=dict)


def test_constant_spacing_is_exact() -> None:
    arrivals = list(schedule([P("steady", 0, 60, {"orders_created": 3600})], kind="constant"))
    assert len(arrivals) == 60
    assert [a.at_s for a in arrivals[:3]] == pytest.approx([0.5, 1.5, 2.5])
    gaps = {round(b.at_s - a.at_s, 9) for a, b in itertools.pairwise(arrivals)}
    assert gaps == {1.0}


def test_constant_split_across_workers_interleaves_into_the_same_grid() -> None:
    phases = [P("steady", 0, 60, {"orders_created": 3600})]
    single = [a.at_s for a in schedule(phases, kind="constant")]
    shares = [list(schedule(phases, kind="constant", worker_index=w, worker_count=3)) for w in range(3)]
    assert sum(len(s) for s in shares) == 60
    assert sorted(a.at_s for s in shares for a in s) == pytest.approx(single)


def test_poisson_count_is_within_statistical_bounds() -> None:
    # 36 000/hour for 100 s: expected 1000 arrivals, sd ~ 31.6; 5 sd is a bound a seed never breaks.
    arrivals = list(schedule([P("p", 0, 100, {"orders_created": 36000})], kind="poisson", seed=3))
    assert abs(len(arrivals) - 1000) < 5 * math.sqrt(1000)
    assert all(0 <= a.at_s < 100 for a in arrivals)


def test_poisson_is_seeded_and_ordered() -> None:
    phases = [
        P("a", 0, 10, {"orders_created": 7200, "admin_metrics": 3600}),
        P("b", 10, 10, {"orders_created": 720}),
    ]
    first = list(schedule(phases, seed=9))
    assert first == list(schedule(phases, seed=9))
    assert first != list(schedule(phases, seed=10))
    assert [a.at_s for a in first] == sorted(a.at_s for a in first)
    assert {a.phase for a in first if a.at_s >= 10} <= {"b"}


def test_poisson_worker_split_sums_to_the_total_rate() -> None:
    phases = [P("p", 0, 100, {"orders_created": 36000})]
    total = sum(len(list(schedule(phases, seed=1, worker_index=w, worker_count=4))) for w in range(4))
    assert abs(total - 1000) < 5 * math.sqrt(1000)


def test_phases_change_the_rate() -> None:
    phases = [P("low", 0, 10, {"orders_created": 360}), P("high", 10, 10, {"orders_created": 3600})]
    arrivals = list(schedule(phases, kind="constant"))
    assert [a.phase for a in arrivals].count("low") == 1
    assert [a.phase for a in arrivals].count("high") == 10


def test_zero_rate_and_bad_arguments() -> None:
    assert list(schedule([P("p", 0, 10, {"orders_created": 0})])) == []
    with pytest.raises(ValueError):
        list(schedule([], kind="burst"))
    with pytest.raises(ValueError):
        list(schedule([], worker_index=2, worker_count=2))
