"""junit.xml: one testsuite per run, one testcase per check, so CI shows each threshold.

Mapping: `fail` of a critical check -> <failure>; `no_data` of a critical, required check -> <error>
(the gate could not judge); `insufficient_data` and other `no_data` -> <skipped>; a breached
*warning* stays a passing testcase with the breach in <system-out>, since warnings do not fail the gate.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reports.formatting import ci, measured
from reports.judge import Judgement, Status


def _suite(j: Judgement, name: str) -> ET.Element:
    suite = ET.Element("testsuite", name=name)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for c in j.checks:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=f"loadgate.{name}", name=f"{c.name} ({c.severity})")
        text = f"{c.metric} {c.expression}: measured {measured(c)} {ci(c)} on n={c.n}; {c.detail}".strip()
        if c.source:
            text += f" [evidence: {c.source}]"
        if c.status == Status.FAIL and c.severity == "critical":
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=text, type="threshold").text = f"seed: {c.seed}"
        elif c.status == Status.NO_DATA and c.severity == "critical" and c.required:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=text, type="no_data")
        elif c.status in (Status.INSUFFICIENT, Status.NO_DATA):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"{c.status}: {text}")
        elif c.status == Status.FAIL:
            ET.SubElement(case, "system-out").text = f"WARNING breached: {text}"
    if not j.checks or j.exit_code == 2:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=f"loadgate.{name}", name="gate")
        if j.exit_code == 2:
            counts["errors"] += 1
            ET.SubElement(case, "error", message="; ".join(j.reasons) or "cannot judge", type="gate")
    for k, v in counts.items():
        suite.set(k, str(v))
    return suite


def junit(items: list[tuple[str, Judgement]]) -> str:
    """A <testsuites> document for one run or for every child of a suite."""
    root = ET.Element("testsuites", name="loadgate")
    for name, j in items:
        root.append(_suite(j, name))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
