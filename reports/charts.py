"""The report's charts: matplotlib (Agg, no display), PNG, embedded as base64 data URIs.

Time axes are seconds since the first evidence, on the run's effective clock; run phases are
shaded grey in turn and labelled, fault windows are shaded red. Over-time latency percentiles are
exact nearest-rank per time bucket (at most about 120 buckets), of the latency users waited.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from reports.evidence import Evidence
from reports.measures import failed_mask
from reports.metrics import group_quantiles
from reports.scope import fault_windows
from reports.summary_doc import EndpointRow

Chart = dict[str, str]
_COLORS = {"p50": "#4c78a8", "p95": "#f58518", "p99": "#e45756", "max": "#72b7b2"}


def _png(fig: Any, title: str, chart_id: str, alt: str) -> Chart:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return {
        "id": chart_id,
        "title": title,
        "alt": alt,
        "src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
    }


def _shade(ax: Any, ev: Evidence, t0: float) -> None:
    for i, w in enumerate(ev.phases):
        ax.axvspan(w.start - t0, w.end - t0, color="#000000", alpha=0.04 if i % 2 else 0.09, lw=0)
        ax.text(
            (w.start - t0),
            1.0,
            f" {w.name}",
            transform=ax.get_xaxis_transform(),
            va="top",
            fontsize=7,
            color="#555",
        )
    for f in fault_windows(ev):
        end = f.end if math.isfinite(f.end) else (ev.span or (0.0, f.start))[1]
        ax.axvspan(f.start - t0, end - t0, color="#d62728", alpha=0.15, lw=0)
        ax.text(
            f.start - t0,
            0.92,
            f" fault: {f.name}",
            transform=ax.get_xaxis_transform(),
            fontsize=7,
            color="#a00",
        )


def endpoint_latency(endpoints: Sequence[EndpointRow], limit: float | None) -> Chart | None:
    """P50/P95/P99 per request name, with the P95 threshold line."""
    rows = [e for e in endpoints if e["name"] != "ALL"][:20]
    if not rows:
        return None
    fig, ax = plt.subplots(layout="constrained", figsize=(9, 0.45 * len(rows) + 1.2))
    y = np.arange(len(rows))
    for k, (key, off) in enumerate((("p50", -0.27), ("p95", 0.0), ("p99", 0.27))):
        ax.barh(y + off, [e["user"][key] for e in rows], height=0.26, color=_COLORS[key], label=key.upper())
        del k
    if limit is not None:
        ax.axvline(limit, color="#222", ls="--", lw=1)
        ax.text(limit, len(rows) - 0.4, f" P95 limit {limit:g} ms", fontsize=8)
    ax.set_yticks(y, [e["name"] for e in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("latency from intended send (ms)")
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig, "Latency per endpoint", "endpoint-latency", "P50, P95 and P99 latency per request name")


def _buckets(t: np.ndarray[Any, Any], t0: float, span: float) -> tuple[np.ndarray[Any, Any], float]:
    width = max(1.0, math.ceil(span / 120.0))
    return ((t - t0) // width).astype(np.int64), width


def latency_over_time(ev: Evidence, t0: float, span: float) -> Chart | None:
    """P50/P95/P99 of user latency per time bucket, phases and faults shaded."""
    df = ev.requests
    if df is None or not len(df):
        return None
    b, width = _buckets(df["t"].to_numpy(), t0, span)
    q = group_quantiles(b, df["latency_user_ms"].to_numpy())
    xs = np.array(sorted(q)) * width
    fig, ax = plt.subplots(layout="constrained", figsize=(9, 3.2))
    for key in ("p50", "p95", "p99"):
        ax.plot(xs, [q[k][key] for k in sorted(q)], color=_COLORS[key], label=key.upper(), lw=1.2)
    _shade(ax, ev, t0)
    ax.set_xlabel(f"seconds since start ({width:g} s buckets)")
    ax.set_ylabel("ms")
    ax.legend(fontsize=8, loc="upper right")
    return _png(
        fig, "Latency over time", "latency-time", "latency percentiles over time with phases and faults"
    )


def throughput_over_time(ev: Evidence, t0: float, span: float) -> Chart | None:
    """Requests and failed requests per second over time."""
    df = ev.requests
    if df is None or not len(df):
        return None
    b, width = _buckets(df["ts"].to_numpy(), t0, span)
    n = int(b.max()) + 1 if len(b) else 1
    total = np.bincount(np.clip(b, 0, None), minlength=n) / width
    failed = (
        np.bincount(np.clip(b, 0, None), weights=failed_mask(df["status"].to_numpy()), minlength=n) / width
    )
    xs = np.arange(n) * width
    fig, ax = plt.subplots(layout="constrained", figsize=(9, 3.0))
    ax.plot(xs, total, color="#4c78a8", label="requests/s")
    ax.plot(xs, failed, color="#e45756", label="failed/s")
    _shade(ax, ev, t0)
    ax.set_xlabel("seconds since start")
    ax.legend(fontsize=8, loc="upper right")
    return _png(fig, "Throughput and errors", "throughput-time", "requests and failures per second over time")


def pool_over_time(ev: Evidence, t0: float) -> Chart | None:
    """Pool utilization (%) and waiting requests over time."""
    p = ev.pool
    if p is None or not len(p):
        return None
    fig, ax = plt.subplots(layout="constrained", figsize=(9, 3.0))
    x = p["ts"].to_numpy() - t0
    ax.plot(x, p["utilization_pct"].to_numpy(), color="#54a24b", label="utilization %")
    ax.axhline(80, color="#f58518", ls="--", lw=0.8)
    ax.axhline(90, color="#e45756", ls="--", lw=0.8)
    ax.set_ylim(0, 105)
    ax2 = ax.twinx()
    ax2.plot(x, p["waiting"].to_numpy(), color="#b279a2", lw=0.8, label="waiting")
    ax2.set_ylabel("waiting requests")
    _shade(ax, ev, t0)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("%")
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig, "Connection pool", "pool-time", "pool utilization and waiting requests over time")


def health_over_time(ev: Evidence, t0: float) -> Chart | None:
    """Each health.csv poll: latency per endpoint, coloured by its answer (2xx, 503, other, none)."""
    h = ev.health
    if h is None or not len(h):
        return None
    fig, axes = plt.subplots(3, 1, layout="constrained", figsize=(9, 4.2), sharex=True)
    status = h["status"].to_numpy()
    kinds = (
        ("2xx", (status >= 200) & (status < 300), "#54a24b"),
        ("503", status == 503, "#f58518"),
        ("other", (status > 0) & ((status < 200) | (status >= 300)) & (status != 503), "#b279a2"),
        ("no answer", status == 0, "#e45756"),
    )
    for ax, endpoint in zip(axes, ("live", "ready", "db"), strict=True):
        mine = (h["endpoint"] == endpoint).to_numpy()
        for label, sel, color in kinds:
            rows = h[mine & sel]
            ax.scatter(rows["ts"] - t0, rows["latency_ms"], s=4, color=color, label=label)
        ax.set_ylabel(f"/{endpoint} ms", fontsize=8)
        _shade(ax, ev, t0)
    axes[0].legend(fontsize=7, loc="upper right", ncol=4)
    axes[-1].set_xlabel("seconds since start")
    return _png(fig, "Health polls", "health-time", "health endpoint answers and latency over time")


def bars(counts: dict[str, int], title: str, chart_id: str, color: str = "#4c78a8") -> Chart | None:
    """A horizontal bar chart of labelled counts (lock conflicts by code, race outcomes)."""
    items = [(k or "(none)", v) for k, v in counts.items() if v]
    if not items:
        return None
    fig, ax = plt.subplots(layout="constrained", figsize=(7, 0.4 * len(items) + 1.0))
    ax.barh([k for k, _ in items], [v for _, v in items], color=color)
    ax.invert_yaxis()
    ax.tick_params(labelsize=8)
    return _png(fig, title, chart_id, title)
