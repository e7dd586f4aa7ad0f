"""k6's generated script and summary reading (bench/k6_runner.py); the owned server's settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.k6_runner import K6Step, scenario_starts, step_summary, steps_back_to_back, write_script
from harness.db.base import server_args


def test_steps_follow_each_other_and_the_script_names_them(tmp_path: Path) -> None:
    steps = steps_back_to_back([1000, 2500], 4.0)
    assert steps == [K6Step("rate_1000", 1000, 0.0, 4.0), K6Step("rate_2500", 2500, 4.0, 4.0)]
    script = tmp_path / "s.js"
    write_script(script, "http://127.0.0.1:1/x", steps, tmp_path / "sum.json", pre_vus=7, max_vus=9)
    text = script.read_text()
    assert "__" not in text.replace("__ENV", "")  # every placeholder filled
    assert '"http://127.0.0.1:1/x"' in text and "preAllocatedVUs: 7" in text and "maxVUs: 9" in text
    assert "constant-arrival-rate" in text


def test_step_summary_reads_each_scenario_and_a_missing_one_as_nothing_sent(tmp_path: Path) -> None:
    steps = steps_back_to_back([1000, 2000], 2.0)
    metrics = {
        "send_lag{scenario:rate_1000}": {"values": {"med": 0, "p(99)": 3.5, "max": 9}},
        "http_reqs{scenario:rate_1000}": {"values": {"count": 2001}},
        "dropped_iterations{scenario:rate_1000}": {"values": {"count": 0}},
        "http_req_failed{scenario:rate_1000}": {"values": {"passes": 2, "rate": 0.001}},
    }
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"metrics": metrics}))
    first, second = step_summary(summary, steps)
    assert first == {
        "target_rps": 1000,
        "sent_rps": 1000.5,
        "dropped": 0,
        "non_2xx": 2,
        "lag_p50_ms": 0,
        "lag_p99_ms": 3.5,
        "lag_max_ms": 9,
    }
    assert second["sent_rps"] == 0 and second["lag_p99_ms"] is None


def test_scenario_starts_come_from_the_scripts_log_lines(tmp_path: Path) -> None:
    log = tmp_path / "k6.log"
    log.write_text('noise\n{"scenario":"steady","start_ms":1700000000123}\nmore\n')
    assert scenario_starts(log) == {"steady": pytest.approx(1700000000.123)}


def test_server_args_raise_the_predicate_lock_limits_and_the_environment_overrides() -> None:
    args = server_args({})
    pairs = dict(a.split("=", 1) for a in args[1::2])
    assert args[::2] == ["-c"] * len(pairs)
    assert pairs["max_pred_locks_per_relation"] == "2048" and pairs["max_connections"] == "200"
    before = dict(
        a.split("=", 1)
        for a in server_args({"LOADGATE_PG_SETTINGS": "max_pred_locks_per_relation=-2,work_mem=8MB"})[1::2]
    )
    assert before["max_pred_locks_per_relation"] == "-2" and before["work_mem"] == "8MB"
    with pytest.raises(ValueError, match="LOADGATE_PG_SETTINGS: 'oops' is not name=value"):
        server_args({"LOADGATE_PG_SETTINGS": "oops"})
