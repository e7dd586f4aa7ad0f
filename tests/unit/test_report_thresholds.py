"""Threshold files: a typo is an error naming the file, the line and the reason; overrides merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports import InvalidThresholds, validate_thresholds
from reports.thresholds import DEFAULT_PATH, load_thresholds, parse_expression

GOOD = """\
[defaults]
min_samples = 5

[tags]
core = ["POST /api/orders"]

[[thresholds]]
name = "core_p95"
metric = "http_req_duration"
expr = "p(95) < 500"
tag = "core"
seed = "000"
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "t.toml"
    p.write_text(text)
    return p


def test_default_file_is_valid_and_every_threshold_names_its_seed() -> None:
    ts = load_thresholds(DEFAULT_PATH)
    assert ts.thresholds
    assert all(t.seed for t in ts.thresholds)
    assert {t.severity for t in ts.thresholds} == {"critical", "warning"}


@pytest.mark.parametrize(
    ("text", "agg", "q", "op", "limit"),
    [
        ("p(95) < 500", "p", 95.0, "<", 500.0),
        ("p(99.9)<=1000", "p", 99.9, "<=", 1000.0),
        ("rate < 0.01", "rate", None, "<", 0.01),
        ("count == 0", "count", None, "==", 0.0),
        ("max < 200", "max", None, "<", 200.0),
        ("avg < 100", "avg", None, "<", 100.0),
        ("value < 80", "value", None, "<", 80.0),
    ],
)
def test_expressions(text: str, agg: str, q: float | None, op: str, limit: float) -> None:
    e = parse_expression(text)
    assert (e.agg, e.q, e.op, e.limit) == (agg, q, op, limit)


@pytest.mark.parametrize(
    ("replace", "by", "line", "reason"),
    [
        (
            'metric = "http_req_duration"',
            'metric = "http_req_duraton"',
            9,
            "unknown metric 'http_req_duraton'",
        ),
        ('expr = "p(95) < 500"', 'expr = "p95 < 500"', 10, "bad expression"),
        ('expr = "p(95) < 500"', 'expr = "rate < 0.1"', 10, "'rate' does not apply"),
        ('expr = "p(95) < 500"', 'expr = "p(101) < 5"', 10, "percentile must be in (0, 100]"),
        ('seed = "000"', 'seed = "000"\nseverty = "critical"', 13, "unknown key 'severty'"),
        ('tag = "core"', 'tag = "cor"', 11, "unknown tag 'cor'"),
        ('seed = "000"', 'seed = "000"\nseverity = "fatal"', 13, "severity must be one of"),
        ('seed = "000"', 'seed = "000"\nkinds = ["lod"]', 13, "unknown kinds"),
        ('seed = "000"', 'seed = "000"\nphase = "during fault"', 13, "bad phase"),
        ('expr = "p(95) < 500"', 'expr = "p(95) < 500', 10, "not valid TOML"),
    ],
)
def test_bad_file_names_line_and_reason(
    tmp_path: Path, replace: str, by: str, line: int, reason: str
) -> None:
    path = _write(tmp_path, GOOD.replace(replace, by))
    with pytest.raises(InvalidThresholds) as info:
        load_thresholds(path)
    assert info.value.line == line, str(info.value)
    assert reason in info.value.reason
    assert str(path) in str(info.value) and f":{line}:" in str(info.value)


def test_missing_expr_and_duplicate_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidThresholds, match="missing or empty 'expr'"):
        load_thresholds(_write(tmp_path, GOOD.replace('expr = "p(95) < 500"\n', "")))
    with pytest.raises(InvalidThresholds, match="duplicate threshold name") as info:
        load_thresholds(_write(tmp_path, GOOD + GOOD.split("\n\n", 2)[2]))
    assert info.value.line == 14


def test_scenario_override_and_addition() -> None:
    ts = load_thresholds(None, [
        {"name": "core_p95", "expr": "p(95) < 300"},
        {"name": "orders_p99", "metric": "http_req_duration", "expr": "p(99) < 800",
         "request": "POST /api/orders", "phase": "steady", "severity": "warning"},
        {"name": "pool_utilization_max", "enabled": False},
    ])  # fmt: skip
    by = {t.name: t for t in ts.thresholds}
    assert by["core_p95"].expr.limit == 300 and by["core_p95"].tag == "core"
    assert by["orders_p99"].phase == "steady" and by["orders_p99"].requests == ("POST /api/orders",)
    assert "pool_utilization_max" not in by


def test_validate_thresholds_reports_line_in_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "peak.toml"
    scenario.write_text(
        'name = "peak"\n\n[[thresholds]]\nname = "x"\nmetric = "lock_wait"\nexpr = "rate < 1"\n'
    )
    entries = [{"name": "x", "metric": "lock_wait", "expr": "rate < 1"}]
    with pytest.raises(InvalidThresholds) as info:
        validate_thresholds(entries, str(scenario))
    assert info.value.line == 6 and "lock_wait is a trend" in info.value.reason
    validate_thresholds([{"name": "x", "metric": "lock_wait", "expr": "p(99) < 20"}], str(scenario))


def test_validate_thresholds_without_file_names_the_entry() -> None:
    with pytest.raises(InvalidThresholds, match=r"thresholds\[0\]: unknown metric"):
        validate_thresholds([{"name": "y", "metric": "nope", "expr": "count == 0"}], "scenario peak")
