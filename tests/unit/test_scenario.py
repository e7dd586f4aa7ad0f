"""The scenario model: rate and time arithmetic, phase and step resolution, the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.scenario import (
    FLOWS,
    Kind,
    RaceKind,
    list_scenarios,
    load_scenario,
    load_suite,
    load_target,
)
from loadgate_contract.plan import Plan, PlanDoc

RATES = """
[rates]
orders_created = 200
payments_initiated = 200
payments_captured = 120
deliveries_confirmed = 80
agent_assignments = 150
admin_metrics = 50
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_speedup_multiplies_rates_divides_durations_and_keeps_the_count(tmp_path: Path) -> None:
    write(tmp_path, "s", 'kind = "load"\nspeedup = 60\nduration_s = 1800\n' + RATES)
    scenario = load_scenario("s", scenarios_dir=tmp_path)
    slow, fast = scenario.resolve(1), scenario.resolve(None)
    assert fast.speedup == 60.0
    assert fast.duration_s == pytest.approx(30.0)
    assert slow.duration_s == pytest.approx(1800.0)
    phase = fast.phases[0]
    assert phase.rates_per_hour["orders_created"] == pytest.approx(12000.0)
    assert phase.nominal_rates_per_hour["orders_created"] == pytest.approx(200.0)
    for flow in FLOWS:
        assert fast.expected_arrivals(flow) == pytest.approx(slow.expected_arrivals(flow))
    assert fast.expected_arrivals("orders_created") == pytest.approx(100.0)


def test_phases_are_consecutive_and_merge_rates_and_scale(tmp_path: Path) -> None:
    text = (
        'speedup = 10\n[[phases]]\nname = "warmup"\nduration_s = 100\nrates = { orders_created = 50 }\n'
        '[[phases]]\nname = "burst"\nduration_s = 300\n'
        '[[phases]]\nname = "cooldown"\nduration_s = 50\nscale = 0.5\n' + RATES
    )
    write(tmp_path, "p", text)
    plan = load_scenario("p", scenarios_dir=tmp_path).resolve(None)
    assert [(p.name, p.start_s, p.duration_s) for p in plan.phases] == [
        ("warmup", 0.0, 10.0),
        ("burst", 10.0, 30.0),
        ("cooldown", 40.0, 5.0),
    ]
    assert plan.duration_s == pytest.approx(45.0)
    warmup, _, cooldown = plan.phases
    assert warmup.nominal_rates_per_hour["orders_created"] == 50.0
    assert warmup.nominal_rates_per_hour["payments_captured"] == 120.0  # not overridden: scenario rate
    assert cooldown.rates_per_hour["admin_metrics"] == pytest.approx(50 * 0.5 * 10)


def test_capacity_resolves_into_geometric_steps_after_its_phases(tmp_path: Path) -> None:
    text = (
        'kind = "capacity"\nspeedup = 2\n[[phases]]\nname = "warmup"\nduration_s = 20\n'
        "[capacity]\nstart_scale = 1.0\nstep_factor = 2.0\nstep_duration_s = 60\nmax_steps = 3\n" + RATES
    )
    write(tmp_path, "c", text)
    plan = load_scenario("c", scenarios_dir=tmp_path).resolve(None)
    assert [p.name for p in plan.phases] == ["warmup", "step-1", "step-2", "step-3"]
    assert [p.nominal_rates_per_hour["orders_created"] for p in plan.phases] == [200, 200, 400, 800]
    assert plan.phases[3].rates_per_hour["orders_created"] == 1600
    assert plan.phases[3].start_s == pytest.approx(10 + 30 + 30)
    assert plan.duration_s == pytest.approx(100.0)


def test_race_plan_has_one_race_phase_with_zero_rates(tmp_path: Path) -> None:
    text = (
        'kind = "race"\n[race]\nkind = "assignment_accept"\nparticipants = 10\ntrials = 5\ninterval_s = 2\n'
    )
    write(tmp_path, "r", text)
    plan = load_scenario("r", scenarios_dir=tmp_path).resolve(2)
    assert plan.race is not None and plan.race.kind is RaceKind.ASSIGNMENT_ACCEPT
    assert plan.race.interval_s == 1.0
    assert [(p.name, p.duration_s) for p in plan.phases] == [("race", 5.0)]
    assert set(plan.phases[0].rates_per_hour.values()) == {0.0}


def test_plan_json_has_exactly_the_contract_keys(tmp_path: Path) -> None:
    text = (
        'speedup = 4\nduration_s = 40\n[[thresholds]]\nmetric = "p95_ms"\nexpr = "p(95) < 500"\n'
        'severity = "critical"\n'
        '[[faults]]\nkind = "db_pause"\nstart_s = 8\nduration_s = 4\n' + RATES
    )
    write(tmp_path, "j", text)
    plan = load_scenario("j", scenarios_dir=tmp_path).resolve(None)
    doc = json.loads(json.dumps(plan.to_json()))
    assert Plan.from_json(doc) == plan  # what the Locust side reads back is what the harness resolved
    assert list(doc) == list(PlanDoc.__annotations__)
    assert list(doc) == [
        "scenario",
        "kind",
        "speedup",
        "arrival",
        "seed",
        "max_in_flight",
        "request_timeout_s",
        "duration_s",
        "phases",
        "race",
        "faults",
        "thresholds",
        "tls",
        "profile",
    ]
    assert doc["scenario"] == "j" and doc["kind"] == "load" and doc["arrival"] == "poisson"
    assert doc["race"] is None
    assert list(doc["phases"][0]) == [
        "name",
        "start_s",
        "duration_s",
        "rates_per_hour",
        "nominal_rates_per_hour",
    ]
    assert list(doc["phases"][0]["rates_per_hour"]) == list(FLOWS)
    assert doc["faults"][0]["start_s"] == 2.0 and doc["faults"][0]["duration_s"] == 1.0
    assert doc["thresholds"] == [{"metric": "p95_ms", "expr": "p(95) < 500", "severity": "critical"}]


def test_shipped_scenarios_validate_and_fit_the_release_budget() -> None:
    scenarios = {s.name: s for s in list_scenarios()}
    assert set(scenarios) >= {
        "steady_50",
        "peak_200",
        "acceptance_race",
        "status_race",
        "wallet_race",
        "idempotency_race",
        "capacity",
    }
    for s in scenarios.values():
        assert "seed" in s.description, f"{s.name} must cite the seed it comes from"
    steady = scenarios["steady_50"].resolve(None)
    assert steady.phases[0].nominal_rates_per_hour == {
        "orders_created": 50,
        "payments_initiated": 50,
        "payments_captured": 30,
        "deliveries_confirmed": 20,
        "agent_assignments": 40,
        "admin_metrics": 10,
    }
    assert scenarios["steady_50"].nominal_duration_s == 1800
    peak = scenarios["peak_200"].resolve(None)
    burst = next(p for p in peak.phases if p.name == "burst")
    assert burst.nominal_rates_per_hour["orders_created"] == 200
    assert burst.duration_s * peak.speedup == 300
    assert peak.phases[0].name == "warmup"
    races = {
        "acceptance_race": (RaceKind.ASSIGNMENT_ACCEPT, 10),
        "status_race": (RaceKind.STATUS_CHANGE, 5),
        "wallet_race": (RaceKind.WALLET_CAPTURE, 100),
        "idempotency_race": (RaceKind.IDEMPOTENT_CREATE, 20),
        "confirm_cancel_race": (RaceKind.CONFIRM_CANCEL, 4),
        "capture_race": (RaceKind.PAYMENT_CAPTURE, 5),
        "cancel_capture_race": (RaceKind.CANCEL_CAPTURE, 4),
        "assignment_open_race": (RaceKind.ASSIGNMENT_OPEN, 4),
    }
    for name, (kind, participants) in races.items():
        race = scenarios[name].race
        assert race is not None and race.kind is kind and race.participants == participants
        assert scenarios[name].resolve(None).duration_s <= 20
    suite = load_suite("release")
    plans = [e.resolve() for e in suite.entries]
    assert [p.scenario for p in plans] == ["steady_50", "peak_200", *races, "chaos_db_restart"]
    assert [f.kind for f in plans[-1].faults] == ["db_restart"]
    # make run must stay under 5 minutes on 2 cores: load time plus about 5 s of start-up per scenario
    assert sum(p.duration_s for p in plans) <= 200
    assert scenarios["capacity"].kind is Kind.CAPACITY


def test_load_target_wraps_a_scenario_and_overrides_speedup() -> None:
    suite = load_target("steady_50", speedup=120)
    assert [e.scenario.name for e in suite.entries] == ["steady_50"]
    assert suite.entries[0].resolve().duration_s == pytest.approx(15.0)
    assert len(load_target("release").entries) == 11


def test_suite_speedup_override(tmp_path: Path) -> None:
    write(tmp_path, "a", "duration_s = 100\nspeedup = 10\n" + RATES)
    (tmp_path / "suites").mkdir()
    write(tmp_path / "suites", "s", 'scenarios = ["a", { name = "a", speedup = 50 }]\n')
    suite = load_suite("s", scenarios_dir=tmp_path)
    assert [e.resolve().duration_s for e in suite.entries] == [10.0, 2.0]


def test_orchestrator_facing_helpers() -> None:
    from harness.scenario import list_suites, suite_exists

    assert suite_exists("release") and not suite_exists("steady_50")
    release = next(s for s in list_suites() if s.name == "release")
    assert [m.name for m in release.scenarios][:2] == ["steady_50", "peak_200"]
    assert load_scenario("steady_50").path.name == "steady_50.toml"


def test_a_suite_may_list_scenario_files_relative_to_itself(tmp_path: Path) -> None:
    team = tmp_path / "team"
    team.mkdir()
    write(team, "their_load", "duration_s = 100\nspeedup = 10\n" + RATES)
    (tmp_path / "suites").mkdir()
    write(tmp_path / "suites", "s", 'scenarios = ["../team/their_load.toml"]\n')
    suite = load_suite(tmp_path / "suites" / "s.toml", scenarios_dir=tmp_path)
    assert [m.name for m in suite.scenarios] == ["their_load"]
    write(tmp_path / "suites", "bad", 'scenarios = ["../team/nope.toml"]\n')
    with pytest.raises(InvalidInput, match=r"nope\.toml: no such scenario file"):
        load_suite(tmp_path / "suites" / "bad.toml", scenarios_dir=tmp_path)


def test_harness_run_suggests_a_suite_for_a_misspelt_name() -> None:
    from harness.orchestrate import plan_all

    suggestion = r"unknown scenario or suite 'relese' \(did you mean 'release'\?\)"
    with pytest.raises(InvalidInput, match=suggestion):
        plan_all("relese", None, "embedded")
