"""Runs the `capacity` scenario N times and prints each run's ceiling and the median (BENCHMARKS.md).

    flock /tmp/loadgate-bench.lock .venv/bin/python bench/capacity.py --runs 3
    flock /tmp/loadgate-bench.lock .venv/bin/python bench/capacity.py --runs 3 --start-scale 16

`--start-scale` starts the ramp higher (same x1.25 steps, fewer of them below the ceiling) for a
quicker before/after of one change; the headline figure uses the scenario as written. Extra
`--env NAME=VALUE` reach the service (it inherits the harness's environment: POOL_MAX_SIZE, ...).
Each line says the load average before the run, since other jobs on the machine move the figure.
`--pgbench` follows each capacity run with `bench/pgbench_ceiling.py` (16 clients, 10 s per script)
on the same machine, and states that run's service writes/s as a share of the database's TPS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports.capacity import capacity_result  # noqa: E402
from reports.evidence import load_evidence  # noqa: E402


def _scenario(start_scale: float | None, tmp: Path) -> Path:
    path = ROOT / "scenarios" / "capacity.toml"
    if start_scale is None:
        return path
    text = path.read_text()
    scale = tomllib.loads(text)["capacity"]["start_scale"]
    out = tmp / "capacity.toml"
    out.write_text(text.replace(f"start_scale = {scale}", f"start_scale = {start_scale}", 1))
    return out


def _pgbench_share(run_dir: Path, out: Path) -> str:
    cmd = [sys.executable, str(ROOT / "bench" / "pgbench_ceiling.py"), "--clients", "16"]
    cmd += ["--run-dir", str(run_dir), "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        return f"pgbench failed ({done.returncode}): {done.stderr[-500:]}"
    doc = json.loads(out.read_text())
    tps = doc["runs"][0]["tps"]
    best = {script: max(by_clients.values()) for script, by_clients in tps.items()}
    service = doc.get("service") or {}
    if "writes_per_s" not in service:
        return f"pgbench {best}; service: {service.get('error', 'no figure')}"
    rate = service["writes_per_s"]
    return (
        f"pgbench, 16 clients: tpcb-like {best['tpcb-like']:,.0f} tps, insert-only "
        f"{best['insert-only']:,.0f} tps; the service's {rate:.1f} 2xx writes/s at {service['step']} = "
        f"{100 * rate / best['tpcb-like']:.1f} % / {100 * rate / best['insert-only']:.1f} % of them"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--start-scale", type=float, default=None)
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--runs-dir", type=Path, default=Path(tempfile.gettempdir()) / "loadgate-bench-capacity")
    p.add_argument("--pgbench", action="store_true", help="pgbench the database after each run")
    args = p.parse_args()
    env = dict(os.environ)
    env.update(item.split("=", 1) for item in args.env)
    ceilings: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        scenario = _scenario(args.start_scale, Path(tmp))
        for i in range(args.runs):
            load = os.getloadavg()
            before = set(args.runs_dir.glob("*")) if args.runs_dir.exists() else set()
            cmd = [sys.executable, "-m", "harness.cli", "run", str(scenario)]
            cmd += ["--runs-dir", str(args.runs_dir)]
            subprocess.run([*cmd, "--no-report"], cwd=ROOT, env=env, check=False, capture_output=True)
            new = sorted(set(args.runs_dir.glob("*")) - before - {args.runs_dir / "latest"})
            if not new:
                print(f"run {i + 1}: no run folder", file=sys.stderr)
                return 2
            result = capacity_result(load_evidence(new[-1]))
            if result is None:
                print(f"run {i + 1}: {new[-1]}: no capacity result", file=sys.stderr)
                return 2
            ceilings.append(result["sustained_orders_per_hour"])
            held = next((s for s in result["steps"] if s["step"] == result["sustained_step"]), None)
            print(
                f"run {i + 1}: {result['sustained_orders_per_hour']:,.0f} orders/h "
                f"(x{result['headroom_over_documented_peak']:,.0f}; {result['sustained_step']}, "
                f"p95 {held['p95_ms'] if held else float('nan'):.0f} ms), broke at {result['broke_at']}; "
                f"load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {new[-1].name}\n"
                f"        bottleneck held: {result['bottleneck_sustained']}\n"
                f"        bottleneck broke: {result['bottleneck_broken']}",
                flush=True,
            )
            if args.pgbench:
                print(f"        {_pgbench_share(new[-1], Path(tmp) / f'pgbench-{i}.json')}", flush=True)
    print(f"median of {len(ceilings)}: {statistics.median(ceilings):,.0f} orders/h sustained")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
