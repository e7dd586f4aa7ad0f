"""Runs the `capacity` scenario N times and prints each run's ceiling and the median (BENCHMARKS.md).

    flock /tmp/loadgate-bench.lock .venv/bin/python bench/capacity.py --runs 3
    flock /tmp/loadgate-bench.lock .venv/bin/python bench/capacity.py --runs 3 --start-scale 16
    .venv/bin/python bench/capacity.py --runs 3 --pgbench --quiet-below 0.5 \\
        --a "LOADGATE_PG_SETTINGS=max_pred_locks_per_relation=-2,max_pred_locks_per_transaction=64" --b ""

`--start-scale` starts the ramp higher (same x1.25 steps, fewer of them below the ceiling) for a
quicker before/after of one change; the headline figure uses the scenario as written. Extra
`--env NAME=VALUE` reach the service (it inherits the harness's environment: POOL_MAX_SIZE, ...).
`--a` / `--b` are two space-separated NAME=VALUE lists run alternately (ABAB...), so a
before/after sees the same neighbours; the database the harness starts reads
`LOADGATE_PG_SETTINGS` from the same environment (harness/db/base.py).
Each line says the load average before the run, since other jobs on the machine move the figure;
`--quiet-below L` waits for the 1-minute average to fall under L first.
Per run: the ceiling, capture retries per capture at the highest held step (the
`payment_serialization_retry` and `payment_capture_completed` lines of service.jsonl in that
step's window: the reference service's log), and with `--pgbench` `bench/pgbench_ceiling.py`
(16 clients, 10 s per script) on the same machine, with that run's service writes/s as a share
of the database's TPS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, median, wait_quiet  # noqa: E402
from reports.capacity import capacity_result  # noqa: E402
from reports.evidence import Evidence, load_evidence  # noqa: E402


def _scenario(start_scale: float | None, tmp: Path) -> Path:
    path = ROOT / "scenarios" / "capacity.toml"
    if start_scale is None:
        return path
    text = path.read_text()
    scale = tomllib.loads(text)["capacity"]["start_scale"]
    out = tmp / "capacity.toml"
    out.write_text(text.replace(f"start_scale = {scale}", f"start_scale = {start_scale}", 1))
    return out


def _captures_at(ev: Evidence, step: str | None) -> tuple[int, int]:
    """(retries, captures completed) in one step's window of the service's log; (0, 0) if none."""
    window = next((w for w in ev.phases if w.name == step), None)
    if window is None or ev.service is None or ev.service.empty:
        return 0, 0
    inside = ev.service[(ev.service["ts"] >= window.start) & (ev.service["ts"] < window.end)]
    events = inside["event"]
    return int((events == "payment_serialization_retry").sum()), int(
        (events == "payment_capture_completed").sum()
    )


def _pgbench_share(run_dir: Path, out: Path) -> tuple[str, float | None]:
    cmd = [sys.executable, str(ROOT / "bench" / "pgbench_ceiling.py"), "--clients", "16"]
    cmd += ["--run-dir", str(run_dir), "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        return f"pgbench failed ({done.returncode}): {done.stderr[-500:]}", None
    doc = json.loads(out.read_text())
    tps = doc["runs"][0]["tps"]
    best = {script: max(by_clients.values()) for script, by_clients in tps.items()}
    service = doc.get("service") or {}
    if "writes_per_s" not in service:
        return f"pgbench {best}; service: {service.get('error', 'no figure')}", None
    rate = service["writes_per_s"]
    share = 100 * rate / best["tpcb-like"]
    return (
        f"pgbench, 16 clients: tpcb-like {best['tpcb-like']:,.0f} tps, insert-only "
        f"{best['insert-only']:,.0f} tps; the service's {rate:.1f} 2xx writes/s at {service['step']} = "
        f"{share:.1f} % / {100 * rate / best['insert-only']:.1f} % of them"
    ), share


def _one_run(
    scenario: Path, env: dict[str, str], args: argparse.Namespace, tmp: Path, tag: str
) -> dict[str, float] | None:
    load = wait_quiet(args.quiet_below)
    before = set(args.runs_dir.glob("*")) if args.runs_dir.exists() else set()
    cmd = [sys.executable, "-m", "harness.cli", "run", str(scenario)]
    cmd += ["--runs-dir", str(args.runs_dir)]
    subprocess.run([*cmd, "--no-report"], cwd=ROOT, env=env, check=False, capture_output=True)
    new = sorted(set(args.runs_dir.glob("*")) - before - {args.runs_dir / "latest"})
    if not new:
        print(f"{tag}: no run folder", file=sys.stderr)
        return None
    ev = load_evidence(new[-1])
    result = capacity_result(ev)
    if result is None:
        print(f"{tag}: {new[-1]}: no capacity result", file=sys.stderr)
        return None
    held = next((s for s in result["steps"] if s["step"] == result["sustained_step"]), None)
    retries, captures = _captures_at(ev, result["sustained_step"])
    per_capture = retries / captures if captures else float("nan")
    print(
        f"{tag}: {result['sustained_orders_per_hour']:,.0f} orders/h "
        f"(x{result['headroom_over_documented_peak']:,.0f}; {result['sustained_step']}, "
        f"p95 {held['p95_ms'] if held else float('nan'):.0f} ms), broke at {result['broke_at']}; "
        f"{load}; {new[-1].name}\n"
        f"        capture retries at {result['sustained_step']}: {retries} for {captures} captures "
        f"({per_capture:.2f} each)\n"
        f"        bottleneck held: {result['bottleneck_sustained']}\n"
        f"        bottleneck broke: {result['bottleneck_broken']}",
        flush=True,
    )
    out = {"orders_per_hour": result["sustained_orders_per_hour"], "retries_per_capture": per_capture}
    if args.pgbench:
        line, share = _pgbench_share(new[-1], tmp / f"pgbench-{tag.replace(' ', '-')}.json")
        print(f"        {line}", flush=True)
        if share is not None:
            out["pgbench_share_pct"] = share
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="runs of each configuration")
    p.add_argument("--start-scale", type=float, default=None)
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--a", default="", help="service/database environment of configuration A")
    p.add_argument("--b", default=None, help="environment of configuration B, run alternately with A")
    p.add_argument("--quiet-below", type=float, default=None, help="wait for the 1-min load under L")
    p.add_argument("--runs-dir", type=Path, default=Path(tempfile.gettempdir()) / "loadgate-bench-capacity")
    p.add_argument("--pgbench", action="store_true", help="pgbench the database after each run")
    args = p.parse_args()
    base = dict(os.environ)
    base.update(item.split("=", 1) for item in args.env)
    configs = {"A": args.a} if args.b is None else {"A": args.a, "B": args.b}
    results: dict[str, list[dict[str, float]]] = {k: [] for k in configs}
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        scenario = _scenario(args.start_scale, Path(tmp))
        for i in range(args.runs):
            for label, assignments in configs.items():
                env = dict(base)
                env.update(item.split("=", 1) for item in assignments.split())
                tag = (
                    f"run {i + 1}"
                    if len(configs) == 1
                    else f"{label} run {i + 1} [{assignments or 'default'}]"
                )
                one = _one_run(scenario, env, args, Path(tmp), tag)
                if one is None:
                    return 2
                results[label].append(one)
    for label, runs in results.items():
        name = f"median of {len(runs)}" if len(configs) == 1 else f"{label} median of {len(runs)}"
        shares = [r["pgbench_share_pct"] for r in runs if "pgbench_share_pct" in r]
        share = f", {median(shares):.1f} % of pgbench tpcb-like TPS" if shares else ""
        print(
            f"{name}: {median([r['orders_per_hour'] for r in runs]):,.0f} orders/h sustained, "
            f"{median([r['retries_per_capture'] for r in runs]):.2f} capture retries per capture "
            f"at the ceiling{share}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
