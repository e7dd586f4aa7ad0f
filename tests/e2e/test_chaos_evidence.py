"""Jepsen-style evidence of a chaos run, and proof that it can fail: `health.csv` and `reconcile.json`
from a healthy service under a database pause and restart, then from a deliberately broken one
(`--defects`) that acknowledges orders before committing them and never reconnects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import csv_rows, db_health_during, read_json, run_chaos
from tests.e2e.test_chaos_run import RESTART  # the restart alone, 4 s to 6 s, 8 s of load after it
from tests.e2e.test_harness_run import TINY_LOAD

pytestmark = pytest.mark.e2e

# 14 s of the peak mix at x300: the database is paused 4 s to 8 s, then restarted at 9 s.
PAUSE_THEN_RESTART = (
    TINY_LOAD.replace("speedup = 600", "speedup = 300")
    + """
[[faults]]
kind = "db_pause"
start_s = 1200
duration_s = 1200

[[faults]]
kind = "db_restart"
start_s = 2700
duration_s = 600
"""
)


def test_a_healthy_service_loses_nothing_and_its_health_shows_the_fault(harness: Any, tmp_path: Path) -> None:
    run_dir, faults = run_chaos(harness, tmp_path, PAUSE_THEN_RESTART)
    assert read_json(run_dir / "run.json")["defects"] == []

    reconcile = read_json(run_dir / "reconcile.json")
    assert reconcile["acknowledged"]["checked"] > 100
    assert reconcile["acknowledged"]["missing"] == 0, reconcile["acknowledged"]["examples"]
    assert reconcile["indeterminate"]["total"] > 0, "the faults left some writes unanswered"
    assert reconcile["indeterminate"]["more_than_once"] == 0, reconcile["indeterminate"]["examples"]
    assert reconcile["idempotent_retries"]["keys"] > 0, "clients retried across the faults"
    assert reconcile["idempotent_retries"]["duplicate_effects"] == 0, reconcile["idempotent_retries"]

    requests = csv_rows(run_dir / "requests.csv")
    retried = [
        r for r in requests if r["idempotency_key"] and not r["ts_intended"] and r["flow"] == "orders_created"
    ]
    assert retried, "a retry is a row of its own, without an intended send time"

    health = csv_rows(run_dir / "health.csv")
    assert {r["endpoint"] for r in health} == {"live", "ready", "db"}
    assert all(r["status"] == "200" for r in health if r["endpoint"] == "live"), (
        "live never depends on the database"
    )
    pause = next(f for f in faults if f["kind"] == "db_pause")
    db_health_during(health, pause)  # seen failing, and never healthy while still paused
    db = [r for r in health if r["endpoint"] == "db"]
    last = max(float(r["ts"]) for r in db if r["status"] == "200")
    assert last > faults[-1]["end"], "db healthy again after the restart"


def test_the_checks_fail_on_a_service_that_acknowledges_before_commit_and_never_reconnects(
    harness: Any, tmp_path: Path
) -> None:
    run_dir, faults = run_chaos(harness, tmp_path, RESTART, "--defects", "ack_before_commit,no_reconnect")
    assert read_json(run_dir / "run.json")["defects"] == ["ack_before_commit", "no_reconnect"]

    reconcile = read_json(run_dir / "reconcile.json")
    lost = reconcile["acknowledged"]
    assert lost["missing"] > 0, "orders answered 201 before a COMMIT the restart prevented are lost"
    assert {e["name"] for e in lost["examples"]} == {"POST /api/orders"}

    end = faults[0]["end"]
    orders_after = [
        r
        for r in csv_rows(run_dir / "requests.csv")
        if r["name"] == "POST /api/orders" and float(r["ts"]) > end
    ]
    assert orders_after, "orders kept arriving after the fault"
    assert not any(r["status"].startswith("2") for r in orders_after), "no order succeeds after the restart"
    health = csv_rows(run_dir / "health.csv")
    assert not any(r["endpoint"] == "db" and r["status"] == "200" and float(r["ts"]) > end for r in health)
