"""The chaos measures: reconciliation of the run's writes; one check per fault (latency, health, recovery).

Decision written down here because it changes verdicts:
- The chaos metrics (reports/chaos.py says how each is measured) make no check at all on a run
  without faults, one check per fault for the per-fault ones, and `no_data` when a chaos run lacks
  their evidence (health.csv, reconcile.json, faults.jsonl).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np

from reports import chaos
from reports.evidence import Evidence
from reports.measurement import Measure, Measurement

if TYPE_CHECKING:  # catalog (read by thresholds) imports the measures
    from reports.thresholds import Threshold, ThresholdSet


def reconcile(section: str, key: str, population: str) -> Measure:
    """A count from reconcile.json (`section.key`), out of `section.population`, on chaos runs only."""

    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        if not chaos.is_chaos(ev):
            return []
        counts = chaos.reconcile_counts(ev)
        if counts is None:
            return [
                Measurement(
                    missing="no reconcile.json: the run's writes were not checked against the database"
                )
            ]
        part = counts[section]
        if part[key] is None:
            return [Measurement(missing=f"reconcile.json has no integer {section}.{key}")]
        shown = [k for k in chaos.RECONCILE[section] if part[k] is not None]
        detail = ", ".join(f"{k.replace('_', ' ')} {part[k]}" for k in shown)
        if section == "acknowledged" and counts["not_checked"]:
            unread = ", ".join(f"{kind} {n}" for kind, n in sorted(counts["not_checked"].items()))
            detail += f"; not readable back, not judged: {unread}"
        return [
            Measurement(
                count=part[key],
                population=int(part[population] or 0),
                examples=list(part["examples"]),
                detail=detail + _LOOKED_UP.get(str(counts["source"]), ""),
            )
        ]

    return measure


_LOOKED_UP = {"database": " (looked up in the database)", "http": " (looked up through the target's API)"}


PerFault: TypeAlias = "Callable[[Evidence, chaos.Fault, Threshold, ThresholdSet], Measurement]"


def per_fault(needs: str, fail_fast_only: bool, one: PerFault) -> Measure:
    """One measurement per fault (labelled `kind#n`) on chaos runs; `needs`: the evidence attribute."""

    def measure(ev: Evidence, th: Threshold, ts: ThresholdSet) -> list[Measurement]:
        if not chaos.is_chaos(ev):
            return []
        if (why := chaos.missing_faults(ev)) is not None:
            return [Measurement(missing=why)]
        out = []
        for f in chaos.faults(ev):
            if fail_fast_only and not f.makes_db_unavailable:
                continue
            if f.not_injected is not None:
                out.append(Measurement(f.label, missing=f.not_injected))
            elif getattr(ev, needs) is None:
                out.append(Measurement(f.label, missing=f"no {_FILES[needs]}"))
            else:
                out.append(one(ev, f, th, ts))
        return out

    return measure


_FILES = {"requests": "requests.csv", "health": "health.csv"}


def fault_requests(ev: Evidence, f: chaos.Fault, th: Threshold, ts: ThresholdSet) -> Measurement:
    """Latencies of the requests in flight during one fault."""
    r = chaos.requests_during(ev, f, th.expr.limit)
    return Measurement(
        f.label,
        values=r["latencies_ms"],
        examples=r["slowest"],
        detail=f"{r['count']} requests in flight, {r['status_503']} answered 503, "
        f"{r['no_response']} without a response, {r['over_bound']} over {th.expr.limit:g} ms",
    )


def fault_health(ev: Evidence, f: chaos.Fault, th: Threshold, ts: ThresholdSet) -> Measurement:
    """Health polls during one fault that did not fail fast."""
    h = chaos.health_during(ev, f, chaos.fail_fast_bound_ms(ts))
    per = "; ".join(
        f"{e}: {v['polls']} polls {' '.join(f'{k}x{n}' for k, n in v['statuses'].items())}".rstrip()
        for e, v in h["endpoints"].items()
    )
    return Measurement(
        f.label, count=h["violations"], population=h["judged"], examples=h["examples"], detail=per
    )


def recovery(key: Literal["first_order_s", "p95_s"], what: str) -> PerFault:
    """Seconds from a fault's end to `key` of chaos.recovery (`what` names it in the detail)."""

    def one(ev: Evidence, f: chaos.Fault, th: Threshold, ts: ThresholdSet) -> Measurement:
        limit, core = chaos.core_latency(ts)
        r = chaos.recovery(ev, f, limit, core)
        seconds, after = r[key], r["evidence_after_s"]
        if seconds is None:
            return Measurement(f.label, values=np.zeros(0), detail="the fault never ended")
        if math.isfinite(seconds):
            return Measurement(
                f.label, values=np.array([seconds]), detail=f"{what} {seconds:.2f} s after the end"
            )
        if after is not None and after < th.expr.limit:
            return Measurement(
                f.label,
                values=np.zeros(0),
                detail=f"the evidence ends {after:.1f} s after the fault: too soon to tell",
            )
        return Measurement(
            f.label,
            values=np.array([math.inf]),
            detail=f"never recovered: no {what} in the {after:.0f} s after the end",
        )

    return one
