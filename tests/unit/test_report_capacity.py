"""The capacity result: the highest step held from the start, in real orders/hour, and headroom."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from reports import generate
from reports.capacity import bottleneck, capacity_result
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


def _write_resources(path: Path, t0: float, per_step: list[dict[str, float]], waiting: list[int]) -> None:
    """cpu.csv (long, per docs/contracts.md) and pool.csv, one sample a second over each step."""
    cpu = ["ts,process,processes,cpu_pct,rss_mb"]
    pool = ["ts,status,size,active,idle,waiting,max,utilization,latency_ms"]
    for (_, start, end), groups, wait in zip(STEPS, per_step, waiting, strict=True):
        for ts in range(int(t0) + start, int(t0) + end):
            for name, pct in groups.items():
                count = "" if name in ("machine", "iowait") else ("19" if name == "postgres" else "1")
                cpu.append(f"{ts}.5,{name},{count},{pct},50.0")
            pool.append(f"{ts}.5,healthy,20,20,0,{wait},20,1.0,3.0")
    (path / "cpu.csv").write_text("\n".join(cpu) + "\n")
    (path / "pool.csv").write_text("\n".join(pool) + "\n")


def test_each_step_says_what_saturated_from_cpu_and_pool_samples(tmp_path: Path) -> None:
    path = _capacity_run(tmp_path, [(100, 20.0, 201), (200, 30.0, 201), (300, 900.0, 201)])
    t0 = json.loads((path / "run.json").read_text())["phases"][0]["start"] - STEPS[0][1]
    calm = {"service": 30.0, "locust": 20.0, "postgres": 20.0, "machine": 75.0, "iowait": 1.0}
    hot = {"service": 97.0, "locust": 45.0, "postgres": 40.0, "machine": 190.0, "iowait": 2.0}
    _write_resources(path, t0, [calm, hot, hot], [0, 0, 12])
    result = capacity_result(load_evidence(path))
    assert result is not None
    first, second, third = result["steps"]
    assert first["cpu_pct"]["service"] == 30.0 and first["pool_waiting_mean"] == 0.0
    assert first["bottleneck"] == "no resource saturated"
    assert second["bottleneck"].startswith("service CPU (97 % of one core); machine CPU (190 % of 200 %")
    assert (
        third["pool_waiting_max"] == 12
        and "the connection pool (12.0 requests waiting" in third["bottleneck"]
    )
    assert result["bottleneck_sustained"] == second["bottleneck"]
    assert result["bottleneck_broken"] == third["bottleneck"]
    out = io.StringIO()
    generate(path, out=out)
    assert "bottleneck at step-2: service CPU" in out.getvalue()
    assert "Capacity" in (path / "report.html").read_text()


def test_steps_after_the_break_with_no_request_were_not_run(tmp_path: Path) -> None:
    path = _capacity_run(tmp_path, [(100, 20.0, 201), (200, 900.0, 201), (0, 0.0, 201)])
    result = capacity_result(load_evidence(path))
    assert result is not None
    assert [s["step"] for s in result["steps"]] == ["step-1", "step-2"]
    assert result["steps_not_run"] == 1 and result["broke_at"] == "step-2"


def test_bottleneck_reads_one_core_per_python_process_and_all_cores_for_the_rest() -> None:
    assert bottleneck({"locust": 92.0, "machine": 120.0}, {"locust": 1}, 0.0, 2) == (
        "locust CPU (92 % of one core)"
    )
    # a 3-process service (2 uvicorn workers) at 120 % is not saturated on 2 cores; the machine is
    two_workers = bottleneck({"service": 120.0, "postgres": 60.0, "machine": 195.0}, {"service": 3}, None, 2)
    assert two_workers == "machine CPU (195 % of 200 %: service 120 %, postgres 60 %, others 15 %)"
    assert (
        bottleneck({"service": 40.0, "machine": 60.0, "iowait": 45.0}, {}, 0.0, 2) == "the disk (45 % iowait)"
    )
    assert bottleneck({}, {}, None, 2) == "unknown (no cpu.csv)"
