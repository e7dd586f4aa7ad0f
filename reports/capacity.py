"""The result of a capacity run: the highest step the service sustained, and its headroom.

A capacity plan ramps the peak mix in phases `step-1..N`. A step holds when, within it, the core
endpoints' P95 (from the intended send) stays under `P95_LIMIT_MS`, under `FAILED_LIMIT` of
requests fail, and no arrival was dropped for lack of a free slot (the generator kept up). The
result is the last step of the unbroken run of held steps from the first: the orders per real
hour actually created there (2xx `POST /api/orders`), and that figure over the documented
200/hour peak (seed 000). Steps after the first broken one do not count even if they hold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reports.evidence import Evidence
from reports.measures import failed_mask
from reports.percentiles import percentile

P95_LIMIT_MS = 500.0
FAILED_LIMIT = 0.01
DOCUMENTED_PEAK_PER_HOUR = 200.0
ORDERS = "POST /api/orders"


def _step(ev: Evidence, name: str, start: float, end: float) -> dict[str, Any]:
    assert ev.requests is not None
    df = ev.requests
    t = df["t"].to_numpy(dtype=np.float64)
    inside = (t >= start) & (t < end)
    status = df["status"].to_numpy()[inside]
    names = df["name"].astype(str).to_numpy()[inside]
    codes = df["error_code"].astype(str).to_numpy()[inside] if "error_code" in df.columns else np.array([])
    latency = df["latency_user_ms"].to_numpy(dtype=np.float64)[inside]
    hours = max(end - start, 1e-9) / 3600.0
    created = int(((names == ORDERS) & (status >= 200) & (status < 300)).sum())
    failed = float(failed_mask(status).mean()) if len(status) else 0.0
    p95 = percentile(latency, 95.0) if len(latency) else float("nan")
    dropped = int((codes == "DROPPED").sum())
    held = bool(len(status)) and p95 < P95_LIMIT_MS and failed < FAILED_LIMIT and dropped == 0
    return {
        "step": name,
        "requests": len(status),
        "orders_per_hour": created / hours,
        "p95_ms": p95,
        "failed_rate": failed,
        "dropped": dropped,
        "held": held,
    }


def capacity_result(ev: Evidence) -> dict[str, Any] | None:
    """Per-step figures and the highest sustained orders/hour, for a capacity run; else None."""
    if ev.kind != "capacity" or ev.requests is None or ev.requests.empty:
        return None
    steps = [_step(ev, w.name, w.start, w.end) for w in ev.phases if w.name.startswith("step-")]
    if not steps:
        return None
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
        "criteria": {"p95_ms_below": P95_LIMIT_MS, "failed_rate_below": FAILED_LIMIT, "dropped": 0},
    }


def capacity_text(result: dict[str, Any]) -> str:
    """Lines for the terminal and summary.md."""
    lines = ["capacity: step  orders/h (real)  p95 ms  failed  dropped  held"]
    for s in result["steps"]:
        lines.append(
            f"  {s['step']:<8} {s['orders_per_hour']:>12.0f} {s['p95_ms']:>8.1f} {s['failed_rate']:>7.2%} "
            f"{s['dropped']:>7}  {'yes' if s['held'] else 'NO'}"
        )
    lines.append(
        f"capacity: sustained {result['sustained_orders_per_hour']:.0f} orders/hour "
        f"({result['sustained_step'] or 'no step held'}), "
        f"x{result['headroom_over_documented_peak']:.1f} the documented 200/hour peak"
        + (f"; broke at {result['broke_at']}" if result["broke_at"] else "; no step broke: ramp further")
    )
    return "\n".join(lines) + "\n"
