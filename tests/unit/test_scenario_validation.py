"""Bad scenarios and suites stop before anything starts, naming the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.scenario import load_scenario, load_suite, load_target

GOOD_RATES = "[rates]\norders_created = 50\n"


def errors_of(tmp_path: Path, text: str) -> str:
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(InvalidInput) as info:
        load_scenario("bad", scenarios_dir=tmp_path)
    return str(info.value)


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    msg = errors_of(tmp_path, "duration_s = 10\nspedup = 3\n" + GOOD_RATES)
    assert "bad.toml: spedup: unknown key (did you mean 'speedup'?)" in msg


def test_wrong_type(tmp_path: Path) -> None:
    msg = errors_of(tmp_path, 'duration_s = "long"\n' + GOOD_RATES)
    assert "bad.toml: duration_s: must be a number, got string" in msg


def test_boolean_is_not_a_number(tmp_path: Path) -> None:
    msg = errors_of(tmp_path, "duration_s = 10\nmax_in_flight = true\n" + GOOD_RATES)
    assert "max_in_flight: must be an integer, got boolean" in msg


def test_negative_rate(tmp_path: Path) -> None:
    msg = errors_of(tmp_path, "duration_s = 10\n[rates]\norders_created = -5\n")
    assert "bad.toml: rates.orders_created: must be >= 0, got -5" in msg


def test_negative_phase_duration_names_the_phase_index(tmp_path: Path) -> None:
    text = '[[phases]]\nname = "a"\nduration_s = 10\n[[phases]]\nname = "b"\nduration_s = -5\n' + GOOD_RATES
    msg = errors_of(tmp_path, text)
    assert "bad.toml: phases[1].duration_s: must be > 0, got -5" in msg


def test_zero_speedup(tmp_path: Path) -> None:
    msg = errors_of(tmp_path, "duration_s = 10\nspeedup = 0\n" + GOOD_RATES)
    assert "speedup: must be > 0, got 0" in msg


def test_unknown_flow(tmp_path: Path) -> None:
    msg = errors_of(tmp_path, "duration_s = 10\n[rates]\norders_create = 5\n")
    assert "rates.orders_create: unknown flow (did you mean 'orders_created'?)" in msg


def test_unknown_race_kind(tmp_path: Path) -> None:
    text = 'kind = "race"\n[race]\nkind = "assignment_acept"\nparticipants = 3\ntrials = 2\n'
    msg = errors_of(tmp_path, text)
    assert "race.kind: must be one of" in msg and "did you mean 'assignment_accept'" in msg


def test_race_param_checks(tmp_path: Path) -> None:
    text = (
        'kind = "race"\n[race]\nkind = "wallet_capture"\nparticipants = 10\ntrials = 2\n'
        "[race.params]\naffordable = 10\nprice = 3\n"
    )
    msg = errors_of(tmp_path, text)
    assert "race.params.price: unknown key (did you mean 'price_cents'?)" in msg
    assert "race.params.affordable: must be < participants (10), got 10" in msg


def test_a_stagger_that_runs_into_the_next_trial_is_refused(tmp_path: Path) -> None:
    race = 'kind = "race"\n[race]\nkind = "cancel_capture"\nparticipants = 4\ntrials = 2\ninterval_s = 0.3\n'
    msg = errors_of(tmp_path, race + "[race.params]\nstagger_ms = 100\n")
    assert "race.params.stagger_ms: 100 ms x 3 (participants - 1) must be < interval_s (300 ms)" in msg
    msg = errors_of(tmp_path, race + "[race.params]\nstagger_ms = -1\n")
    assert "race.params.stagger_ms: must be >= 0, got -1" in msg


def test_missing_required_fields_and_kind_rules(tmp_path: Path) -> None:
    msg = errors_of(tmp_path, 'kind = "capacity"\n[[phases]]\nduration_s = 3\n')
    assert "phases[0].name: required" in msg
    assert "rates: required when kind = 'capacity'" in msg
    assert "capacity: required when kind = 'capacity'" in msg


def test_all_errors_are_reported_at_once(tmp_path: Path) -> None:
    msg = errors_of(tmp_path, 'speedup = -1\narrival = "burst"\nduration_s = 0\n[rates]\nfoo = 1\n')
    lines = [line for line in msg.splitlines() if "bad.toml" in line]
    assert len(lines) == 4, msg


def test_thresholds_and_faults_shape(tmp_path: Path) -> None:
    text = (
        "duration_s = 10\n"
        + GOOD_RATES
        + '[[thresholds]]\nmetric = 3\n[[faults]]\nkind = "x"\nstart_s = -1\n'
    )
    msg = errors_of(tmp_path, text)
    assert "thresholds[0].metric: must be a string, got integer" in msg
    assert "thresholds[0].expr: required" in msg
    assert "faults[0].start_s: must be >= 0, got -1" in msg
    assert "faults[0].duration_s: required" in msg


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    msg = errors_of(tmp_path, "duration_s = = 3\n")
    assert "bad.toml: not valid TOML" in msg


def test_unknown_scenario_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "steady_50.toml").write_text("duration_s = 1\n" + GOOD_RATES)
    with pytest.raises(InvalidInput) as info:
        load_scenario("steady_5", scenarios_dir=tmp_path)
    assert "unknown scenario 'steady_5' (did you mean 'steady_50'?)" in str(info.value)
    assert "steady_50" in str(info.value).split("known")[-1]


def test_bad_suite_member(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text("duration_s = 1\n" + GOOD_RATES)
    (tmp_path / "broken.toml").write_text("duration_s = -1\n" + GOOD_RATES)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "s.toml").write_text(
        'scenarios = ["good", "goood", "broken", { name = "good", x = 1 }]\n'
    )
    with pytest.raises(InvalidInput) as info:
        load_suite("s", scenarios_dir=tmp_path)
    msg = str(info.value)
    assert "s.toml: scenarios[1]: unknown scenario 'goood' (did you mean 'good'?)" in msg
    assert "s.toml: scenarios[2]: scenario 'broken' is invalid" in msg
    assert "broken.toml: duration_s: must be > 0, got -1" in msg
    assert "s.toml: scenarios[3].x: unknown key" in msg


def test_unknown_target(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    with pytest.raises(InvalidInput, match="unknown scenario or suite 'nope'"):
        load_target("nope", scenarios_dir=tmp_path)


def test_speedup_flag_must_be_positive(tmp_path: Path) -> None:
    (tmp_path / "ok.toml").write_text("duration_s = 1\n" + GOOD_RATES)
    with pytest.raises(InvalidInput, match="--speedup: must be > 0"):
        load_scenario("ok", scenarios_dir=tmp_path).resolve(0)
