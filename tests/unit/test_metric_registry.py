"""Every metric of the registry (reports/catalog.METRICS) measures what its k6 type aggregates.

The judge aggregates a measurement by the fields it fills: samples for a trend or gauge, a
numerator over a denominator for a rate, a count for a counter. A measure that filled the fields
of another type would be judged as that type without an error, so each entry's measure is run
on healthy synthetic evidence of every kind and its measurements are checked against its type.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reports.catalog import AGGREGATIONS, METRICS
from reports.evidence import load_evidence
from reports.measurement import Measurement
from reports.synthetic import SyntheticRun, healthy_chaos, healthy_load, healthy_race
from reports.thresholds import load_thresholds


def fits(kind: str, m: Measurement) -> bool:
    """Whether a measurement fills exactly the fields its metric type is aggregated from."""
    if kind in ("trend", "gauge"):
        return m.values is not None and m.numerator == m.denominator == 0
    if kind == "rate":
        return m.values is None and m.count == 0 and m.numerator <= m.denominator
    return m.values is None and m.numerator == m.denominator == 0  # counter


def test_every_metric_has_a_known_type_and_a_measure() -> None:
    assert {m.type for m in METRICS.values()} <= set(AGGREGATIONS)
    assert all(callable(m.measure) and name == m.name for name, m in METRICS.items())


def load_without_pg_log() -> SyntheticRun:
    """The fallbacks: the service's log and pg_stat_database instead of PostgreSQL's log."""
    run = healthy_load()
    run.pg_log = None
    return run


@pytest.mark.parametrize("build", [healthy_load, load_without_pg_log, healthy_race, healthy_chaos])
def test_each_measure_fills_the_fields_of_its_metric_type(
    build: Callable[[], SyntheticRun], tmp_path: Path
) -> None:
    ev = load_evidence(build().write(tmp_path / "run"))
    ts = load_thresholds()
    judged = [th for th in ts.thresholds if th.applies_to(ev.kind)]
    assert judged
    wrong = {
        th.name: METRICS[th.metric].type
        for th in judged
        for m in METRICS[th.metric].measure(ev, th, ts)
        if m.missing is None and not fits(METRICS[th.metric].type, m)
    }
    assert wrong == {}


def test_a_measurement_of_the_wrong_type_is_caught() -> None:
    assert not fits("rate", Measurement(count=3))
    assert not fits("counter", Measurement(numerator=1, denominator=2))
    assert not fits("trend", Measurement(count=1))
