"""reconcile.json's classification, from request rows and what the database holds (no database)."""

from __future__ import annotations

import csv
from pathlib import Path

from harness.reconcile import (
    CAPTURE,
    ORDER,
    TOP_UP,
    Found,
    assemble,
    capture_payment_from_key,
    is_indeterminate,
    needs,
    outcome,
    read_rows,
)
from reports.evidence import REQUEST_COLUMNS as COLUMNS

PAYMENT = "11111111-2222-3333-4444-555555555555"


def row(name: str, status: int, **more: str) -> dict[str, str]:
    base = {c: "" for c in COLUMNS}
    return {**base, "ts": "1700000000.5", "name": name, "status": str(status), **more}


def test_outcome_by_number_of_effects() -> None:
    assert [outcome(n) for n in (None, 0, 1, 2, 5)] == [
        "unknown",
        "not_at_all",
        "once",
        "more_than_once",
        "more_than_once",
    ]


def test_what_counts_as_indeterminate() -> None:
    assert is_indeterminate(row(ORDER, 0, error_code="TIMEOUT"))
    assert is_indeterminate(row(ORDER, 0, error_code="CONNECTION_ERROR"))
    assert is_indeterminate(row(ORDER, 503, error_code="DATABASE_UNAVAILABLE"))
    assert is_indeterminate(row("PATCH /api/orders/{id}", 500))
    assert not is_indeterminate(row(ORDER, 0, error_code="DROPPED")), "never sent"
    assert not is_indeterminate(row(ORDER, 409, error_code="IDEMPOTENCY_KEY_IN_PROGRESS"))
    assert not is_indeterminate(row("GET /api/orders/{id}", 0, error_code="TIMEOUT")), (
        "a read changes nothing"
    )
    assert not is_indeterminate(row("POST /api/auth/login", 503))


def test_an_acknowledged_write_missing_from_the_database_is_lost() -> None:
    rows = [
        row(ORDER, 201, created_id="o1", idempotency_key="k1"),
        row(ORDER, 201, created_id="o2", idempotency_key="k2"),
        row("POST /api/payments", 201, created_id="p1"),
        row("POST /api/wallets/{id}/top-up", 201, created_id="abc"),
        row(ORDER, 400, error_code="INVALID_SELLER"),
        row("PATCH /api/orders/{id}", 200, created_id=""),
    ]
    assert needs(rows).ids == {"orders": {"o1", "o2"}, "payments": {"p1"}, "top_ups": {"abc"}}
    found = Found(existing={"orders": {"o1"}, "payments": {"p1"}, "top_ups": {"abc"}})
    ack = assemble(rows, found, ran_at=1.0)["acknowledged"]
    assert (ack["checked"], ack["missing"]) == (4, 1)
    assert ack["examples"] == [
        {"name": ORDER, "created_id": "o2", "ts": 1700000000.5, "idempotency_key": "k2"}
    ]


def test_indeterminate_writes_are_resolved_by_their_key() -> None:
    capture_key = f"capture:{PAYMENT}:n1"
    rows = [
        row(ORDER, 0, error_code="TIMEOUT", idempotency_key="once"),
        row(ORDER, 503, error_code="DATABASE_UNAVAILABLE", idempotency_key="never"),
        row(ORDER, 0, error_code="CONNECTION_ERROR", idempotency_key="twice"),
        row(ORDER, 0, error_code="TIMEOUT", idempotency_key="not-looked-up"),
        row(CAPTURE, 0, error_code="TIMEOUT", idempotency_key=capture_key),
        row("POST /api/payments", 503, error_code="DATABASE_UNAVAILABLE"),
    ]
    need = needs(rows)
    assert need.order_keys == {"once", "never", "twice", "not-looked-up"}
    assert need.capture_keys == {capture_key}
    found = Found(effects_by_key={"once": ["o1"], "never": [], "twice": ["o2", "o3"], capture_key: [PAYMENT]})
    result = assemble(rows, found, ran_at=1.0)["indeterminate"]
    assert {k: result[k] for k in ("total", "once", "not_at_all", "more_than_once", "unknown")} == {
        "total": 6,
        "once": 2,
        "not_at_all": 1,
        "more_than_once": 1,
        "unknown": 2,
    }
    by_key = {e["idempotency_key"]: e for e in result["examples"]}
    assert by_key["twice"]["outcome"] == "more_than_once" and by_key["twice"]["effects"] == 2
    assert by_key[None]["outcome"] == "unknown" and by_key[None]["effects"] is None
    assert by_key["never"]["error_code"] == "DATABASE_UNAVAILABLE"


def test_a_retried_key_with_two_effects_is_a_duplicate() -> None:
    rows = [
        row(ORDER, 0, error_code="TIMEOUT", idempotency_key="a"),
        row(ORDER, 201, created_id="o1", idempotency_key="a"),
        row(ORDER, 503, error_code="DATABASE_UNAVAILABLE", idempotency_key="b"),
        row(ORDER, 201, created_id="o2", idempotency_key="b"),
        row(ORDER, 201, created_id="o4", idempotency_key="single"),
    ]
    need = needs(rows)
    assert need.order_keys == {"a", "b"}, "a key sent once needs no count"
    found = Found(existing={"orders": {"o1", "o2", "o4"}}, effects_by_key={"a": ["o1"], "b": ["o2", "o3"]})
    retries = assemble(rows, found, ran_at=1.0)["idempotent_retries"]
    assert (retries["keys"], retries["duplicate_effects"]) == (2, 1)
    assert retries["examples"] == [{"idempotency_key": "b", "name": ORDER, "effects": 2, "ids": ["o2", "o3"]}]


def test_capture_keys_name_their_payment() -> None:
    assert capture_payment_from_key(f"capture:{PAYMENT.upper()}:x") == PAYMENT
    assert capture_payment_from_key("3f2c0c8e-uuid-only") is None


def test_examples_are_capped_at_twenty() -> None:
    rows = [row(ORDER, 201, created_id=f"o{i}") for i in range(30)]
    ack = assemble(rows, Found(existing={"orders": set()}), ran_at=1.0)["acknowledged"]
    assert (ack["checked"], ack["missing"], len(ack["examples"])) == (30, 30, 20)


def test_a_kind_the_look_up_could_not_read_back_is_reported_not_lost() -> None:
    rows = [row(ORDER, 201, created_id="o1"), row(TOP_UP, 201, created_id="t1")]
    ack = assemble(rows, Found(existing={"orders": {"o1"}}), ran_at=1.0)["acknowledged"]
    assert (ack["checked"], ack["missing"], ack["not_checked"]) == (1, 0, {"top_ups": 1})


def test_only_writes_are_read_from_requests_csv(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerow(row("GET /api/orders/{id}", 200))
        writer.writerow(row(ORDER, 201, created_id="o1"))
    assert [r["name"] for r in read_rows(path)] == [ORDER]
    assert list(read_rows(tmp_path / "absent.csv")) == []
