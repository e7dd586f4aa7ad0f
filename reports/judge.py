"""Judge a run: thresholds x evidence -> checks (data, never exceptions) -> exit status.

Check statuses:
- `pass` / `fail`: enough samples, and the measured value holds / breaks the expression.
- `insufficient_data`: fewer samples than `min_samples`; fails the gate only with
  `fail_on_insufficient`. Exception: a breach that more samples cannot undo is a `fail` at any
  sample count (a `max` or `count` already over its limit, or a percentile whose 95 % CI lies
  entirely beyond the limit).
- `no_data`: the evidence file is absent (or a probe could not run).

Exit status (the gate):
- 1 if any critical check fails (or is insufficient, with `fail_on_insufficient`);
- else 2 if a critical, required check has no data (the gate cannot judge), or the run is not
  `complete` (killed, failed or still `running`): a partial run may show what broke, but it cannot
  certify a release, so it never exits 0;
- else 0. Warnings never change the exit status.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np

from loadgate_contract.records import SUITE_KIND, RunRecordDoc, RunStatus
from reports.catalog import METRICS
from reports.evidence import Evidence
from reports.measures import Measurement
from reports.percentiles import percentile_sorted, quantile_ci
from reports.power import Detection, detection_for
from reports.thresholds import Expression, Threshold, ThresholdSet


class Status(StrEnum):
    """Outcome of one check."""

    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT = "insufficient_data"
    NO_DATA = "no_data"


@dataclass(frozen=True)
class Check:
    """One judged threshold (per split): what was measured against what limit, on how many samples."""

    name: str
    threshold: str
    metric: str
    expression: str
    scope: str
    phase: str
    severity: str
    measured: float | None
    limit: float
    unit: str
    n: int
    ci: tuple[float | None, float | None] | None
    status: Status
    seed: str
    required: bool = True
    detail: str = ""
    examples: Sequence[Mapping[str, object]] = ()
    source: str = ""  # which evidence the value came from (reports/pg_evidence.py), when there is a choice
    detection: Detection | None = None  # what the check could have caught with its samples (reports/power.py)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["status"] = str(self.status)
        d["ci"] = list(self.ci) if self.ci is not None else None
        return d


@dataclass
class Judgement:
    """All checks of one run and the gate's exit status with its reasons."""

    run_dir: str
    run: RunRecordDoc
    checks: list[Check]
    exit_code: int
    reasons: list[str]
    notes: list[str]

    @property
    def verdict(self) -> str:
        """PASS, FAIL or CANNOT JUDGE (+ INCOMPLETE)."""
        word = {0: "PASS", 1: "FAIL", 2: "CANNOT JUDGE"}[self.exit_code]
        status = self.run.get("status")
        return (
            word
            if status == RunStatus.COMPLETE or self.run.get("kind") == SUITE_KIND
            else f"{word} (run {status})"
        )


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (95 % by default)."""
    if n <= 0:
        return None
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def _aggregate(
    expr: Expression, m: Measurement, confidence: float
) -> tuple[float | None, int, tuple[float | None, float | None] | None]:
    """(value, n, ci) of a measurement under an expression's aggregation."""
    if m.values is not None:
        n = len(m.values)
        if n == 0:
            return None, 0, None
        if expr.agg in ("p", "med"):
            q = expr.q if expr.agg == "p" and expr.q is not None else 50.0
            s = np.sort(m.values)
            return percentile_sorted(s, q), n, quantile_ci(s, q, confidence)
        value = {
            "avg": lambda v: float(np.mean(v)),
            "min": lambda v: float(np.min(v)),
            "max": lambda v: float(np.max(v)),
            "count": lambda v: float(len(v)),
            "value": lambda v: float(v[-1]),
        }[expr.agg](m.values)
        return value, n, None
    if expr.agg == "rate" or m.denominator:
        if expr.agg == "count":
            return float(m.numerator), m.denominator, None
        if m.denominator == 0:
            return None, 0, None
        return m.numerator / m.denominator, m.denominator, wilson(m.numerator, m.denominator)
    return float(m.count), m.population, None


def _certain_breach(expr: Expression, value: float, ci: tuple[float | None, float | None] | None) -> bool:
    """A breach more samples cannot undo: a max or count over an upper limit, or a whole CI past it."""
    if expr.op not in ("<", "<=", "=="):
        return False
    if expr.agg in ("max", "count", "value") and expr.op in ("<", "<=") and not expr.holds(value):
        return expr.agg != "value"
    if expr.agg == "count" and expr.op == "==" and value > expr.limit:
        return True
    return bool(ci and ci[0] is not None and not expr.holds(ci[0]))


def _scope(th: Threshold) -> str:
    parts = [
        f"request={'|'.join(th.requests)}" if th.requests else "",
        f"tag={th.tag}" if th.tag else "",
        f"flow={th.flow}" if th.flow else "",
        f"probes={'|'.join(th.probes)}" if th.probes else "",
    ]
    return ", ".join(p for p in parts if p) or "all"


def judge_one(th: Threshold, ts: ThresholdSet, m: Measurement) -> Check:
    """Turn one measurement into a check."""
    spec = METRICS[th.metric]
    phase = th.phase or ("all but " + ", ".join(ts.exclude_phases) if ts.exclude_phases else "all")
    base = dict(
        name=f"{th.name}[{m.label}]" if m.label else th.name,
        threshold=th.name,
        metric=th.metric,
        expression=th.expr.text,
        scope=_scope(th),
        phase=phase,
        severity=th.severity,
        limit=th.expr.limit,
        unit="" if th.expr.agg in ("rate", "count") else spec.unit,
        seed=th.seed,
        required=th.required and not m.optional,
        examples=m.examples,
        source=m.source,
    )
    if m.missing is not None:
        return Check(**base, measured=None, n=0, ci=None, status=Status.NO_DATA, detail=m.missing)  # type: ignore[arg-type]
    value, n, ci = _aggregate(th.expr, m, ts.confidence)
    detail = m.detail
    if value is None:
        status = Status.INSUFFICIENT
        detail = "; ".join(filter(None, [detail, "no samples in scope"]))
    elif n < th.min_samples:
        if _certain_breach(th.expr, value, ci):
            status = Status.FAIL
            detail = "; ".join(filter(None, [detail, f"fails even on {n} < {th.min_samples} samples"]))
        else:
            status = Status.INSUFFICIENT
            detail = "; ".join(filter(None, [detail, f"{n} samples < min_samples {th.min_samples}"]))
    else:
        status = Status.PASS if th.expr.holds(value) else Status.FAIL
    detection = detection_for(th, m.values, m.population)
    return Check(**base, measured=value, n=n, ci=ci, status=status, detail=detail, detection=detection)  # type: ignore[arg-type]


def gate(checks: list[Check], *, complete: bool, fail_on_insufficient: bool) -> tuple[int, list[str]]:
    """Exit status and its reasons (see module docstring)."""
    critical = [c for c in checks if c.severity == "critical"]
    failed = [c.name for c in critical if c.status == Status.FAIL]
    if fail_on_insufficient:
        failed += [c.name for c in critical if c.status == Status.INSUFFICIENT]
    if failed:
        return 1, [f"critical check failed: {n}" for n in failed]
    blind = [
        f"no evidence for critical check {c.name}: {c.detail}"
        for c in critical
        if c.status == Status.NO_DATA and c.required
    ]
    if not complete:
        blind.append("the run did not complete: a partial run cannot pass the gate")
    return (2, blind) if blind else (0, [])


def evidence_used(spec_evidence: str, present: set[str]) -> str:
    """The files a check read, from its metric's `a + b` evidence: the absent ones said as such.

    A metric with alternatives (`a | b`) names the one it used itself (`Measurement.source`).
    """
    if "|" in spec_evidence:
        return spec_evidence
    parts = [p.strip() for p in spec_evidence.split("+")]
    absent = [p for p in parts if p not in present]
    if not absent or len(absent) == len(parts):
        return spec_evidence
    return " + ".join(p for p in parts if p in present) + f" (without {', '.join(absent)})"


def judge(ev: Evidence, ts: ThresholdSet, *, fail_on_insufficient: bool = False) -> Judgement:
    """Apply every threshold that applies to this run's kind; compute the exit status."""
    present = {p.name for p in ev.run_dir.iterdir()} if ev.run_dir.is_dir() else set()
    checks = [
        judge_one(th, ts, m)
        for th in ts.thresholds
        if th.applies_to(ev.kind)
        for m in METRICS[th.metric].measure(ev, th, ts)
    ]
    checks = [
        c if c.source else replace(c, source=evidence_used(METRICS[c.metric].evidence, present))
        for c in checks
    ]
    code, reasons = gate(checks, complete=not ev.incomplete, fail_on_insufficient=fail_on_insufficient)
    return Judgement(str(ev.run_dir), ev.run, checks, code, reasons, list(ev.notes))
