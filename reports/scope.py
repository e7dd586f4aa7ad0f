"""Which samples a threshold looks at: request names/flows/tags, and phases in time.

Phases are windows of time. Run phases come from run.json (and, for requests, from the `phase`
column Locust wrote, which wins because it is exact per request). Fault phases are derived from
faults.jsonl: `during_fault` is [start, end] of each fault (a fault with no end, in a killed run,
lasts to the end of the evidence), `before_fault` is everything before the first fault, and
`after_fault` everything after the last one (the recovery). `fault_aftermath` is the
AFTERMATH_S seconds after each fault's end: the requests queued behind a frozen or restarted
database all arrive at once then, so lock waits and latency spike for a moment by design; the
default scope leaves that moment, like the fault itself, to the chaos checks (first success and
P95 back under its limit after each fault) rather than to the steady-state thresholds.
`:<kind>` restricts to one fault kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

import numpy as np
import numpy.typing as npt
import pandas as pd

from reports.evidence import Evidence, Window, to_epoch

# Phase selectors relative to faults (a threshold's `phase`, reports/thresholds.py).
FAULT_PHASES = ("before_fault", "during_fault", "after_fault", "fault_aftermath")
_FAULT_SELECTORS = FAULT_PHASES

BoolArray = npt.NDArray[np.bool_]
AFTERMATH_S = 5.0


def fault_windows(ev: Evidence, kind: str | None = None) -> list[Window]:
    """Each fault's [start, end] window (end = +inf while a fault was never reverted)."""
    out = []
    for f in ev.faults or []:
        if kind is not None and f.get("kind") != kind:
            continue
        start = to_epoch(f.get("start"))
        if start is None:
            continue
        end = to_epoch(f.get("end"))
        out.append(Window(str(f.get("kind", "fault")), start, end if end is not None else math.inf))
    return out


def windows_for(ev: Evidence, selector: str) -> list[Window]:
    """Time windows a phase selector names (empty if the run has no such phase)."""
    base, _, kind = selector.partition(":")
    if base in _FAULT_SELECTORS:
        faults = fault_windows(ev, kind or None)
        if not faults:
            return []
        if base == "during_fault":
            return faults
        if base == "fault_aftermath":
            return [Window(selector, w.end, w.end + AFTERMATH_S) for w in faults if math.isfinite(w.end)]
        if base == "before_fault":
            return [Window(selector, -math.inf, min(w.start for w in faults))]
        return [Window(selector, max(w.end for w in faults), math.inf)]
    return [w for w in ev.phases if w.name == selector]


def _in_windows(t: npt.NDArray[np.float64], windows: Iterable[Window]) -> BoolArray:
    mask = np.zeros(len(t), dtype=bool)
    for w in windows:
        mask |= (t >= w.start) & (t < w.end)  # half-open: a boundary sample belongs to the next phase
    return mask


def time_mask(
    ev: Evidence,
    t: npt.NDArray[np.float64],
    phase: str | None,
    exclude: tuple[str, ...],
    phase_column: pd.Series | None = None,
) -> BoolArray:
    """Samples at times `t` inside the selected phase (or outside the excluded ones when `phase` is None)."""
    if phase == "*":
        return np.ones(len(t), dtype=bool)
    if phase is not None:
        return _select(ev, t, phase, phase_column)
    keep = np.ones(len(t), dtype=bool)
    for name in exclude:
        keep &= ~_select(ev, t, name, phase_column)
    return keep


def _select(ev: Evidence, t: npt.NDArray[np.float64], name: str, phase_column: pd.Series | None) -> BoolArray:
    if phase_column is not None and name.partition(":")[0] not in _FAULT_SELECTORS:
        cats = phase_column.cat.categories if isinstance(phase_column.dtype, pd.CategoricalDtype) else None
        if cats is None or name in cats:
            return np.array(phase_column == name, dtype=bool)  # a writable copy: callers narrow it in place
    return _in_windows(t, windows_for(ev, name))


def profile_aliases(ev: Evidence) -> Mapping[str, str]:
    """A target profile's request name -> the same step's API.md name (plan.json `profile.aliases`,
    docs/profiles.md): thresholds and measures written with API.md's names judge any profile's run."""
    profile = ev.plan.get("profile") if ev.plan else None
    return profile["aliases"] if profile else {}


def matching_names(
    names: Iterable[str], patterns: Iterable[str], aliases: Mapping[str, str] | None = None
) -> list[str]:
    """Request names matching any glob pattern (exact names match themselves), directly or, under a
    target profile, through their API.md alias."""
    pats = list(patterns)

    def hit(name: str) -> bool:
        return any(name == p or fnmatchcase(name, p) for p in pats)

    return [n for n in names if hit(n) or (aliases is not None and n in aliases and hit(aliases[n]))]


def names_of(ev: Evidence, api_md_name: str) -> set[str]:
    """The request names a run gave API.md's `api_md_name` (itself, and its profile alias)."""
    return {api_md_name} | {n for n, a in profile_aliases(ev).items() if a == api_md_name}


def request_mask(
    ev: Evidence,
    *,
    patterns: tuple[str, ...] = (),
    flow: str | None = None,
    phase: str | None = None,
    exclude: tuple[str, ...] = (),
) -> BoolArray:
    """Rows of requests.csv in scope: names matching `patterns` (all if empty), `flow`, and phase."""
    df = ev.requests
    if df is None:
        return np.zeros(0, dtype=bool)
    mask = time_mask(ev, df["t"].to_numpy(), phase, exclude, df["phase"])
    if patterns:
        names = matching_names(df["name"].cat.categories, patterns, profile_aliases(ev))
        mask &= np.asarray(df["name"].isin(names), dtype=bool)
    if flow is not None:
        mask &= np.asarray(df["flow"] == flow, dtype=bool)
    return mask
