"""Benchmark: load 1 M request samples from a run folder, judge them and render the report.

    .venv/bin/python bench/report_1m.py [--rows 1000000] [--runs 5] [--keep DIR]

Writes one synthetic run folder (requests.csv with N rows over 14 request names, a service.jsonl
with one `http_request_completed` line per request plus lock/slow-query events, a 1 Hz pool.csv,
probes.json), then judges it `--runs` times, each in a fresh Python process so peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`) is that of one report alone. Prints each run's stage
times and the median. Target (issue): under 10 s and under 1 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, whatever the install

NAMES = [
    "POST /api/orders",
    "GET /api/orders/{id}",
    "PATCH /api/orders/{id}",
    "POST /api/payments",
    "POST /api/payments/{id}/capture",
    "GET /api/wallets/{id}",
    "POST /api/shipping/assignments",
    "GET /api/shipping/assignments",
    "POST /api/shipping/assignments/{id}/accept",
    "POST /api/shipping/assignments/{id}/pickup",
    "POST /api/shipping/assignments/{id}/deliver",
    "GET /api/admin/agents/leaderboard",
    "GET /health/live",
    "POST /api/auth/login",
]


def write_run(path: Path, rows: int, seed: int = 1) -> None:
    """A complete load run folder with `rows` request samples."""
    from reports.synthetic import PROBES, iso

    rng = np.random.default_rng(seed)
    t0, duration = 1_767_225_600.0, 3600.0
    path.mkdir(parents=True, exist_ok=True)
    ts = np.sort(rng.uniform(t0, t0 + duration, size=rows))
    lag = np.where(rng.random(rows) < 0.01, rng.exponential(200, rows), 0.0) / 1000
    status = np.where(rng.random(rows) < 0.002, 500, np.where(rng.random(rows) < 0.01, 409, 200))
    code = np.where(status == 500, "INTERNAL_ERROR", np.where(status == 409, "ASSIGNMENT_TAKEN", ""))
    df = pd.DataFrame(
        {
            "ts": ts.round(4),
            "ts_intended": (ts - lag).round(4),
            "name": np.array(NAMES)[rng.integers(0, len(NAMES), rows)],
            "status": status,
            "latency_ms": rng.lognormal(4, 0.6, rows).round(2),
            "bytes": rng.integers(200, 4000, rows),
            "error_code": code,
            "phase": np.where(ts < t0 + 300, "warmup", "steady"),
            "worker": "w1",
            "flow": "orders_created",
            "created_id": "",
            "idempotency_key": "",
        }
    )
    df.to_csv(path / "requests.csv", index=False)
    with open(path / "service.jsonl", "w") as fh:
        step = max(1, rows // 10000)
        stamps = [iso(t) for t in ts[::step]]
        tail = '"level": "info", "event": "http_request_completed", "method": "GET", "route": "/x"'
        for i in range(rows):  # one per request, as the service logs them (the report skips these lines)
            stamp = stamps[min(i // step, len(stamps) - 1)]
            fh.write(f'{{"timestamp": "{stamp}", {tail}, "status": 200, "duration": 12}}\n')
        for t in stamps:
            fh.write(
                json.dumps({"timestamp": t, "level": "info", "event": "lock_wait", "duration": 3.0}) + "\n"
            )
            fh.write(
                json.dumps(
                    {
                        "timestamp": t,
                        "level": "warn",
                        "event": "slow_query_detected",
                        "duration": 120.0,
                        "threshold": 100,
                        "operation": "orders.find",
                    }
                )
                + "\n"
            )
    pool = np.arange(t0, t0 + duration, 1.0)
    with open(path / "pool.csv", "w") as fh:
        fh.write("ts,status,size,active,idle,waiting,max,utilization,latency_ms\n")
        for sec in pool:
            fh.write(f"{sec:.3f},healthy,20,6,14,0,20,0.3,4.2\n")
    probes: list[dict[str, object]] = [
        {"name": n, "description": n, "violations": 0, "examples": [], "error": None} for n in PROBES
    ]
    (path / "probes.json").write_text(json.dumps({"ran_at": iso(t0 + duration), "probes": probes}))
    run = {
        "id": path.name,
        "scenario": "bench_1m",
        "kind": "load",
        "status": "complete",
        "speedup": 1.0,
        "duration_s": duration,
        "phases": [
            {"name": "warmup", "start": t0, "end": t0 + 300},
            {"name": "steady", "start": t0 + 300, "end": t0 + duration},
        ],
    }
    (path / "run.json").write_text(json.dumps(run))


def child(run_dir: Path) -> None:
    """One report in a fresh process: `generate` first (its time, peak RSS), then stage times."""
    import io

    t = time.perf_counter()
    from reports import generate
    from reports.evidence import load_evidence
    from reports.judge import judge
    from reports.thresholds import load_thresholds

    times = {"import": time.perf_counter() - t}
    t = time.perf_counter()
    code = generate(run_dir, out=io.StringIO())  # the public path: load, judge, metrics, charts, four files
    times["generate"] = time.perf_counter() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the stage re-runs below
    t = time.perf_counter()
    ev = load_evidence(run_dir)
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    judge(ev, load_thresholds())
    times["judge"] = time.perf_counter() - t
    rows = 0 if ev.requests is None else len(ev.requests)
    print(json.dumps({"times_s": times, "peak_rss_mb": rss_mb, "exit": code, "rows": rows}))


def main() -> int:
    """Write the run folder once, then measure `--runs` fresh processes and print the median."""
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--keep", type=Path, default=None, help="write the run folder here and keep it")
    p.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.child)
        return 0
    root = a.keep or Path(tempfile.mkdtemp(prefix="loadgate-bench-"))
    run_dir = root / "bench_1m"
    t = time.perf_counter()
    write_run(run_dir, a.rows)
    print(
        f"wrote {a.rows} samples to {run_dir} in {time.perf_counter() - t:.1f} s "
        f"(requests.csv {(run_dir / 'requests.csv').stat().st_size / 1e6:.0f} MB, "
        f"service.jsonl {(run_dir / 'service.jsonl').stat().st_size / 1e6:.0f} MB)"
    )
    results = []
    for i in range(a.runs):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(run_dir)], capture_output=True, text=True, check=True
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print(
            f"run {i + 1}: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in r["times_s"].items())
            + f", peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    med = {k: statistics.median(r["times_s"][k] for r in results) for k in results[0]["times_s"]}
    rss = statistics.median(r["peak_rss_mb"] for r in results)
    print("median: " + ", ".join(f"{k} {v:.2f} s" for k, v in med.items()) + f", peak RSS {rss:.0f} MB")
    load_judge = med["load"] + med["judge"]
    print(
        f"load + judge {load_judge:.2f} s; generate (load, judge, charts, 4 files) {med['generate']:.2f} s; "
        f"target < 10 s and < 1024 MB: {'met' if med['generate'] < 10 and rss < 1024 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
