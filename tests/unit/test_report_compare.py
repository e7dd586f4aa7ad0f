"""compare: identical runs, a real +50 % regression, and noise from the same distribution."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from reports import compare
from reports.synthetic import SyntheticRun, healthy_load


def _run(seed: int, scale: float = 1.0, errors: int = 0, n: int = 2000) -> SyntheticRun:
    rng = np.random.default_rng(seed)
    run = SyntheticRun(kind="load")
    run.add_requests("POST /api/orders", rng.lognormal(4.5, 0.6, size=n) * scale, status=201)
    run.add_requests("GET /api/orders/{id}", rng.lognormal(3.5, 0.5, size=n))
    if errors:
        run.add_requests("POST /api/orders", np.full(errors, 30.0), status=500, error_code="INTERNAL_ERROR")
    return run


def test_identical_runs_do_not_regress(tmp_path: Path) -> None:
    a = _run(1).write(tmp_path / "a")
    assert compare(a, a, out=io.StringIO()) == 0


def test_fifty_percent_slower_regresses(tmp_path: Path) -> None:
    a, b = _run(1).write(tmp_path / "a"), _run(2, scale=1.5).write(tmp_path / "b")
    out = io.StringIO()
    assert compare(a, b, out=out) == 1
    doc = json.loads((b / "compare.json").read_text())
    bad = {(d["name"], d["metric"]) for d in doc["deltas"] if d["status"] == "regression"}
    assert ("POST /api/orders", "p95") in bad and ("POST /api/orders", "p99") in bad
    assert not any(name == "GET /api/orders/{id}" for name, _ in bad)
    assert "REGRESSION" in out.getvalue()


def test_same_distribution_noise_does_not_regress(tmp_path: Path) -> None:
    base = _run(1).write(tmp_path / "base")
    for seed in range(2, 7):
        assert compare(base, _run(seed).write(tmp_path / f"n{seed}"), out=io.StringIO()) == 0


def test_error_rate_regression(tmp_path: Path) -> None:
    a, b = _run(1).write(tmp_path / "a"), _run(2, errors=200).write(tmp_path / "b")
    assert compare(a, b, out=io.StringIO()) == 1
    doc = json.loads((b / "compare.json").read_text())
    assert any(d["metric"] == "error_rate" and d["status"] == "regression" for d in doc["deltas"])


def test_cannot_compare(tmp_path: Path) -> None:
    a = healthy_load().write(tmp_path / "a")
    assert compare(a, tmp_path / "missing", out=io.StringIO()) == 2
