"""`harness run` as a user runs it: real PostgreSQL, real service, real Locust, real report.

Each run is seconds long (a high speed-up) and every test checks the run folder, the exit status
and that no process the harness started outlives it.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, csv_rows, read_json, scenario_file

pytestmark = pytest.mark.e2e

TINY_LOAD = """
name = "tiny_load"
description = "end-to-end test: the peak mix for a few seconds"
kind = "load"
speedup = 600
arrival = "poisson"
seed = 7

[rates]
orders_created = 200
payments_initiated = 200
payments_captured = 120
deliveries_confirmed = 80
agent_assignments = 150
admin_metrics = 50

[[phases]]
name = "warmup"
duration_s = 600
scale = 0.25

[[phases]]
name = "steady"
duration_s = 3600
"""


def test_a_short_load_run_leaves_complete_evidence_and_a_verdict(harness: Any, tmp_path: Path) -> None:
    scenario = scenario_file(tmp_path, TINY_LOAD)
    run = harness("run", str(scenario))
    code, out = run.finish(timeout_s=180)
    assert code in (0, 1), out
    run_dir = run.run_dir()
    assert run_dir is not None, out
    record = read_json(run_dir / "run.json")
    assert record["status"] == "complete", record.get("errors")
    assert record["speedup"] == 600
    assert record["nominal_rates_per_hour"]["orders_created"] == pytest.approx(200)
    assert record["effective_rates_per_hour"]["orders_created"] == pytest.approx(200 * 600)
    assert [p["nominal"]["orders_created"] for p in record["phase_rates"]] == pytest.approx([50, 200])
    assert {p["name"] for p in record["processes"]} >= {"service", "locust"}

    rows = csv_rows(run_dir / "requests.csv")
    created = [r for r in rows if r["name"] == "POST /api/orders" and r["flow"] == "orders_created"]
    # Each arrival's first request carries its intended send time (a dropped one too); a create
    # retried after a 503 (a busy machine) is one more sample with the failed attempt's key and none.
    arrivals = [r for r in created if r["ts_intended"]]
    retries = [r for r in created if not r["ts_intended"]]
    # 200/h x (0.25 x 600 s + 3600 s) / 3600 = 208 orders nominal, the same at every speed-up.
    expected = 200 * (0.25 * 600 + 3600) / 3600
    assert abs(len(arrivals) - expected) < 4 * math.sqrt(expected), (len(arrivals), expected)
    failed_keys = {r["idempotency_key"] for r in arrivals if not r["status"].startswith("2")}
    assert all(r["idempotency_key"] and r["idempotency_key"] in failed_keys for r in retries), retries[:3]
    assert not any("/api/orders/" in r["name"] and "{" not in r["name"] for r in rows), "names are templates"

    assert csv_rows(run_dir / "pool.csv"), "pool sampled every second"
    probes = read_json(run_dir / "probes.json")
    assert probes["probes"] and all(p["violations"] == 0 for p in probes["probes"]), probes
    assert (run_dir / "service.jsonl").stat().st_size > 0
    for name in ("report.html", "summary.json", "junit.xml", "summary.md"):
        assert (run_dir / name).exists(), name
    assert run.survivors() == {}


def test_ctrl_c_half_way_keeps_the_evidence_marks_it_incomplete_and_leaves_no_process(
    harness: Any, tmp_path: Path
) -> None:
    scenario = scenario_file(tmp_path, TINY_LOAD.replace("speedup = 600", "speedup = 60"))
    run = harness("run", str(scenario), sigint_ignored=True)  # as from a background job or CI runner

    def has_samples() -> bool:
        run_dir = run.run_dir()
        requests = run_dir / "requests.csv" if run_dir else None
        return bool(requests and requests.exists() and len(csv_rows(requests)) > 5)

    assert run.wait_for(has_samples, timeout_s=90), run.finish(5)[1]
    os.killpg(run.proc.pid, signal.SIGINT)
    code, out = run.finish(timeout_s=90)
    assert code == 130, out
    run_dir = run.run_dir()
    assert run_dir is not None
    record = read_json(run_dir / "run.json")
    assert record["status"] == "incomplete"
    assert any("interrupted" in e["message"] for e in record["errors"])
    assert len(csv_rows(run_dir / "requests.csv")) > 5
    assert run.survivors() == {}, run.survivors()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "incomplete" in json.dumps(summary).lower()


@pytest.mark.parametrize(("victim", "message"), [("service", "service exited"), ("locust", "Locust exited")])
def test_a_crash_mid_run_marks_the_run_incomplete_and_stops_everything(
    harness: Any, tmp_path: Path, victim: str, message: str
) -> None:
    scenario = scenario_file(tmp_path, TINY_LOAD.replace("speedup = 600", "speedup = 60"))
    run = harness("run", str(scenario), "--no-report")

    def victim_pid() -> int | None:
        run_dir = run.run_dir()
        if not run_dir or not (run_dir / "requests.csv").exists():
            return None
        for proc in read_json(run_dir / "run.json").get("processes", []):
            if proc["name"] == victim and proc.get("pid"):
                return int(proc["pid"])
        return None

    assert run.wait_for(lambda: victim_pid() is not None, timeout_s=90), run.finish(5)[1]
    pid = victim_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    code, out = run.finish(timeout_s=90)
    run_dir = run.run_dir()
    assert run_dir is not None
    record = read_json(run_dir / "run.json")
    assert record["status"] == "incomplete", out
    assert any(message in e["message"] for e in record["errors"]), record["errors"]
    assert (run_dir / "requests.csv").stat().st_size > 0, "evidence written before the crash stays"
    assert run.survivors() == {}, run.survivors()
    assert code == 0  # --no-report: nothing judged; the harness itself did its job


def test_a_bad_scenario_stops_before_anything_starts(harness: Any, tmp_path: Path) -> None:
    bad = scenario_file(tmp_path, TINY_LOAD.replace("orders_created = 200", "orders_created = -5"), "bad")
    run = harness("run", str(bad))
    code, out = run.finish(timeout_s=60)
    assert code == 2
    assert "bad.toml" in out and "orders_created" in out
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert run.seen == {} or run.survivors() == {}


def test_list_into_a_reader_that_left_exits_quietly() -> None:
    """`harness list | head`: the reader may go before the list is written, which is no error."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # no reader at all: the first write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "list"],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
