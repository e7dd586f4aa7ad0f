"""Target profiles (issue 14): loadgate drives a backend whose routes, field names, headers and error
codes all differ from API.md (tests/foreign_backend `--dialect alt`) through a second profile
(tests/profiles/foreign_alt.py), with the same flows, race drivers and oracle.

Real parts: the foreign backend on embedded PostgreSQL, real Locust processes started with the
orchestrator's launcher, `harness profile check` through the CLI entry point. About 40 s.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main as harness_main
from harness.db.base import recreate_database, with_database
from harness.profiles import plan_field
from harness.scenario import load_scenario
from tests.foreign_backend.running import ForeignService, foreign_service
from tests.integration.service_helpers import run_locust_plan

pytestmark = pytest.mark.integration

ALT = Path(__file__).resolve().parents[1] / "profiles" / "foreign_alt.py"
FLOWS = {
    "orders_created",
    "payments_initiated",
    "payments_captured",
    "agent_assignments",
    "deliveries_confirmed",
    "admin_metrics",
}


@pytest.fixture(scope="module")
def alt(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForeignService]:
    """The foreign backend in its alt dialect, bugs off, shared by the tests that only read it."""
    recreate_database(pg_admin_url, "profiles_alt")
    with foreign_service(
        with_database(pg_admin_url, "profiles_alt"), tmp_path_factory.mktemp("alt"), dialect="alt"
    ) as svc:
        yield svc


def _check(svc: ForeignService, profile: Path | None) -> tuple[int, str]:
    args = ["profile", "check", "--target", svc.base_url, "--fixtures", str(svc.fixtures_file)]
    if profile is not None:
        args += ["--profile", str(profile)]
    out = io.StringIO()
    with redirect_stdout(out):
        code = harness_main(args)
    return code, out.getvalue()


def test_profile_check_passes_with_the_right_profile_and_names_the_step_that_fails(
    alt: ForeignService, tmp_path: Path
) -> None:
    code, out = _check(alt, ALT)
    assert code == 0, out
    assert "profile foreign_alt: every step answered as the profile says" in out
    assert "capture again (error code)" in out, "the error-code mapping is checked too"

    # API.md's profile cannot even log in: its route does not exist on this backend.
    code, out = _check(alt, None)
    assert code == 1, out
    assert "step login (BUYER) failed: expected a 2xx answer (answered 404: " in out, out

    # One wrong route in an otherwise good profile: every step before it passes, it is named.
    wrong = tmp_path / "wrong_accept.py"
    wrong.write_text(ALT.read_text().replace("/claim", "/take"))
    code, out = _check(alt, wrong)
    assert code == 1, out
    assert "step accept failed: expected a 2xx answer (answered 404 NOT_FOUND" in out, out
    assert "ok   open_assignment" in out and "pickup" not in out

    # A users file (credentials only): the users log in through the profile, ids from read_user.
    args = [
        "profile",
        "check",
        "--target",
        alt.base_url,
        "--users",
        str(alt.users_file),
        "--profile",
        str(ALT),
    ]
    out_users = io.StringIO()
    with redirect_stdout(out_users):
        assert harness_main(args) == 0, out_users.getvalue()

    # An error code the profile does not map is not API.md's: the check says so.
    unmapped = tmp_path / "unmapped.py"
    unmapped.write_text(ALT.read_text().replace('"CHARGE_ALREADY_SETTLED": ', '"NOT_THIS": '))
    code, out = _check(alt, unmapped)
    assert code == 1, out
    assert "step capture again (error code) failed: expected error code PAYMENT_ALREADY_CAPTURED" in out


def _run_locust(svc: ForeignService, plan: dict[str, Any], run_dir: Path) -> list[dict[str, str]]:
    run_locust_plan(svc.base_url, svc.fixtures_file, {**plan, "profile": plan_field(str(ALT))}, run_dir)
    with (run_dir / "requests.csv").open() as f:
        return list(csv.DictReader(f))


def test_the_alt_profile_drives_the_peak_mix(alt: ForeignService, tmp_path: Path) -> None:
    plan: dict[str, Any] = {**load_scenario("peak_200").resolve(1200).to_json()}  # the peak mix, about 3 s
    rows = _run_locust(alt, plan, tmp_path / "run")
    names = {r["name"] for r in rows}
    assert names, "no requests"
    assert not [n for n in names if "/api/" in n], "every request speaks the alt dialect"
    assert {
        "POST /v2/purchases",
        "POST /v2/charges",
        "POST /v2/charges/{payment_id}/settle",
        "POST /v2/purchases/{order_id}/state",
        "POST /v2/delivery-jobs",
        "GET /v2/delivery-jobs",
        "POST /v2/delivery-jobs/{assignment_id}/claim",
        "POST /v2/delivery-jobs/{assignment_id}/complete",
    } <= names, names
    bad = [r for r in rows if not r["status"].startswith("2")]
    assert not bad, bad[:5]
    assert {r["flow"].split(":")[0] for r in rows if r["ts_intended"]} == FLOWS
    created = [r for r in rows if r["name"] == "POST /v2/purchases"]
    assert created and all(r["created_id"] and r["idempotency_key"] for r in created), (
        "ids read by the profile"
    )


def _race(svc: ForeignService, run_dir: Path, trials: int = 3) -> list[dict[str, Any]]:
    plan: dict[str, Any] = {**load_scenario("acceptance_race").resolve(None).to_json()}
    plan["race"]["trials"] = trials
    plan["duration_s"] = plan["phases"][0]["duration_s"] = trials * plan["race"]["interval_s"]
    _run_locust(svc, plan, run_dir)
    return [json.loads(line) for line in (run_dir / "races.jsonl").read_text().splitlines()]


def test_the_acceptance_race_oracle_passes_a_correct_accept(alt: ForeignService, tmp_path: Path) -> None:
    trials = _race(alt, tmp_path / "run")
    assert len(trials) == 3 and all(not t.get("error") for t in trials), trials
    for t in trials:
        assert t["winners"] == 1 == t["expected_winners"], t
        losers = {p["code"] for p in t["participants"] if p["status"] != 200}
        # The backend said JOB_ALREADY_CLAIMED / JOB_BUSY; the profile reads API.md's codes.
        assert losers and losers <= {"ASSIGNMENT_TAKEN", "ASSIGNMENT_LOCKED"}, t


def test_the_acceptance_race_oracle_fails_a_check_then_write_accept(
    make_database: Any, tmp_path: Path
) -> None:
    with foreign_service(make_database(), tmp_path / "backend", ("double_accept",), dialect="alt") as svc:
        trials = _race(svc, tmp_path / "run")
    assert len(trials) == 3 and all(not t.get("error") for t in trials), trials
    assert any(t["winners"] > t["expected_winners"] for t in trials), [t["winners"] for t in trials]


def test_profile_check_passes_on_the_reference_service_with_the_default_profile(
    service_stack: Any, tmp_path: Path
) -> None:
    from harness.profiles import check_profile, load, print_check

    stack = service_stack()
    profile = load("locustfiles.profiles.api_md")
    # A claimed buyer and agent: the check's top-up, capture and accept touch no other test's.
    mine = [stack.claim("BUYER"), stack.any("SELLER"), stack.claim("AGENT"), stack.any("ADMIN")]
    results = check_profile(stack.base_url, profile, {"users": mine})
    out = io.StringIO()
    assert print_check(results, profile, out) == 0, out.getvalue()
    assert [r.name for r in results if r.step == "accept"] == ["POST /api/shipping/assignments/{id}/accept"]
