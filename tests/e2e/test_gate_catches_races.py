"""The gate's reason to exist: the same race scenario passes with its safeguard and fails without."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import read_json

pytestmark = pytest.mark.e2e


def _trials(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "races.jsonl").read_text().splitlines() if line]


# Without its lock, acceptance_race fails the gate with two winners: tests/e2e/test_matrix.py (the
# bounded detection matrix runs it beside a clean run of the same scenario).


def test_acceptance_race_across_two_workers_has_one_winner_per_trial(harness: Any) -> None:
    run = harness("run", "acceptance_race", "--speedup", "2", "--workers", "2")
    code, out = run.finish(timeout_s=180)
    run_dir = run.run_dir()
    assert run_dir is not None, out
    record = read_json(run_dir / "run.json")
    assert record["status"] == "complete", record["errors"]
    assert {p["name"] for p in record["processes"]} >= {"locust-master", "locust-worker-0", "locust-worker-1"}
    trials = _trials(run_dir)
    assert trials and all(t["winners"] == 1 for t in trials), [t["winners"] for t in trials]
    with open(run_dir / "requests.csv", newline="") as fh:
        workers = {row["worker"] for row in csv.DictReader(fh)}
    assert len(workers) >= 2, f"samples from both workers gathered into one file: {workers}"
    assert code == 0, out
    assert run.survivors() == {}


def test_cancel_capture_race_with_the_refund_broken_fails_the_gate(harness: Any) -> None:
    """The new order races end to end (their winners rule and money probe), one case: ~20 s.

    The others are shown against the service itself, cheaper (tests/integration/
    test_reference_order_races.py); `harness run order_races` with the switches of
    docs/business-rules.md fails all four.
    """
    run = harness("run", "cancel_capture_race", "--defects", "cancel_keeps_money")
    code, out = run.finish(timeout_s=180)
    run_dir = run.run_dir()
    assert run_dir is not None, out
    assert code == 1, out
    assert all(t["winners"] == 1 for t in _trials(run_dir)), "one cancel wins; the money is what breaks"
    probes = {p["name"]: p for p in read_json(run_dir / "probes.json")["probes"]}
    assert probes["cancelled_order_payment_nets_zero"]["violations"] >= 1
    assert run.survivors() == {}
