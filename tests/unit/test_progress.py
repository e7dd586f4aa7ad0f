from __future__ import annotations

import io
import time
from pathlib import Path

from harness.progress import Progress

HEADER = (
    "ts,ts_intended,name,status,latency_ms,bytes,error_code,phase,worker,flow,created_id,idempotency_key\n"
)


def _row(ts: float, latency: float, status: int, intended: float | None = None) -> str:
    planned = "" if intended is None else f"{intended:.3f}"
    return f"{ts:.3f},{planned},POST /api/orders,{status},{latency},10,,steady,0,o,,\n"


def test_progress_counts_rows_as_they_are_appended_even_half_written(tmp_path: Path) -> None:
    now = time.time()
    path = tmp_path / "requests.csv"
    path.write_text(HEADER + _row(now, 10, 201) + _row(now, 20, 500))
    out = io.StringIO()
    progress = Progress(tmp_path, 30.0, [("steady", 0.0, 30.0)], out=out)
    progress.tick()
    assert (progress.total, progress.errors) == (2, 1)
    with open(path, "a") as fh:
        fh.write(_row(now, 30, 0)[:15])
    progress.tick()
    assert progress.total == 2
    with open(path, "a") as fh:
        fh.write(_row(now, 30, 0)[15:])
    progress.final()
    assert (progress.total, progress.errors) == (3, 2)
    assert "req=3" in out.getvalue() and "errors=2" in out.getvalue()


def test_p95_counts_the_wait_from_the_intended_send(tmp_path: Path) -> None:
    now = time.time()
    (tmp_path / "requests.csv").write_text(HEADER + _row(now, 10, 200, intended=now - 2.0))
    progress = Progress(tmp_path, 10.0, out=io.StringIO())
    progress.tick()
    assert "p95(10s)=2010ms" in progress.line()


def test_phase_follows_elapsed_time(tmp_path: Path) -> None:
    progress = Progress(tmp_path, 10.0, [("warmup", 0.0, 2.0), ("burst", 2.0, 8.0)], out=io.StringIO())
    assert progress.phase(1.0) == "warmup"
    assert progress.phase(5.0) == "burst"
    assert progress.phase(11.0) == "-"
