"""One exception root for the report generator.

A failed check is never an exception: it is a `Check` with status `fail`. Exceptions are for the
cases where the report cannot judge at all (exit status 2): bad thresholds (`InvalidThresholds`),
unreadable or missing evidence (`InvalidEvidence`).
"""

from __future__ import annotations


class ReportError(Exception):
    """The report could not judge the run (exit status 2)."""


class InvalidThresholds(ReportError):
    """A threshold file or a scenario's `[[thresholds]]` is wrong: names the source, line and reason."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


class InvalidEvidence(ReportError):
    """The run folder lacks needed evidence (run.json, a load run's requests.csv) or is unreadable."""
