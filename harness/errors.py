"""One exception root for the harness: `Invalid*` for bad input, `*Failed` for runtime failure.

A failed check is never an exception (it is a verdict); these are for the harness itself.
"""

from __future__ import annotations


class HarnessError(Exception):
    """The harness could not do what was asked (exit status 2)."""


class InvalidInput(HarnessError):
    """Bad input from the user: a scenario, a flag, a threshold file."""


class RunFailed(HarnessError):
    """Something the run started failed in a way that stops the run."""
