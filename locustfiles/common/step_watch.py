"""Early stop of a capacity ramp: once a step has clearly broken, the steps above it are not run.

The master (or the local runner) sees every sample as it lands (`SampleWriter.on_rows`). After a
step's end plus a grace (time for workers' buffered samples to arrive), the watch judges it with
the capacity criteria of `reports/capacity.py` (P95 from the intended send < 500 ms, < 1 % failed,
no dropped arrival). Locust processes may not import `reports`, so the three limits are repeated
here; the report stays the judge, this only decides when to stop. A step judged on the samples seen
so far errs towards "held" (what is still in flight is slow, not fast), so the run stops at the
first broken step or, rarely, one step later, never before a step that would have held.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from locustfiles.common.plan import RunPlan
from locustfiles.common.samples import COLUMNS, Row

P95_LIMIT_MS = 500.0
FAILED_LIMIT = 0.01
FAILED_CLIENT_STATUSES = frozenset({401, 403, 404, 405, 422})

_TS, _INTENDED, _STATUS, _LATENCY, _CODE, _PHASE = (
    COLUMNS.index(c) for c in ("ts", "ts_intended", "status", "latency_ms", "error_code", "phase")
)


@dataclass
class _Step:
    name: str
    end_s: float
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    dropped: int = 0
    verdict: str | None = None  # "held" / "broken" once judged

    def judge(self) -> str:
        n = len(self.latencies)
        if n == 0:
            self.verdict = "broken"
            return self.verdict
        ordered = sorted(self.latencies)
        p95 = ordered[max(0, math.ceil(n * 0.95) - 1)]
        ok = p95 < P95_LIMIT_MS and self.failed / n < FAILED_LIMIT and self.dropped == 0
        self.verdict = "held" if ok else "broken"
        return self.verdict

    def describe(self) -> str:
        n = len(self.latencies)
        ordered = sorted(self.latencies)
        p95 = ordered[max(0, math.ceil(n * 0.95) - 1)] if n else float("nan")
        failed = self.failed / n if n else 0.0
        return f"{self.name}: {n} requests, p95 {p95:.0f} ms, failed {failed:.2%}, dropped {self.dropped}"


class StepWatch:
    """Feed it rows (`add`); `broken(elapsed_s)` names the first step judged broken, if any."""

    def __init__(self, plan: RunPlan, grace_s: float) -> None:
        self.grace_s = grace_s
        self.steps = {p.name: _Step(p.name, p.end_s) for p in plan.phases if p.name.startswith("step-")}
        self.order = [p.name for p in plan.phases if p.name in self.steps]
        self.reason: str | None = None

    def add(self, rows: list[Row]) -> None:
        for row in rows:
            step = self.steps.get(str(row[_PHASE]))
            if step is None or step.verdict is not None:
                continue
            try:
                status = int(row[_STATUS] or 0)
                latency = float(row[_LATENCY] or 0.0)
                if row[_INTENDED] not in ("", None):
                    latency += max(0.0, (float(row[_TS]) - float(row[_INTENDED])) * 1000)
            except (TypeError, ValueError):
                continue
            step.latencies.append(latency)
            renewed = status == 401 and row[_CODE] == "AUTH_RENEWED"  # the resent request is judged
            step.failed += (status == 0 or status >= 500 or status in FAILED_CLIENT_STATUSES) and not renewed
            step.dropped += row[_CODE] == "DROPPED"

    def broken(self, elapsed_s: float) -> str | None:
        """The first broken step among those ended at least `grace_s` ago (judged once each)."""
        if self.reason is not None:
            return self.reason
        for name in self.order:
            step = self.steps[name]
            if step.verdict is None:
                if elapsed_s < step.end_s + self.grace_s:
                    return None
                step.judge()
            if step.verdict == "broken":
                self.reason = step.describe()
                return self.reason
        return None
