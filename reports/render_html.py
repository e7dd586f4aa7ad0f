"""report.html: one self-contained page (inline CSS, charts as data URIs, no external URL at all).

Order is what a QA engineer reads first: the verdict and why, the failed checks, then every check,
per-endpoint latency, charts over time, lock conflicts, races, invariant probes with example rows,
and the run's rates, versions and machine. An inline script marks `<body data-charts-loaded>` once
every chart image has decoded, so a headless browser test can tell a broken page from a good one.
"""

from __future__ import annotations

from typing import Any

import jinja2

from reports import charts
from reports.evidence import Evidence
from reports.formatting import STATUS_LABEL, ci, measured, num, seconds, sort_checks
from reports.judge import Judgement
from reports.power import detection_sentence, detection_text
from reports.render_text import chaos_note, reconcile_lines
from reports.thresholds import ThresholdSet

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("reports", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["num"] = num
_ENV.filters["measured"] = measured
_ENV.filters["ci"] = ci
_ENV.filters["seconds"] = seconds
_ENV.globals["chaos_note"] = chaos_note
_ENV.globals["reconcile_lines"] = reconcile_lines
_ENV.globals["STATUS_LABEL"] = STATUS_LABEL
_ENV.globals["detection_text"] = detection_text
_ENV.globals["detection_sentence"] = detection_sentence


# Tests that judge dozens of run folders switch charts off (about 0.3 s per run); everything else is the same.
CHARTS_ENABLED = True


def charts_for(ev: Evidence, ts: ThresholdSet, j: Judgement) -> list[dict[str, str]]:
    """Every chart the evidence supports, in reading order."""
    if not CHARTS_ENABLED:
        return []
    from reports.metrics import endpoint_stats, lock_conflicts, race_summary

    span = ev.span
    t0, length = (span[0], max(span[1] - span[0], 1.0)) if span else (0.0, 1.0)
    core = next((t for t in ts.thresholds if t.name == "core_p95"), None)
    out = [
        charts.endpoint_latency(endpoint_stats(ev, ts.exclude_phases), core.expr.limit if core else None),
        charts.latency_over_time(ev, t0, length),
        charts.throughput_over_time(ev, t0, length),
        charts.pool_over_time(ev, t0),
        charts.health_over_time(ev, t0),
        charts.bars(
            lock_conflicts(ev, ts.exclude_phases)["responses_409"],
            "Lock conflicts (409) by code",
            "conflicts",
        ),
    ]
    races: dict[str, int] = {}
    for r in race_summary(ev):
        races[f"{r['kind']}: expected winners"] = r["trials"] - r["wrong_trials"]
        races[f"{r['kind']}: WRONG winners"] = r["wrong_trials"]
    out.append(charts.bars(races, "Race outcomes (trials)", "races", "#54a24b"))
    return [c for c in out if c is not None]


def run_html(j: Judgement, summary: dict[str, Any], capacity: str | None = None) -> str:
    """The page of one run (`capacity`: the capacity table as text, for a capacity run)."""
    checks = sort_checks(j.checks)
    labels = [f["label"] for f in (summary.get("chaos") or {}).get("faults", [])]
    return _ENV.get_template("report.html.j2").render(
        j=j,
        s=summary,
        capacity=capacity,
        checks=checks,
        failed=[c for c in checks if c.status == "fail"],
        fault_checks={label: [c for c in checks if c.name.endswith(f"[{label}]")] for label in labels},
        suite=None,
        skipped=[],
    )


def key_charts(summary: dict[str, Any] | None) -> list[dict[str, str]]:
    """The charts that tell a scenario's story on the suite page (every chart: the child's page).

    A race: its outcomes. A run with faults: latency and health, the faults shaded. Else latency.
    """
    if not summary:
        return []
    charts_by_id = {c["id"]: c for c in summary.get("charts") or []}
    if "races" in charts_by_id:
        wanted: tuple[str, ...] = ("races",)
    elif summary.get("chaos"):
        wanted = ("latency-time", "health-time")
    else:
        wanted = ("latency-time",)
    return [charts_by_id[i] for i in wanted if i in charts_by_id]


def suite_html(
    suite: Judgement,
    children: list[tuple[str, Judgement, dict[str, Any] | None]],
    skipped: list[tuple[str, str]] | None = None,
) -> str:
    """The page of a suite: overall verdict, then one section per scenario with its key charts.

    `skipped`: (member, reason) of the members the run did not start (the target allows less).
    """
    return _ENV.get_template("report.html.j2").render(
        j=suite,
        s=None,
        checks=[],
        failed=[],
        suite=[(n, cj, sort_checks(cj.checks), key_charts(s)) for n, cj, s in children],
        skipped=skipped or [],
        capacity=None,
    )
