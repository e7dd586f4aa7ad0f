"""Target profiles, the pure parts: loading, names and aliases, readers, and the consumers that
match on names (reconciliation rows, report scopes). No network, no Locust."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from harness.errors import InvalidInput
from harness.profiles import canonical_names, load, plan_field, resolve_spec
from harness.reconcile import read_rows
from harness.scenario import load_scenario
from locustfiles.common.profile import (
    DEFAULT_PROFILE,
    OrderView,
    Step,
    field_reader,
    load_profile,
    mapped_codes,
    plan_profile,
)
from reports.scope import matching_names

ALT = Path(__file__).resolve().parents[1] / "profiles" / "foreign_alt.py"


def test_api_md_profile_keeps_the_report_names_of_every_step() -> None:
    names = load_profile(None).names()
    assert names["create_order"] == "POST /api/orders"
    assert names["capture"] == "POST /api/payments/{id}/capture"
    assert names["accept"] == "POST /api/shipping/assignments/{id}/accept"
    assert names["agent_metrics"] == "GET /api/admin/agents/metrics/{agentId}"
    assert names["list_assignments"] == "GET /api/shipping/assignments"
    assert plan_field(DEFAULT_PROFILE)["aliases"] == {}, "API.md's run renames nothing"


def test_a_profile_file_gives_its_own_names_and_their_api_md_aliases() -> None:
    field = plan_field(resolve_spec(str(ALT)))
    assert field["module"] == str(ALT)
    assert field["names"]["accept"] == "POST /v2/delivery-jobs/{assignment_id}/claim"
    assert field["aliases"]["POST /v2/delivery-jobs/{assignment_id}/claim"] == (
        "POST /api/shipping/assignments/{id}/accept"
    )
    assert canonical_names({"profile": field}) == field["aliases"]
    assert canonical_names({}) == {}


def test_a_worker_without_the_file_loads_the_profile_the_plan_carries(tmp_path: Path) -> None:
    """A remote worker needs only plan.json: the file's text rides in `profile.source`."""
    copy = tmp_path / "ours.py"
    copy.write_text(ALT.read_text())
    field = plan_field(str(copy))
    assert field["source"] == ALT.read_text()
    assert plan_field(DEFAULT_PROFILE)["source"] is None, "a dotted module is imported, not copied"
    absent = str(tmp_path / "absent" / "ours.py")  # the master's path, missing on the worker
    assert plan_profile(absent, field["source"]).names() == field["names"]
    # A file that differs from what the master ran is not used: the plan's text is.
    other = tmp_path / "other.py"
    other.write_text(ALT.read_text().replace("/v2/purchases", "/v3/elsewhere"))
    assert plan_profile(str(other), field["source"]).names() == field["names"]
    assert plan_profile(str(other), None).names()["create_order"] == "POST /v3/elsewhere"


def test_a_broken_profile_is_bad_input_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    with pytest.raises(InvalidInput, match="defines no PROFILE"):
        load(str(empty))
    with pytest.raises(InvalidInput, match="no such file"):
        load(str(tmp_path / "missing.py"))
    with pytest.raises(InvalidInput, match="ModuleNotFoundError"):
        load("no_such_package.profile")


def test_steps_fill_paths_and_bodies_from_their_arguments() -> None:
    step = load_profile(None).change_status
    args = {"order_id": "o1", "status": "CONFIRMED"}
    assert (step.method, step.url(args), step.json(args)) == (
        "PATCH",
        "/api/orders/o1",
        {"status": "CONFIRMED"},
    )
    listing = Step("GET", "/x", query="status=OPEN")
    assert listing.url({}) == "/x?status=OPEN" and listing.name == "GET /x" and listing.json({}) is None


def test_readers_and_mapped_error_codes() -> None:
    assert field_reader("a", "b")({"a": {"b": 3}}) == 3
    assert field_reader("a", "b")({"a": 1}) is None
    code = mapped_codes(field_reader("error", "reason"), {"JOB_BUSY": "ASSIGNMENT_LOCKED"})
    assert code({"error": {"reason": "JOB_BUSY"}}) == "ASSIGNMENT_LOCKED"
    assert code({"error": {"reason": "ODD"}}) == "ODD", "an unmapped code passes through"
    assert code("not json") == ""
    alt = load_profile(str(ALT))
    assert alt.error_code({"error": {"reason": "CHARGE_ALREADY_SETTLED"}}) == "PAYMENT_ALREADY_CAPTURED"
    view = alt.read_order.read(
        {"uid": "o", "charge": {"uid": "p", "phase": "CAPTURED"}, "deliveryJobs": [{"uid": "j"}]}
    )  # type: ignore[misc]
    assert view == OrderView("o", "p", True, ("j",))


def test_the_reconciliation_reads_a_profile_s_rows_by_their_aliases(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, ["name", "status", "created_id"])
        w.writeheader()
        w.writerow({"name": "POST /v2/purchases", "status": "201", "created_id": "o1"})
        w.writerow({"name": "POST /v2/sessions", "status": "200", "created_id": ""})
        w.writerow({"name": "GET /v2/balances/{wallet_id}", "status": "200", "created_id": ""})
    aliases = plan_field(str(ALT))["aliases"]
    assert [r["name"] for r in read_rows(path, aliases)] == ["POST /api/orders"], "a login is no write"


def test_threshold_scopes_match_a_profile_s_names_through_their_aliases() -> None:
    aliases = plan_field(str(ALT))["aliases"]
    names = ["POST /v2/purchases", "POST /v2/delivery-jobs/{assignment_id}/claim", "POST /v2/sessions"]
    core = ["POST /api/orders", "POST /api/shipping/assignments/{id}/*"]
    assert matching_names(names, core, aliases) == names[:2]
    assert matching_names(names, core) == [], "without the aliases nothing matches"


def test_a_scenario_s_profile_file_is_relative_to_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "s"\ndescription = "d"\nkind = "load"\nprofile = "p/mine.py"\nduration_s = 60\n'
        "[rates]\norders_created = 10\n"
    )
    assert load_scenario(path).profile == str((tmp_path / "p" / "mine.py").resolve())
    path.write_text(path.read_text().replace('"p/mine.py"', '"team.profile"'))
    assert load_scenario(path).profile == "team.profile", "a dotted module stays as written"
    path.write_text(path.read_text().replace('"team.profile"', "3"))
    with pytest.raises(InvalidInput, match="profile"):
        load_scenario(path)
