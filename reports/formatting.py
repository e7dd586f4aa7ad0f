"""Numbers as people read them, shared by the terminal, Markdown, JUnit and HTML renderers."""

from __future__ import annotations

import math

from reports.judge import Check, Status

STATUS_ORDER = {Status.FAIL: 0, Status.NO_DATA: 1, Status.INSUFFICIENT: 2, Status.PASS: 3}
STATUS_LABEL = {
    Status.PASS: "pass",
    Status.FAIL: "FAIL",
    Status.INSUFFICIENT: "insufficient data",
    Status.NO_DATA: "no data",
}


def num(value: float | None, unit: str = "") -> str:
    """`412 ms`, `0.42%`-style compact number; `-` for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf"
    if unit == "%":
        return f"{value:.1f}%"
    if abs(value) >= 100 or value == int(value):
        text = f"{value:.0f}"
    elif abs(value) >= 1:
        text = f"{value:.1f}"
    else:
        text = f"{value:.4g}"
    return f"{text} {unit}".strip() if unit and unit != "%" else text


def seconds(value: float | None, sign: str = "") -> str:
    """`+0.6 s`-style duration; `never` for inf (it did not happen), `-` for unknown."""
    if value is None or math.isnan(value):
        return "-"
    return "never" if math.isinf(value) else f"{sign}{value:.1f} s"


def measured(c: Check) -> str:
    """Measured value; rates also as a percentage."""
    if c.measured is None:
        return "-"
    if c.expression.strip().startswith("rate"):
        return f"{c.measured:.4g} ({c.measured * 100:.2f}%)"
    return num(c.measured, c.unit)


def ci(c: Check) -> str:
    """`[lo, hi]` with `-inf`/`inf` where the data cannot bound the value; empty without a CI."""
    if c.ci is None:
        return ""
    lo = num(c.ci[0]) if c.ci[0] is not None else "-inf"
    hi = num(c.ci[1]) if c.ci[1] is not None else "inf"
    return f"[{lo}, {hi}]"


def sort_checks(checks: list[Check]) -> list[Check]:
    """Critical before warning, failures first."""
    return sorted(checks, key=lambda c: (c.severity != "critical", STATUS_ORDER[c.status], c.name))
