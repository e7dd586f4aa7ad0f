"""The terminal verdict table and `summary.md` (Markdown for CI job summaries and PR comments)."""

from __future__ import annotations

from typing import Any

from reports.catalog import METRICS
from reports.formatting import STATUS_LABEL, ci, measured, num, seconds, sort_checks
from reports.judge import Judgement
from reports.power import detection_sentence, detection_text


def _rows(j: Judgement) -> list[list[str]]:
    rows = []
    for c in sort_checks(j.checks):
        limit = c.expression + (f" {c.unit}" if c.unit and c.unit != "%" else "")
        status = STATUS_LABEL[c.status] + (
            " (warning)" if c.severity == "warning" and c.status == "fail" else ""
        )
        catch = detection_text(c.detection, c.unit or "ms")
        rows.append([c.name, (measured(c) + " " + ci(c)).strip(), limit, str(c.n), status, catch])
    return rows


def terminal_table(j: Judgement, title: str | None = None) -> str:
    """A fixed-width table: check, measured [CI], limit, n, status, could catch; then the verdict and why."""
    header = ["check", "measured [95% CI]", "limit", "n", "status", "could catch"]
    rows = _rows(j)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    target = f" (target {j.run['target']})" if j.run.get("target") else ""
    lines = [f"loadgate report: {title or j.run.get('id') or j.run_dir}{target}"]
    for r in [header, ["-" * w for w in widths], *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    lines.append(f"verdict: {j.verdict} (exit {j.exit_code})")
    lines += [f"  - {r}" for r in j.reasons]
    return "\n".join(lines) + "\n"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    esc = [[cell.replace("|", "\\|") for cell in r] for r in rows]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in esc),
    ]


def chaos_note(x: dict[str, Any]) -> str:
    """How the per-fault figures are measured (the same sentence in summary.md and report.html)."""
    return (
        f"Fail fast (db_restart, db_crash, db_pause): every request in flight answered within "
        f"{x['fail_fast_bound_ms']:g} ms; /health/db and /ready 503 within it (polls in a fault's first "
        f"{x['grace_s']:g} s are not judged, nor a 2xx they answer in its last {x['grace_s']:g} s: the "
        f"fault's start and end are logged around the injector), /health/live 200 throughout. Recovery: "
        f"from the fault's end to the first 2xx POST /api/orders, and to the first {x['bucket_s']:g} s "
        f"bucket with core P95 under {x['p95_limit_ms']:g} ms. After a db_restart or db_crash the first "
        "order is also the pool reconnecting by itself: the service is restarted only by a service_crash "
        "fault. The invariant probes (ledger, duplicate orders) run after the last fault."
    )


def reconcile_lines(rec: dict[str, Any] | None) -> list[str]:
    """The run-wide reconciliation counts, one line per kind."""
    if rec is None:
        return ["no reconcile.json: the run's writes were not checked against the database (no data)"]
    a, i, r = rec["acknowledged"], rec["indeterminate"], rec["idempotent_retries"]
    return [
        f"acknowledged writes: {a['checked']} checked, {a['missing']} missing",
        f"indeterminate outcomes: {i['total']}: once {i['once']}, not at all {i['not_at_all']}, "
        f"more than once {i['more_than_once']}, unknown {i['unknown']}",
        f"idempotent retries: {r['keys']} keys, {r['duplicate_effects']} with duplicate effects",
    ]


def _health_cell(h: dict[str, Any] | None) -> str:
    if h is None:
        return "no health.csv"
    parts = [
        f"{e} " + (" ".join(f"{k}x{n}" for k, n in v["statuses"].items()) or "no polls")
        for e, v in h["endpoints"].items()
    ]
    return "; ".join(parts) + f" ({h['violations']} wrong)"


def _faults_md(x: dict[str, Any]) -> list[str]:
    out = ["", "## Faults", "", chaos_note(x), ""]
    if x["missing"]:
        out += [f"- **no data**: {x['missing']}"]
    rows = []
    for f in x["faults"]:
        req, rec = f["requests"] or {}, f["recovery"] or {}
        rows.append(
            [
                f["label"],
                str(f["target"] or "-"),
                f"{seconds(f['start_s'])} to {seconds(f['end_s'])}",
                f["outcome"] + (f": {f['detail']}" if f["detail"] else ""),
                f"{req.get('count', '-')} ({req.get('status_503', '-')} / {req.get('no_response', '-')})",
                num(req.get("max_latency_ms"), "ms"),
                _health_cell(f["health"]) if f["fail_fast"] else "not judged",
                seconds(rec.get("first_order_s"), "+"),
                seconds(rec.get("p95_s"), "+"),
            ]
        )
    out += _md_table(
        ["fault", "target", "window from run start", "outcome", "in flight (503 / no answer)", "max latency",
         "health during", "first order", "P95 back"],
        rows,
    )  # fmt: skip
    out += ["", "Reconciliation (whole run):", "", *(f"- {line}" for line in reconcile_lines(x["reconcile"]))]
    return out


def markdown(j: Judgement, summary: dict[str, Any]) -> str:
    """summary.md: verdict, reasons, checks, endpoints."""
    run = summary["run"]
    out = [f"# loadgate: {run.get('scenario') or run.get('id')}: {j.verdict}", ""]
    out.append(
        f"Exit status **{j.exit_code}**; run `{run.get('id')}`, kind `{run.get('kind')}`, "
        f"status `{run.get('status')}`" + (f"; target `{run['target']}`." if run.get("target") else ".")
    )
    if j.reasons:
        out += ["", *(f"- {r}" for r in j.reasons)]
    out += ["", "## Checks", ""]
    out += _md_table(
        ["check", "severity", "measured [95% CI]", "limit", "n", "status", "could catch", "evidence", "seed"],
        [
            [r[0], c.severity, r[1], r[2], r[3], r[4], r[5], c.source or METRICS[c.metric].evidence, c.seed]
            for r, c in zip(_rows(j), sort_checks(j.checks), strict=True)
        ],
    )
    if any(c.detection for c in j.checks):
        out += ["", detection_sentence()]
    if summary.get("chaos"):
        out += _faults_md(summary["chaos"])
    if summary["endpoints"]:
        out += ["", f"## Endpoints ({summary['scope']})", ""]
        out += _md_table(
            ["request", "count", "req/s", "P50", "P95", "P99", "max", "P95 service", "errors"],
            [
                [
                    e["name"],
                    str(e["count"]),
                    f"{e['throughput_rps']:.2f}",
                    num(e["user"]["p50"], "ms"),
                    num(e["user"]["p95"], "ms"),
                    num(e["user"]["p99"], "ms"),
                    num(e["user"]["max"], "ms"),
                    num(e["service"]["p95"], "ms"),
                    f"{e['error_rate'] * 100:.2f}%",
                ]
                for e in summary["endpoints"]
            ],
        )
    if j.notes:
        out += ["", "## Notes", "", *(f"- {n}" for n in j.notes)]
    return "\n".join(out) + "\n"
