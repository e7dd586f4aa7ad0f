"""CPU cost per request of each process group at a fixed load, for before/after figures (BENCHMARKS.md).

    flock /tmp/loadgate-bench.lock .venv/bin/python bench/service_cost.py --runs 3 \\
        --a "" --b "POOL_MAX_SIZE=40"

Runs the peak mix at `--scale` x the documented peak at x20 speed-up (scale 20: 80,000 orders/hour
real) for `--seconds`, alternating configuration A and B run by run (ABAB...), so
both see the same neighbours on the machine. Per run: requests/s, P95 from the intended send,
service / PostgreSQL / Locust CPU milliseconds per request (from cpu.csv, which counts CPU time,
not wall time, so another job on the machine moves it much less than it moves latency), and
captures retried (`payment_serialization_retry` lines in service.jsonl) and per capture completed
(`payment_capture_completed` lines). A and B are space-separated NAME=VALUE lists for the
service's environment (it inherits the harness's, and so does the database the harness starts:
`LOADGATE_PG_SETTINGS=a=1,b=2` sets server settings, harness/db/base.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.evidence import load_evidence  # noqa: E402
from reports.percentiles import percentile  # noqa: E402

SCENARIO = """name = "service_cost"
description = "bench/service_cost.py: the peak mix at a fixed scale"
kind = "load"
speedup = 20
arrival = "poisson"
seed = 11
max_in_flight = 400
request_timeout_s = 10.0

[rates]
orders_created = 200
payments_initiated = 200
payments_captured = 120
deliveries_confirmed = 80
agent_assignments = 150
admin_metrics = 50

[[phases]]
name = "warmup"
duration_s = 100
scale = {warm}

[[phases]]
name = "steady"
duration_s = {steady}
scale = {scale}
"""


def measure(run_dir: Path) -> dict[str, Any]:
    """Figures of the `steady` phase of one run folder."""
    ev = load_evidence(run_dir)
    steady = next(w for w in ev.phases if w.name == "steady")
    assert ev.requests is not None and ev.cpu is not None
    t = ev.requests["t"].to_numpy(dtype=np.float64)
    inside = (t >= steady.start) & (t < steady.end)
    n = int(inside.sum())
    seconds = steady.end - steady.start
    out: dict[str, Any] = {
        "rps": n / seconds,
        "p95_ms": percentile(ev.requests["latency_user_ms"].to_numpy(dtype=np.float64)[inside], 95.0),
    }
    cpu = ev.cpu
    window = cpu[(cpu["ts"] >= steady.start) & (cpu["ts"] < steady.end)]
    for name, group in window.groupby("process"):
        # mean % of one core x seconds = CPU seconds; per request, in ms
        out[f"{name}_ms_per_req"] = float(group["cpu_pct"].mean()) / 100.0 * seconds * 1000 / max(n, 1)
        out[f"{name}_pct"] = float(group["cpu_pct"].mean())
    if ev.pool is not None and len(ev.pool):
        pool = ev.pool[(ev.pool["ts"] >= steady.start) & (ev.pool["ts"] < steady.end)]
        out["pool_waiting"] = float(pool["waiting"].mean())
    failed = ev.requests["status"].to_numpy()[inside]
    out["failed_pct"] = 100.0 * float(((failed == 0) | (failed >= 500)).mean()) if n else 0.0
    retries = captures = 0
    log = run_dir / "service.jsonl"
    if log.exists():
        with open(log, "rb") as fh:
            for line in fh:
                retries += b"payment_serialization_retry" in line
                captures += b"payment_capture_completed" in line
    out["capture_retries"] = retries
    out["captures"] = captures
    out["retries_per_capture"] = retries / captures if captures else float("nan")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="runs of each configuration")
    p.add_argument("--scale", type=float, default=20.0, help="x the documented peak mix (x20 speed-up)")
    p.add_argument("--seconds", type=float, default=30.0, help="real seconds of the steady phase")
    p.add_argument("--a", default="", help="service environment of configuration A")
    p.add_argument("--b", default=None, help="service environment of configuration B (omit: A only)")
    p.add_argument("--runs-dir", type=Path, default=Path(tempfile.gettempdir()) / "loadgate-bench-cost")
    args = p.parse_args()
    configs = {"A": args.a} if args.b is None else {"A": args.a, "B": args.b}
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in configs}
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "service_cost.toml"
        text = SCENARIO.format(warm=args.scale / 4, steady=args.seconds * 20, scale=args.scale)
        scenario.write_text(text)
        for i in range(args.runs):
            for label, assignments in configs.items():
                env = dict(os.environ)
                env.update(item.split("=", 1) for item in assignments.split())
                load = os.getloadavg()
                before = set(args.runs_dir.glob("*")) if args.runs_dir.exists() else set()
                cmd = [sys.executable, "-m", "harness.cli", "run", str(scenario), "--no-report"]
                subprocess.run(
                    [*cmd, "--runs-dir", str(args.runs_dir)], cwd=ROOT, env=env, capture_output=True
                )
                new = sorted(set(args.runs_dir.glob("*")) - before - {args.runs_dir / "latest"})
                m = measure(new[-1])
                results[label].append(m)
                print(
                    f"{label} run {i + 1} [{assignments or 'default'}]: {m['rps']:.0f} req/s, "
                    f"p95 {m['p95_ms']:.1f} ms, CPU ms/request service {m.get('service_ms_per_req', 0):.2f} "
                    f"postgres {m.get('postgres_ms_per_req', 0):.2f} "
                    f"locust {m.get('locust_ms_per_req', 0):.2f}"
                    f" (service {m.get('service_pct', 0):.0f} %, machine {m.get('machine_pct', 0):.0f} %), "
                    f"pool waiting {m.get('pool_waiting', 0):.1f}, failed {m['failed_pct']:.2f} %, "
                    f"capture retries {m['capture_retries']} for {m['captures']} captures"
                    f" ({m['retries_per_capture']:.2f} each); load average {load[0]:.2f}; {new[-1].name}",
                    flush=True,
                )
    for label, runs in results.items():
        med = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in runs[0]}
        print(
            f"{label} median of {len(runs)} [{configs[label] or 'default'}]: {med['rps']:.0f} req/s, "
            f"p95 {med['p95_ms']:.1f} ms, service {med.get('service_ms_per_req', 0):.2f} ms/req, "
            f"postgres {med.get('postgres_ms_per_req', 0):.2f} ms/req, "
            f"locust {med.get('locust_ms_per_req', 0):.2f} ms/req, "
            f"pool waiting {med.get('pool_waiting', 0):.1f}, failed {med['failed_pct']:.2f} %, "
            f"capture retries {med['capture_retries']:.0f}, {med['retries_per_capture']:.2f} per capture"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
