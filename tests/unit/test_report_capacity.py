"""The capacity result: the highest step held from the start, in real orders/hour, and headroom."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from reports import generate
from reports.capacity import capacity_result
from reports.evidence import load_evidence
from reports.synthetic import SyntheticRun

STEPS = [("step-1", 60, 260), ("step-2", 260, 460), ("step-3", 460, 660)]


def _capacity_run(tmp_path: Path, per_step: list[tuple[int, float, int]]) -> Path:
    """per_step: (orders created, latency ms, status) for each of three 200 s steps."""
    run = SyntheticRun(kind="capacity")
    for (name, start, end), (n, latency, status) in zip(STEPS, per_step, strict=True):
        window = (run.t0 + start, run.t0 + end)
        run.add_requests("POST /api/orders", np.full(n, latency), status=status, phase=name, window=window)
    path = run.write(tmp_path / "run")
    record = json.loads((path / "run.json").read_text())
    record["phases"] = [{"name": n, "start": run.t0 + s, "end": run.t0 + e} for n, s, e in STEPS]
    (path / "run.json").write_text(json.dumps(record))
    return path


def test_the_last_step_held_from_the_start_is_the_capacity(tmp_path: Path) -> None:
    path = _capacity_run(tmp_path, [(100, 20.0, 201), (200, 30.0, 201), (300, 900.0, 201)])
    result = capacity_result(load_evidence(path))
    assert result is not None
    assert [s["held"] for s in result["steps"]] == [True, True, False]
    assert result["sustained_step"] == "step-2" and result["broke_at"] == "step-3"
    assert result["sustained_orders_per_hour"] == 200 / (200 / 3600)
    assert result["headroom_over_documented_peak"] == 3600 / 200
    out = io.StringIO()
    generate(path, out=out)
    assert "sustained 3600 orders/hour (step-2)" in out.getvalue()
    assert json.loads((path / "summary.json").read_text())["capacity"]["sustained_step"] == "step-2"
    assert "## Capacity" in (path / "summary.md").read_text()


def test_errors_break_a_step_and_a_later_step_that_holds_does_not_count(tmp_path: Path) -> None:
    path = _capacity_run(tmp_path, [(100, 20.0, 201), (200, 30.0, 503), (300, 30.0, 201)])
    result = capacity_result(load_evidence(path))
    assert result is not None
    assert result["sustained_step"] == "step-1" and result["broke_at"] == "step-2"


def test_no_step_held_is_zero_and_a_load_run_has_no_capacity(tmp_path: Path) -> None:
    path = _capacity_run(tmp_path, [(100, 900.0, 201), (200, 30.0, 201), (300, 30.0, 201)])
    result = capacity_result(load_evidence(path))
    assert result is not None and result["sustained_step"] is None
    assert result["sustained_orders_per_hour"] == 0.0
    load = SyntheticRun(kind="load")
    load.add_requests("POST /api/orders", np.full(10, 5.0), status=201)
    assert capacity_result(load_evidence(load.write(tmp_path / "load"))) is None
