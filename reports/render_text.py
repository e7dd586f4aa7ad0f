"""The terminal verdict table and `summary.md` (Markdown for CI job summaries and PR comments)."""

from __future__ import annotations

from typing import Any

from reports.formatting import STATUS_LABEL, ci, measured, num, sort_checks
from reports.judge import Judgement


def _rows(j: Judgement) -> list[list[str]]:
    rows = []
    for c in sort_checks(j.checks):
        limit = c.expression + (f" {c.unit}" if c.unit and c.unit != "%" else "")
        status = STATUS_LABEL[c.status] + (
            " (warning)" if c.severity == "warning" and c.status == "fail" else ""
        )
        rows.append([c.name, (measured(c) + " " + ci(c)).strip(), limit, str(c.n), status])
    return rows


def terminal_table(j: Judgement, title: str | None = None) -> str:
    """A short fixed-width table: check, measured [CI], limit, n, status; then the verdict and why."""
    header = ["check", "measured [95% CI]", "limit", "n", "status"]
    rows = _rows(j)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"loadgate report: {title or j.run.get('id') or j.run_dir}"]
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


def markdown(j: Judgement, summary: dict[str, Any]) -> str:
    """summary.md: verdict, reasons, checks, endpoints."""
    run = summary["run"]
    out = [f"# loadgate: {run.get('scenario') or run.get('id')}: {j.verdict}", ""]
    out.append(
        f"Exit status **{j.exit_code}**; run `{run.get('id')}`, kind `{run.get('kind')}`, "
        f"status `{run.get('status')}`."
    )
    if j.reasons:
        out += ["", *(f"- {r}" for r in j.reasons)]
    out += ["", "## Checks", ""]
    out += _md_table(
        ["check", "severity", "measured [95% CI]", "limit", "n", "status", "seed"],
        [
            [r[0], c.severity, r[1], r[2], r[3], r[4], c.seed]
            for r, c in zip(_rows(j), sort_checks(j.checks), strict=True)
        ],
    )
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
