"""The raw sample row (docs/contracts.md `requests.csv`) and the plan as the Locust side reads it."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

# Pure logic only here: gevent's monkey-patching would change sockets and threads for every
# other test in this pytest process (and warns, which the suite turns into an error). The switch
# is taken back at once: left in os.environ, every Locust process a later test starts would
# inherit it, run unpatched, and its workers would never reach their master.
_SET_HERE = "LOCUST_SKIP_MONKEY_PATCH" not in os.environ
os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")

from harness.scenario import load_scenario  # noqa: E402
from locustfiles.common.client import Call  # noqa: E402
from locustfiles.common.plan import parse_plan  # noqa: E402
from locustfiles.common.races import stagger_offset_s, winners  # noqa: E402
from locustfiles.common.samples import COLUMNS, SampleWriter, classify_exception, make_row  # noqa: E402

if _SET_HERE:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]


def row(**kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "name": "POST /api/orders",
        "request_type": "POST",
        "response_time": 12.3456,
        "response_length": 321,
        "response": SimpleNamespace(status_code=201, content=b'{"id": "o1"}'),
        "exception": None,
        "start_time": 1700000000.123456789,
        "context": {"flow": "orders_created", "ts_intended": 1700000000.1, "created_id": "o1"},
        "phase": "steady",
        "worker": 2,
    }
    args.update(kw)
    return dict(zip(COLUMNS, make_row(**args), strict=True))  # type: ignore[arg-type]


def test_columns_are_the_contract() -> None:
    assert COLUMNS == (
        "ts",
        "ts_intended",
        "name",
        "status",
        "latency_ms",
        "bytes",
        "error_code",
        "phase",
        "worker",
        "flow",
        "created_id",
        "idempotency_key",
    )


def test_success_row() -> None:
    r = row()
    assert r["ts"] == pytest.approx(1700000000.123457)
    assert r["ts_intended"] == 1700000000.1
    assert (r["name"], r["status"], r["latency_ms"], r["bytes"]) == ("POST /api/orders", 201, 12.346, 321)
    assert (r["error_code"], r["phase"], r["worker"], r["flow"], r["created_id"]) == (
        "",
        "steady",
        2,
        "orders_created",
        "o1",
    )
    assert r["idempotency_key"] == ""


def test_error_code_from_body_and_from_missing_response() -> None:
    conflict = SimpleNamespace(status_code=409, content=b'{"code": "ASSIGNMENT_TAKEN"}')
    assert row(response=conflict, context={})["error_code"] == "ASSIGNMENT_TAKEN"
    assert row(response=None, exception=ConnectionRefusedError("refused"), context={})["status"] == 0
    assert (
        row(response=None, exception=ConnectionRefusedError("refused"), context={})["error_code"]
        == "CONNECTION_ERROR"
    )
    assert classify_exception(TimeoutError("timed out")) == "TIMEOUT"
    assert row(context={"error_code": "DROPPED"})["error_code"] == "DROPPED"
    assert row(context={})["ts_intended"] == ""


def test_names_get_their_method() -> None:
    assert row(name="/api/orders/{id}", request_type="GET")["name"] == "GET /api/orders/{id}"


def test_writer_appends_with_one_header(tmp_path: Path) -> None:
    writer = SampleWriter(tmp_path, lambda ts: "p")
    writer._open()
    writer.write([["1", "", "GET /x", 200, 1.0, 2, "", "p", 0, "f", "", ""]])
    writer.close()
    writer._open()
    writer.write([["2", "", "GET /x", 500, 1.0, 2, "INTERNAL", "p", 1, "f", "", ""]])
    writer.close()
    with (tmp_path / "requests.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(COLUMNS)
    assert [r[0] for r in rows[1:]] == ["1", "2"]


def test_first_request_of_a_flow_carries_the_intended_time() -> None:
    call = Call("payments_captured", 100.0)
    pre = call.sub("payments_captured:prereq")
    first = pre.context()
    assert (first["flow"], first["ts_intended"]) == ("payments_captured:prereq", 100.0)
    assert "ts_intended" not in call.context()


def test_plan_round_trip_and_phase_lookup() -> None:
    doc = json.loads(json.dumps(load_scenario("peak_200").resolve(None).to_json()))
    plan = parse_plan(doc)
    assert [p.name for p in plan.phases] == ["warmup", "burst", "cooldown"]
    assert plan.phase_at(0.0) == "warmup"
    assert plan.phase_at(plan.phases[1].start_s + 0.01) == "burst"
    assert plan.phase_at(plan.duration_s + 1) == "after"
    race = parse_plan(load_scenario("wallet_race").resolve(None).to_json()).race
    assert race is not None and race.params["affordable"] == 30


def test_a_staggered_race_lets_every_participant_lead_in_some_trial() -> None:
    race = parse_plan(load_scenario("cancel_capture_race").resolve(None).to_json()).race
    assert race is not None and race.participants == 4
    offsets = [[stagger_offset_s(race, trial, i) for i in range(4)] for trial in range(4)]
    assert offsets[0] == pytest.approx([0.0, 0.05, 0.10, 0.15])
    assert {row.index(0.0) for row in offsets} == {0, 1, 2, 3}
    # a capture (odd index) leads, 50 ms before the first cancel, in every other trial
    assert [min(range(4), key=row.__getitem__) % 2 for row in offsets] == [0, 1, 0, 1]
    released_together = parse_plan(load_scenario("acceptance_race").resolve(None).to_json()).race
    assert released_together is not None and stagger_offset_s(released_together, 3, 2) == 0.0


def test_race_winners() -> None:
    parts: list[dict[str, object]] = [
        {"status": 200, "created_id": "a"},
        {"status": 201, "created_id": "a"},
        {"status": 409},
    ]
    assert winners("assignment_accept", parts) == 2
    assert winners("idempotent_create", parts) == 1


def test_rows_reach_the_file_within_the_flush_interval_without_a_close(tmp_path: Path) -> None:
    import gevent

    from locustfiles.common.samples import FLUSH_EVERY_S

    writer = SampleWriter(tmp_path, lambda ts: "p")
    writer._open()
    path = tmp_path / "requests.csv"
    header = path.read_text()
    for i in range(3):
        writer.write([[str(i), "", "GET /x", 200, 1.0, 2, "", "p", 0, "f", "", ""]])
    gevent.sleep(FLUSH_EVERY_S * 3)
    assert path.read_text().count("\n") == header.count("\n") + 3  # flushed by the timer, not by close
    writer.close()
