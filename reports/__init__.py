"""Report generator and release gate: judge a run folder's evidence against thresholds.

Public entry points (the harness calls only these):
- `generate(run_dir, ...)`: write report.html, summary.json, junit.xml, summary.md; print the verdict;
  return 0 (pass), 1 (a critical threshold breached) or 2 (could not judge).
- `compare(baseline, candidate, ...)`: per request name, did NEW regress? 0 no, 1 yes, 2 cannot, 3 unsure.
- `validate_thresholds(entries, source)`: check a scenario's `[[thresholds]]` before a run starts.

Reports read only files: they never import harness, locustfiles or reference_service, and never
touch a network or a database.
"""

from __future__ import annotations

from reports.api import compare, generate
from reports.errors import InvalidEvidence, InvalidThresholds, ReportError
from reports.thresholds import validate_thresholds

__all__ = [
    "InvalidEvidence",
    "InvalidThresholds",
    "ReportError",
    "compare",
    "generate",
    "validate_thresholds",
]
