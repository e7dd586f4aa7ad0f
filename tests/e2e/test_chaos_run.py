"""A fault on the scenario's timeline is injected during the load, logged, reverted, and survived."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import read_json, scenario_file
from tests.e2e.test_harness_run import TINY_LOAD

pytestmark = pytest.mark.e2e

RESTART = (
    TINY_LOAD.replace("speedup = 600", "speedup = 300")
    + """
[[faults]]
kind = "db_restart"
start_s = 1200
duration_s = 600
"""
)


def test_a_database_restart_mid_load_is_logged_and_the_service_recovers_by_itself(
    harness: Any, tmp_path: Path
) -> None:
    run = harness("run", str(scenario_file(tmp_path, RESTART)), "--no-report")
    code, out = run.finish(timeout_s=180)
    assert code == 0, out
    run_dir = run.run_dir()
    assert run_dir is not None
    record = read_json(run_dir / "run.json")
    assert record["status"] == "complete", record["errors"]
    faults = [json.loads(line) for line in (run_dir / "faults.jsonl").read_text().splitlines()]
    assert [(f["kind"], f["outcome"]) for f in faults] == [("db_restart", "applied")]
    end = faults[0]["end"]
    with open(run_dir / "requests.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    after = [r for r in rows if float(r["ts"]) > end + 1.0]
    assert after and any(r["status"].startswith("2") for r in after), "the pool reconnected without a restart"
    service_pids = {p["pid"] for p in record["processes"] if p["name"] == "service"}
    assert len(service_pids) == 1, "the service was not restarted"
    probes = read_json(run_dir / "probes.json")
    assert all(p["violations"] == 0 for p in probes["probes"]), probes
    assert run.survivors() == {}
