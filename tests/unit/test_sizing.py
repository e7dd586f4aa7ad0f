"""Sizing a load run from what it must judge (harness/sizing.py): pure logic, no processes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.scenario import FLOWS, load_scenario, load_suite
from harness.sizing import (
    MIX,
    MIX_STEPS,
    SizingSpec,
    forecast,
    load_threshold_set,
    needed_mean,
    poisson_at_least,
    size,
)
from locustfiles.common.flow_steps import FIRST_STEP

PICKUP = "core_p95[POST /api/shipping/assignments/{id}/pickup]"
ADMIN = "core_p95[GET /api/admin/agents/sla-summary]"


def test_poisson_tail_matches_the_closed_form() -> None:
    assert poisson_at_least(3.0, 1) == pytest.approx(1 - math.exp(-3.0))
    assert poisson_at_least(20.0, 20) == pytest.approx(0.5297, abs=1e-3)
    assert poisson_at_least(0.0, 1) == 0.0 and poisson_at_least(5.0, 0) == 1.0
    lam = needed_mean(20, 0.95)
    assert poisson_at_least(lam, 20) >= 0.95 > poisson_at_least(lam - 0.1, 20)


def test_the_mix_covers_every_flow_and_starts_with_the_flows_first_request() -> None:
    assert set(MIX) == set(MIX_STEPS) == set(FLOWS)
    for flow, first in FIRST_STEP.items():
        assert first in MIX_STEPS[flow], (flow, first)


def test_the_unsized_release_scenarios_leave_low_volume_endpoints_short() -> None:
    """What issue 12 measured: steady_50 gives each admin read ~1.7 samples and each pickup 10."""
    steady = load_scenario("steady_50")
    got = {f.check: f for f in forecast(steady.resolve(None), load_threshold_set(None, steady))}
    assert got[ADMIN].expected == pytest.approx(50 / 30)  # 10/h x 0.5 h / 3 endpoints
    assert got[PICKUP].expected == pytest.approx(10)
    assert got[PICKUP].chance < 0.01
    assert got["core_p95[GET /api/orders/{id}]"].unsent  # core, but no flow of the mix sends it


@pytest.mark.parametrize("name", ["steady_50", "peak_200", "chaos_db_restart"])
def test_the_sized_release_scenarios_judge_every_check_within_their_limits(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.sizing is not None
    sized, sizing = size(scenario, None, load_threshold_set(None, scenario))
    assert sizing is not None
    assert sizing.short == [], sizing.text()
    spec = scenario.sizing
    assert spec.max_speedup is not None and spec.max_duration_s is not None
    assert sizing.speedup <= spec.max_speedup
    assert sizing.duration_s <= spec.max_duration_s + 1e-6
    assert all(1 < t <= spec.max_topup for t in sizing.topup.values())
    # The whole mix keeps its ratios; only the flows behind short checks are sent more often.
    base = scenario.resolve(None).phases[-1].nominal_rates_per_hour
    after = sized.resolve(sizing.speedup).phases[-1].nominal_rates_per_hour
    for flow in FLOWS:
        assert after[flow] == pytest.approx(base[flow] * sizing.topup.get(flow, 1.0))
    # The faults keep their place in the run: same share of the (longer) wall time.
    for before, now in zip(scenario.resolve(None).faults, sized.resolve(sizing.speedup).faults, strict=True):
        assert now.start_s / sizing.duration_s == pytest.approx(
            before.start_s / scenario.resolve(None).duration_s
        )


def test_what_the_limits_cannot_give_is_said_per_check() -> None:
    scenario = load_scenario("steady_50")
    tight = SizingSpec(confidence=0.95, max_speedup=60, max_duration_s=30, max_topup=1.0)
    _, sizing = size(scenario, None, load_threshold_set(None, scenario), tight)
    assert sizing is not None
    short = {f.check for f in sizing.short}
    assert {ADMIN, PICKUP} <= short
    text = sizing.text()
    assert f"SHORT {PICKUP}" in text and "cannot give enough within max_speedup/max_duration_s" in text


def test_a_scenario_without_sizing_is_left_as_it_is() -> None:
    race = load_suite("release").entries[2].scenario
    assert size(race, None, load_threshold_set(None, race)) == (race, None)


def _errors(tmp_path: Path, sizing: str, kind: str = "load") -> str:
    body = (
        "duration_s = 10\n[rates]\norders_created = 50\n"
        if kind == "load"
        else ('[race]\nkind = "assignment_accept"\nparticipants = 2\ntrials = 1\ninterval_s = 1\n')
    )
    (tmp_path / "bad.toml").write_text(f'kind = "{kind}"\n{body}[sizing]\n{sizing}\n')
    with pytest.raises(InvalidInput) as info:
        load_scenario("bad", scenarios_dir=tmp_path)
    return str(info.value)


def test_a_bad_sizing_table_is_refused_naming_the_field(tmp_path: Path) -> None:
    assert "sizing.confidence: must be < 1, got 1" in _errors(tmp_path, "confidence = 1.0")
    assert "sizing.max_speedup: must be a number > 0" in _errors(tmp_path, "max_speedup = -3")
    assert "sizing.max_topup: must be >= 1, got 0.5" in _errors(tmp_path, "max_topup = 0.5")
    assert "sizing.confidense: unknown key" in _errors(tmp_path, "confidense = 0.9")
    assert "sizing: only allowed when kind = 'load', not 'race'" in _errors(
        tmp_path, "confidence = 0.9", "race"
    )
