"""The locustfile as the harness runs it: real `locust` processes, a short plan, real evidence.

Each test runs against two targets: the in-memory stub of API.md (proves the Locust mechanics
alone) and the real reference service on a fresh PostgreSQL database (skipped until the service
and `harness.service_process` exist). Locust is started with the orchestrator's own launcher
(`harness.locust_runner.LocustProcesses`), so the command lines tested are the ones a run uses.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.db.base import free_port
from harness.processes import stop
from harness.scenario import load_scenario
from loadgate_contract.files import REQUEST_COLUMNS as COLUMNS
from loadgate_contract.plan import PlanDoc
from tests.integration.service_helpers import run_locust_plan

pytestmark = pytest.mark.integration

STUB = Path(__file__).with_name("locust_stub_api.py")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


@dataclass
class Target:
    base_url: str
    fixtures: Path


def _wait_http(url: str, deadline_s: float = 20.0) -> None:
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {deadline_s}s")


@pytest.fixture(params=["stub", "service"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """An API.md backend on loopback with its fixtures file; stopped at the end."""
    fixtures = tmp_path / "fixtures.json"
    if request.param == "stub":
        from tests.integration import locust_stub_api

        fixtures.write_text(json.dumps(locust_stub_api.fixtures(n_agents=12)))
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(STUB), str(port), str(fixtures)], start_new_session=True)
        try:
            _wait_http(f"http://127.0.0.1:{port}/health/live")
            yield Target(f"http://127.0.0.1:{port}", fixtures)
        finally:
            stop(proc, grace_s=5)
        return
    service_process = pytest.importorskip("harness.service_process")
    if not (Path(__file__).parents[2] / "reference_service" / "routes" / "shipping.py").exists():
        pytest.skip("reference_service has no shipping routes yet")
    from harness.stack import migrate_and_seed

    make_database: Callable[[], str] = request.getfixturevalue("make_database")  # PostgreSQL only here
    database_url = make_database()
    migrate_and_seed(database_url, fixtures)
    service = service_process.ServiceProcess(
        database_url, log_file=tmp_path / "service.jsonl", output_file=tmp_path / "service.log"
    )
    service.start()
    try:
        yield Target(service.base_url, fixtures)
    finally:
        service.stop()


def _run_locust(target: Target, plan: PlanDoc, run_dir: Path, workers: int = 0) -> None:
    run_locust_plan(target.base_url, target.fixtures, plan, run_dir, workers)


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "requests.csv").open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_load_plan_writes_raw_samples(target: Target, tmp_path: Path) -> None:
    plan = load_scenario("steady_50").resolve(600).to_json()  # 30 nominal minutes in 3 s
    expected = sum(
        p["rates_per_hour"][f] * p["duration_s"] / 3600 for p in plan["phases"] for f in p["rates_per_hour"]
    )
    _run_locust(target, plan, tmp_path / "run")
    rows = _rows(tmp_path / "run")
    arrivals = [r for r in rows if r["ts_intended"]]
    # Each arrival's first request carries its intended time: a Poisson count, 4 sd bounds.
    assert abs(len(arrivals) - expected) < 4 * math.sqrt(expected), (len(arrivals), expected)
    assert {r["flow"].split(":")[0] for r in arrivals} >= {"orders_created", "payments_initiated"}
    assert all(
        not UUID.search(r["name"]) and r["name"].split(" ")[0] in {"GET", "POST", "PATCH"} for r in rows
    )
    assert "POST /api/shipping/assignments/{id}/accept" in {r["name"] for r in rows}
    assert all(r["status"] != "0" for r in rows), [r for r in rows if r["status"] == "0"][:3]
    assert all(r["created_id"] for r in rows if r["status"] == "201")
    assert {r["phase"] for r in rows} <= {"steady", "after"}
    for r in arrivals:
        assert float(r["ts"]) >= float(r["ts_intended"]) - 0.001


def _race_plan(trials: int) -> PlanDoc:
    plan = load_scenario("acceptance_race").resolve(None)
    assert plan.race is not None
    duration = trials * plan.race.interval_s
    phase = dataclasses.replace(plan.phases[0], duration_s=duration)
    race = dataclasses.replace(plan.race, trials=trials)
    return dataclasses.replace(plan, race=race, phases=(phase,), duration_s=duration).to_json()


def _check_races(run_dir: Path, trials: int) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (run_dir / "races.jsonl").read_text().splitlines()]
    # A line is written when its trial completes: a slow trial 0 may land after trial 1.
    assert sorted(t["trial"] for t in lines) == list(range(trials))
    for t in lines:
        assert t["kind"] == "assignment_accept" and len(t["participants"]) == 10
        assert t["winners"] == 1 == t["expected_winners"], t
        losers = {p["code"] for p in t["participants"] if p["status"] != 200}
        assert losers <= {"ASSIGNMENT_TAKEN", "ASSIGNMENT_LOCKED"}, t
        sent = [p["sent_at"] for p in t["participants"]]
        assert max(sent) - min(sent) < 0.25, "participants must fire together"
    return lines


def test_acceptance_race_one_winner_per_trial(target: Target, tmp_path: Path) -> None:
    _run_locust(target, _race_plan(3), tmp_path / "run")
    _check_races(tmp_path / "run", 3)
    accepts = [r for r in _rows(tmp_path / "run") if r["flow"] == "race"]
    assert len(accepts) == 30


def test_acceptance_race_across_two_workers(target: Target, tmp_path: Path) -> None:
    _run_locust(target, _race_plan(3), tmp_path / "run", workers=2)
    trials = _check_races(tmp_path / "run", 3)
    assert {p["worker"] for t in trials for p in t["participants"]} == {0, 1}
    rows = _rows(tmp_path / "run")
    assert {r["worker"] for r in rows if r["flow"] == "race"} == {"0", "1"}
    assert len([r for r in rows if r["flow"] == "race"]) == 30
