"""The result of a capacity run: the highest step the service sustained, and its headroom.

A capacity plan ramps the peak mix in phases `step-1..N`. A step holds when, within it, the core
endpoints' P95 (from the intended send) stays under `P95_LIMIT_MS`, under `FAILED_LIMIT` of
requests fail, and no arrival was dropped for lack of a free slot (the generator kept up). The
result is the last step of the unbroken run of held steps from the first: the orders per real
hour actually created there (2xx `POST /api/orders`), and that figure over the documented
200/hour peak (seed 000). Steps after the first broken one do not count even if they hold; steps
with no request after it were not run (the ramp stops at its first broken step).

Each step also carries where the time went: mean CPU of each process group from `cpu.csv` (percent
of one core), pool waiting from `pool.csv`, and `bottleneck(...)`'s reading of them, so the report
says what saturated at the highest held step and at the first broken one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from reports.evidence import Evidence
from reports.measures import failed_mask
from reports.percentiles import percentile
from reports.scope import names_of
from reports.summary_doc import CapacityResult, CapacityStep, StepResources

P95_LIMIT_MS = 500.0
FAILED_LIMIT = 0.01
DOCUMENTED_PEAK_PER_HOUR = 200.0
ORDERS = "POST /api/orders"
SATURATED = 0.85  # share of what a group can use at most that counts as saturated
POOL_WAITING = 1.0  # mean requests waiting for a connection that makes the pool the bottleneck
IOWAIT_PCT = 30.0
NON_PROCESS = ("machine", "iowait")


def _window(df: pd.DataFrame | None, start: float, end: float) -> pd.DataFrame | None:
    if df is None or df.empty or "ts" not in df.columns:
        return None
    ts = df["ts"].to_numpy(dtype=np.float64)
    return df[(ts >= start) & (ts < end)]


def step_resources(ev: Evidence, start: float, end: float) -> StepResources:
    """Mean CPU % per process group (and processes per group) and pool waiting within one step."""
    cpu: dict[str, float] = {}
    processes: dict[str, int] = {}
    inside = _window(ev.cpu, start, end)
    if inside is not None and not inside.empty:
        for name, group in inside.groupby("process", sort=False):
            cpu[str(name)] = round(float(group["cpu_pct"].mean()), 1)
            if "processes" in group.columns:
                counts = pd.to_numeric(group["processes"], errors="coerce").dropna()
                if len(counts):
                    processes[str(name)] = int(counts.max())
    pool = _window(ev.pool, start, end)
    waiting = pool["waiting"].dropna() if pool is not None and "waiting" in pool.columns else None
    has_pool = waiting is not None and len(waiting) > 0
    return {
        "cpu_pct": cpu,
        "processes": processes,
        "pool_waiting_mean": round(float(waiting.mean()), 2) if has_pool and waiting is not None else None,
        "pool_waiting_max": float(waiting.max()) if has_pool and waiting is not None else None,
    }


def bottleneck(
    cpu: Mapping[str, float], processes: Mapping[str, int], pool_waiting: float | None, cores: int
) -> str:
    """What saturated, from mean CPU per group (percent of one core), pool waiting and the core count.

    A one-process group (a Python process: one core, the GIL) is saturated near 100 %, a
    multi-process group or the machine near `cores` x 100 %. Every saturated resource is named,
    most saturated first; for a busy machine the largest consumers, `others` being processes
    outside the run (another job on the same machine).
    """
    found: list[str] = []
    shares = []
    for name, pct in cpu.items():
        if name in NON_PROCESS:
            continue
        limit = 100.0 if processes.get(name, 1) <= 1 and name != "postgres" else 100.0 * cores
        shares.append((pct / limit, name, pct))
    shares.sort(reverse=True)
    found += [f"{name} CPU ({pct:.0f} % of one core)" for share, name, pct in shares if share >= SATURATED]
    machine = cpu.get("machine")
    if machine is not None and machine >= SATURATED * 100.0 * cores:
        users = [(pct, name) for _, name, pct in shares]
        users.append((max(0.0, machine - sum(p for p, _ in users)), "others"))
        top = ", ".join(f"{n} {p:.0f} %" for p, n in sorted(users, reverse=True)[:3])
        found.append(f"machine CPU ({machine:.0f} % of {cores * 100} %: {top})")
    if pool_waiting is not None and pool_waiting >= POOL_WAITING:
        found.append(f"the connection pool ({pool_waiting:.1f} requests waiting on average)")
    iowait = cpu.get("iowait")
    if iowait is not None and iowait >= IOWAIT_PCT:
        found.append(f"the disk ({iowait:.0f} % iowait)")
    if found:
        return "; ".join(found)
    return "no resource saturated" if cpu else "unknown (no cpu.csv)"


def _step(ev: Evidence, name: str, start: float, end: float, cores: int) -> CapacityStep:
    assert ev.requests is not None
    df = ev.requests
    t = df["t"].to_numpy(dtype=np.float64)
    inside = (t >= start) & (t < end)
    status = df["status"].to_numpy()[inside]
    names = df["name"].astype(str).to_numpy()[inside]
    codes = df["error_code"].astype(str).to_numpy()[inside] if "error_code" in df.columns else np.array([])
    latency = df["latency_user_ms"].to_numpy(dtype=np.float64)[inside]
    hours = max(end - start, 1e-9) / 3600.0
    created = int((np.isin(names, list(names_of(ev, ORDERS))) & (status >= 200) & (status < 300)).sum())
    failed = float(failed_mask(status, codes if len(codes) else None).mean()) if len(status) else 0.0
    p95 = percentile(latency, 95.0) if len(latency) else float("nan")
    dropped = int((codes == "DROPPED").sum())
    held = bool(len(status)) and p95 < P95_LIMIT_MS and failed < FAILED_LIMIT and dropped == 0
    resources = step_resources(ev, start, end)
    return {
        "step": name,
        "requests": len(status),
        "orders_per_hour": created / hours,
        "p95_ms": p95,
        "failed_rate": failed,
        "dropped": dropped,
        "held": held,
        **resources,
        "bottleneck": bottleneck(
            resources["cpu_pct"], resources["processes"], resources["pool_waiting_mean"], cores
        ),
    }


def capacity_result(ev: Evidence) -> CapacityResult | None:
    """Per-step figures and the highest sustained orders/hour, for a capacity run; else None."""
    if ev.kind != "capacity" or ev.requests is None or ev.requests.empty:
        return None
    machine = ev.run.get("machine")
    cores = int(machine.get("cores") or 1) if machine else 1
    steps = [_step(ev, w.name, w.start, w.end, cores) for w in ev.phases if w.name.startswith("step-")]
    if not steps:
        return None
    broken = next((i for i, s in enumerate(steps) if not s["held"]), None)
    not_run = 0
    if broken is not None:
        while len(steps) > broken + 1 and steps[-1]["requests"] == 0:
            steps.pop()
            not_run += 1
    sustained = None
    for step in steps:
        if not step["held"]:
            break
        sustained = step
    best = sustained["orders_per_hour"] if sustained else 0.0
    return {
        "steps": steps,
        "sustained_step": sustained["step"] if sustained else None,
        "sustained_orders_per_hour": best,
        "headroom_over_documented_peak": best / DOCUMENTED_PEAK_PER_HOUR,
        "broke_at": next((s["step"] for s in steps if not s["held"]), None),
        "steps_not_run": not_run,
        "bottleneck_sustained": sustained["bottleneck"] if sustained else None,
        "bottleneck_broken": steps[broken]["bottleneck"] if broken is not None else None,
        "criteria": {"p95_ms_below": P95_LIMIT_MS, "failed_rate_below": FAILED_LIMIT, "dropped": 0},
    }


def _groups(steps: list[CapacityStep]) -> list[str]:
    """Process groups in a stable order: service, Locust processes, postgres, then machine, iowait."""
    names: list[str] = []
    for s in steps:
        names += [n for n in s.get("cpu_pct", {}) if n not in names]
    rank = {"service": 0, "postgres": 2, "machine": 3, "iowait": 4}
    return sorted(names, key=lambda n: (rank.get(n, 1), n))


def capacity_text(result: CapacityResult) -> str:
    """Lines for the terminal and summary.md."""
    lines = ["capacity: step  orders/h (real)  p95 ms  failed  dropped  held"]
    for s in result["steps"]:
        lines.append(
            f"  {s['step']:<8} {s['orders_per_hour']:>12.0f} {s['p95_ms']:>8.1f} {s['failed_rate']:>7.2%} "
            f"{s['dropped']:>7}  {'yes' if s['held'] else 'NO'}"
        )
    groups = _groups(result["steps"])
    if groups:
        lines.append(
            "capacity: step  mean CPU % of one core: "
            + "  ".join(groups)
            + "  | pool waiting (mean/max)  bottleneck"
        )
        for s in result["steps"]:
            cpu = s.get("cpu_pct", {})
            cells = "  ".join(
                f"{cpu[g]:>{len(g)}.0f}" if g in cpu else " " * (len(g) - 1) + "-" for g in groups
            )
            mean, peak = s.get("pool_waiting_mean"), s.get("pool_waiting_max")
            pool = f"{mean:.1f}/{peak:.0f}" if mean is not None and peak is not None else "-"
            lines.append(f"  {s['step']:<8} {cells}  | {pool:>9}  {s.get('bottleneck', '')}")
    lines.append(
        f"capacity: sustained {result['sustained_orders_per_hour']:.0f} orders/hour "
        f"({result['sustained_step'] or 'no step held'}), "
        f"x{result['headroom_over_documented_peak']:.1f} the documented 200/hour peak"
        + (f"; broke at {result['broke_at']}" if result["broke_at"] else "; no step broke: ramp further")
        + (f" (the {result['steps_not_run']} steps above it not run)" if result.get("steps_not_run") else "")
    )
    if result.get("bottleneck_sustained") or result.get("bottleneck_broken"):
        lines.append(
            f"capacity: bottleneck at {result['sustained_step'] or '-'}: "
            f"{result.get('bottleneck_sustained')}; at {result['broke_at'] or '-'}: "
            f"{result.get('bottleneck_broken')}"
        )
    return "\n".join(lines) + "\n"
