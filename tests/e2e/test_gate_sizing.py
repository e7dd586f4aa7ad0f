"""A sized run judges the low-volume endpoints: a slow pickup fails the gate by name.

Without sizing, a short run of the documented mix sends ~13 pickups, under the 20 a P95 needs:
the check was "insufficient data", which passes, whatever the endpoint's latency. The same scenario
with a `[sizing]` table is planned so the pickups reach their minimum, and the deliberate defect
`slow_pickup` (one pickup in five waits 0.8 s) fails `core_p95` on that endpoint. About 30 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.scenario import load_scenario
from harness.sizing import forecast, load_threshold_set
from tests.e2e.conftest import read_json, scenario_file

pytestmark = pytest.mark.e2e

PICKUP = "POST /api/shipping/assignments/{id}/pickup"

# The peak mix for 10 nominal minutes in 10 s; sized within 14 s of wall time, which is too short
# for the 1 s samplers to reach their 20 samples: the forecast must say so for those two checks.
SIZED_PEAK = """
name = "sized_peak"
description = "end-to-end test: the peak mix, sized so every endpoint is judged"
kind = "load"
speedup = 60
arrival = "poisson"
seed = 12

[sizing]
confidence = 0.95
max_speedup = 240
max_duration_s = 14
max_topup = 8

[rates]
orders_created = 200
payments_initiated = 200
payments_captured = 120
deliveries_confirmed = 80
agent_assignments = 150
admin_metrics = 50

[[phases]]
name = "steady"
duration_s = 600
"""


def test_a_sized_run_fails_the_gate_naming_a_slow_low_volume_endpoint(harness: Any, tmp_path: Path) -> None:
    path = scenario_file(tmp_path, SIZED_PEAK, "sized_peak")
    scenario = load_scenario(str(path))
    unsized = {f.check: f for f in forecast(scenario.resolve(None), load_threshold_set(None, scenario))}
    assert unsized[f"core_p95[{PICKUP}]"].expected < 20, "without sizing the pickups are too few to judge"

    run = harness("run", str(path), "--defects", "slow_pickup")
    code, out = run.finish(timeout_s=180)
    run_dir = run.run_dir()
    assert run_dir is not None, out
    assert "loadgate: sizing sized_peak" in out, out
    sizing = read_json(run_dir / "sizing.json")
    assert set(sizing["short"]) == {"pool_utilization", "health_latency"}, sizing["short"]
    assert f"core_p95[{PICKUP}]" not in sizing["short"]

    checks = {c["name"]: c for c in read_json(run_dir / "summary.json")["checks"]}
    pickup = checks[f"core_p95[{PICKUP}]"]
    assert pickup["n"] >= 20, pickup
    assert pickup["status"] == "fail" and pickup["measured"] > 500, pickup
    assert code == 1, out
    assert f"critical check failed: core_p95[{PICKUP}]" in out
    assert run.survivors() == {}
