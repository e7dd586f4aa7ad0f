"""`generate` and `compare`: read a run folder (or a suite of them), judge, write, return the exit status.

A suite folder (`run.json` kind `suite`, `children` = sub-folders) is judged child by child (each
child gets its own four files) and then as a whole: the suite's exit status is 1 if any child
failed a critical check, else 2 if any child could not be judged or the suite did not complete,
else 0. A member the run skipped (its faults need more than the target allows; run.json
`skipped`) is neither: it is listed with its reason and does not make the suite incomplete.
Failing dominates "cannot judge": a release with a known failure is failing, whatever else.
Any error while judging (bad thresholds, missing evidence, or a bug here) is exit status 2 with the
reason printed, never a traceback that CI would confuse with a failing release.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from loadgate_contract.files import SUITE_SCHEMA, SUMMARY_SCHEMA
from loadgate_contract.records import SUITE_KIND, RunRecordDoc, RunStatus
from reports.capacity import capacity_result, capacity_text
from reports.chaos import chaos_section
from reports.errors import ReportError
from reports.evidence import load_evidence, read_run_record
from reports.judge import Judgement, judge
from reports.metrics import summarize
from reports.render_json import dumps, run_document
from reports.render_junit import junit
from reports.render_text import markdown, terminal_table
from reports.thresholds import load_thresholds


@dataclass
class RunReport:
    """One judged run and everything rendered from it."""

    run_dir: Path
    judgement: Judgement
    summary: dict[str, Any]
    document: dict[str, Any]


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def judge_run(run_dir: Path, thresholds_path: Path | None, fail_on_insufficient: bool) -> RunReport:
    """Load, judge and summarize one run folder (no files written)."""
    ev = load_evidence(run_dir)
    source = str(run_dir / ("plan.json" if ev.plan and ev.plan.get("thresholds") else "scenario.toml"))
    ts = load_thresholds(thresholds_path, ev.scenario_thresholds, source)
    j = judge(ev, ts, fail_on_insufficient=fail_on_insufficient)
    summary = summarize(ev, ts.exclude_phases)
    if (chaos := chaos_section(ev, ts)) is not None:
        summary["chaos"] = chaos
    from reports.render_html import charts_for

    summary["charts"] = charts_for(ev, ts, j)
    document = run_document(j, summary, ts.source)
    capacity = capacity_result(ev)
    if capacity is not None:
        document["capacity"] = capacity
    return RunReport(run_dir, j, summary, document)


def write_run(report: RunReport) -> None:
    """Write report.html, summary.json, junit.xml, summary.md into the run folder."""
    from reports.render_html import run_html

    d, j = report.run_dir, report.judgement
    doc = {k: v for k, v in report.document.items() if k != "charts"}
    _write(d / "summary.json", dumps(doc))
    _write(d / "junit.xml", junit([(str(j.run.get("id") or d.name), j)]))
    md = markdown(j, report.summary)
    capacity = capacity_text(report.document["capacity"]) if "capacity" in report.document else None
    if capacity is not None:
        md += "\n## Capacity\n\n```\n" + capacity + "```\n"
    _write(d / "summary.md", md)
    _write(d / "report.html", run_html(report.judgement, report.summary, capacity))


def _error_report(run_dir: Path, reason: str) -> Judgement:
    run: RunRecordDoc = {"id": run_dir.name}
    with contextlib.suppress(ReportError):
        run = read_run_record(run_dir)
    return Judgement(str(run_dir), run, [], 2, [reason], [])


def _write_error(run_dir: Path, j: Judgement) -> None:
    if not run_dir.is_dir():
        return
    doc = {
        "schema": SUMMARY_SCHEMA,
        "verdict": j.verdict,
        "exit_code": 2,
        "reasons": j.reasons,
        "run": j.run,
        "checks": [],
    }
    _write(run_dir / "summary.json", dumps(doc))
    _write(run_dir / "junit.xml", junit([(run_dir.name, j)]))
    _write(run_dir / "summary.md", f"# loadgate: {run_dir.name}: CANNOT JUDGE\n\n- {j.reasons[0]}\n")


def _judge_and_write(
    run_dir: Path, thresholds_path: Path | None, fail_on_insufficient: bool
) -> tuple[Judgement, RunReport | None]:
    try:
        report = judge_run(run_dir, thresholds_path, fail_on_insufficient)
        write_run(report)
        return report.judgement, report
    except ReportError as exc:
        j = _error_report(run_dir, f"cannot judge: {exc}")
    except Exception as exc:  # a bug here must read as "cannot judge" (2), never as a failing release
        traceback.print_exc(file=sys.stderr)
        j = _error_report(run_dir, f"report generator crashed: {type(exc).__name__}: {exc}")
    _write_error(run_dir, j)
    return j, None


def _suite_exit(codes: list[int], complete: bool) -> int:
    if 1 in codes:
        return 1
    return 2 if 2 in codes or not complete or not codes else 0


def _generate_suite(
    root: Path, run: RunRecordDoc, thresholds_path: Path | None, fio: bool, out: TextIO
) -> int:
    from reports.render_html import suite_html

    children = [str(c) for c in run.get("children") or []]
    results: list[tuple[str, Judgement, RunReport | None]] = []
    for name in children:
        j, rep = _judge_and_write(root / name, thresholds_path, fio)
        results.append((name, j, rep))
        out.write(terminal_table(j, title=f"{run.get('id') or root.name}/{name}"))
    skipped = [(str(s.get("scenario")), str(s.get("reason"))) for s in run.get("skipped") or []]
    missing = [
        s
        for s in run.get("scenarios") or []
        if not any(c.endswith(f"-{s}") for c in children) and s not in dict(skipped)
    ]
    complete = run.get("status") == RunStatus.COMPLETE and not missing
    code = _suite_exit([j.exit_code for _, j, _ in results], complete)
    reasons = [f"{name}: {r}" for name, j, _ in results for r in j.reasons]
    if not complete:
        reasons.append(f"suite status {run.get('status')}" + (f"; never ran: {missing}" if missing else ""))
    if not results and skipped:
        reasons.append("every member was skipped: nothing was judged")
    for name, why in skipped:
        out.write(f"skipped: {name}: {why}\n")
    suite = Judgement(str(root), run, [], code, reasons, [])
    doc = {
        "schema": SUITE_SCHEMA,
        "verdict": suite.verdict,
        "exit_code": code,
        "reasons": reasons,
        "run": {
            k: run.get(k)
            for k in (
                "id",
                "scenario",
                "kind",
                "status",
                "target",
                "started_at",
                "ended_at",
                "versions",
                "machine",
            )
        },
        "skipped": [{"name": n, "reason": why} for n, why in skipped],
        "children": [
            {
                "name": n,
                "verdict": j.verdict,
                "exit_code": j.exit_code,
                "reasons": j.reasons,
                "failed_checks": [c.name for c in j.checks if c.status == "fail"],
            }
            for n, j, _ in results
        ],
    }
    _write(root / "summary.json", dumps(doc))
    _write(root / "junit.xml", junit([(n, j) for n, j, _ in results]))
    md = [
        f"# loadgate suite {run.get('id') or root.name}: {suite.verdict}",
        "",
        f"Exit status **{code}**.",
        "",
    ]
    md += [f"- {r}" for r in reasons] + [""]
    if run.get("target"):
        md[2:2] = [f"Target `{run['target']}`.", ""]
    if skipped:
        md += ["## Skipped", ""] + [f"- {n}: skipped: {why}" for n, why in skipped] + [""]
    md += [
        f"## {n}: {j.verdict}\n\n" + (markdown(j, rep.summary).split("\n", 2)[2] if rep else "")
        for n, j, rep in results
    ]
    _write(root / "summary.md", "\n".join(md) + "\n")
    _write(
        root / "report.html",
        suite_html(suite, [(n, j, rep.summary if rep else None) for n, j, rep in results], skipped),
    )
    out.write(f"suite verdict: {suite.verdict} (exit {code})\n")
    return code


def generate(
    run_dir: Path,
    *,
    thresholds_path: Path | None = None,
    fail_on_insufficient: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Judge a run (or suite) folder, write its four report files, print the verdict; return 0, 1 or 2."""
    run_dir = Path(run_dir)
    try:
        run = read_run_record(run_dir)
        if run.get("kind") == SUITE_KIND:
            return _generate_suite(run_dir, run, thresholds_path, fail_on_insufficient, out)
    except (ReportError, ValueError, OSError) as exc:
        out.write(f"loadgate report: cannot judge {run_dir}: {exc}\n")
        return 2
    j, report = _judge_and_write(run_dir, thresholds_path, fail_on_insufficient)
    out.write(terminal_table(j))
    if report is not None and "capacity" in report.document:
        out.write(capacity_text(report.document["capacity"]))
    return j.exit_code


def compare(
    baseline: Path,
    candidate: Path,
    *,
    tolerance_pct: float = 10.0,
    fail_on_insufficient: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Per request name: did NEW regress? 0 no, 1 yes, 2 cannot compare, 3 inconclusive (comparison.py)."""
    from reports.comparison import run_compare

    return run_compare(
        Path(baseline),
        Path(candidate),
        tolerance_pct=tolerance_pct,
        fail_on_insufficient=fail_on_insufficient,
        out=out,
    )
