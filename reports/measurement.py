"""What every measure shares: the `Measurement` it returns, the evidence constants, and scope helpers.

A measure (reports/measures.py and its families measures_db, measures_probes, measures_chaos)
turns a run's evidence into the samples one threshold judges; the helpers here cut that evidence
down to the threshold's scope (request names, flow, phase) the same way for every family.

Decision written down here because it changes verdicts:
- A request *failed* when it got no response (status 0), a 5xx, or 401/403/404/405/422 (a client or
  harness fault that must not pass silently). 400 business errors (INSUFFICIENT_FUNDS,
  INVALID_STATUS_TRANSITION), 409 conflicts and 429 are expected outcomes of a money-moving API.
  Except a 401 with error_code AUTH_RENEWED: its token had expired, the user logged in again and
  the request was sent once more; that resent request (its own row) is the outcome and is judged,
  the 401 row stays as what happened. A failed re-login is its own failed row (POST /api/auth/login).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from reports.evidence import Evidence
from reports.scope import request_mask, time_mask

if TYPE_CHECKING:  # catalog (read by thresholds) imports the measures
    from reports.thresholds import Threshold, ThresholdSet

FloatArray = npt.NDArray[np.float64]
FAILED_CLIENT_STATUSES = (401, 403, 404, 405, 422)
LOCK_TIMEOUT_CODES = ("LOCK_TIMEOUT", "LOCK_NOT_AVAILABLE", "STATEMENT_TIMEOUT", "QUERY_CANCELED")
SLOW_QUERY_EVENTS = ("slow_query_detected", "slow_query")
STATUS_CHANGE_REQUESTS = ("PATCH /api/orders/{id}", "PATCH /api/orders/*")
HEALTH_REQUESTS = ("GET /health/*",)
WRITE_METHODS = ("POST ", "PUT ", "PATCH ", "DELETE ")
AUTH_RENEWED = "AUTH_RENEWED"  # locustfiles/common/client.py: a 401 cured by logging in again


@dataclass
class Measurement:
    """Samples for one check: `values` (trend/gauge), `numerator`/`denominator` (rate), `count` (counter)."""

    label: str | None = None
    values: FloatArray | None = None
    numerator: int = 0
    denominator: int = 0
    count: float = 0.0
    population: int = 0
    missing: str | None = None
    optional: bool = False  # a `missing` that never blocks the gate (a probe the team switched off)
    detail: str = ""
    examples: Sequence[Mapping[str, object]] = ()  # evidence rows that show the finding
    source: str = ""  # the evidence the value came from, when a metric has alternatives


Measure: TypeAlias = "Callable[[Evidence, Threshold, ThresholdSet], list[Measurement]]"


def failed_mask(status: npt.NDArray[np.int32], codes: Any = None) -> npt.NDArray[np.bool_]:
    """Which statuses count as failed requests (the decision above); `codes`: the error_code column."""
    failed = (status == 0) | (status >= 500) | np.isin(status, FAILED_CLIENT_STATUSES)
    if codes is not None:
        # A 401 that made its user log in again and resend: the resent request is the outcome.
        failed &= ~((status == 401) & (np.asarray(codes, dtype=object) == AUTH_RENEWED))
    return np.asarray(failed, dtype=bool)


def _patterns(th: Threshold, ts: ThresholdSet) -> tuple[str, ...]:
    """The request-name globs of a threshold: its `requests` plus those of its `tag`."""
    return th.requests + (ts.tags[th.tag] if th.tag else ())


def request_splits(
    ev: Evidence, th: Threshold, ts: ThresholdSet
) -> list[tuple[str | None, npt.NDArray[np.bool_]]]:
    """Row masks per split: one per request name with `per = "name"`, else one for the whole scope."""
    assert ev.requests is not None
    mask = request_mask(
        ev, patterns=_patterns(th, ts), flow=th.flow, phase=th.phase, exclude=ts.exclude_phases
    )
    if th.per != "name":
        return [(None, mask)]
    codes = ev.requests["name"].cat.codes.to_numpy()
    present = np.unique(codes[mask])
    cats = ev.requests["name"].cat.categories
    return [(str(cats[c]), mask & (codes == c)) for c in present] or [(None, mask)]


def no_requests(ev: Evidence) -> list[Measurement] | None:
    """The `missing` measurement of a run without requests.csv, else None."""
    return [Measurement(missing="no requests.csv")] if ev.requests is None else None


def service_events(ev: Evidence, th: Threshold, ts: ThresholdSet, events: tuple[str, ...]) -> Any:
    """Service-log rows of the given events inside the threshold's phase scope (a DataFrame).

    An event that lasted (`duration`, ms) is placed where it began, as a request is placed by its
    send time: a lock wait that began inside a fault and ended just after it belongs to the fault.
    In the default scope (every phase but the excluded ones) an event must also have ended outside
    them: a query in flight when the database froze began before the fault but ran into it, and
    is the fault's, not the steady state's.
    """
    assert ev.service is not None
    df = ev.service[ev.service["event"].isin(events)]
    logged = df["ts"].to_numpy(dtype=np.float64, na_value=np.nan)
    began = logged
    if "duration" in df.columns:
        lasted = pd.to_numeric(df["duration"], errors="coerce").to_numpy(dtype=np.float64, na_value=0.0)
        began = logged - np.nan_to_num(lasted, nan=0.0) / 1000.0
    return df[_lasting_in_scope(ev, th, ts, began, logged)]


def _lasting_in_scope(
    ev: Evidence, th: Threshold, ts: ThresholdSet, began: FloatArray, ended: FloatArray
) -> npt.NDArray[np.bool_]:
    """Events placed where they began; in the default scope they must also end outside excluded phases."""
    keep = time_mask(ev, began, th.phase, ts.exclude_phases)
    if th.phase is None:
        keep &= time_mask(ev, ended, None, ts.exclude_phases)
    return keep


def pg_events_in_scope(ev: Evidence, th: Threshold, ts: ThresholdSet, events: pd.DataFrame) -> pd.DataFrame:
    """PostgreSQL events (reports/pg_evidence.py) inside the threshold's phase scope."""
    began = events["began"].to_numpy(dtype=np.float64)
    ended = events["ended"].to_numpy(dtype=np.float64)
    return events[_lasting_in_scope(ev, th, ts, began, ended)]


def scoped_requests(ev: Evidence, th: Threshold, ts: ThresholdSet, patterns: tuple[str, ...] = ()) -> Any:
    """Request rows matching `patterns` (all when empty) inside the threshold's phase scope."""
    assert ev.requests is not None
    return ev.requests[request_mask(ev, patterns=patterns, phase=th.phase, exclude=ts.exclude_phases)]


def writes_in_scope(ev: Evidence, th: Threshold, ts: ThresholdSet) -> int | None:
    """Writes (POST/PUT/PATCH/DELETE) inside the threshold's phase scope; None without requests.csv."""
    if ev.requests is None:
        return None
    rows = scoped_requests(ev, th, ts)
    return int(rows["name"].astype(str).str.startswith(WRITE_METHODS).sum())
