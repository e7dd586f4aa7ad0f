"""The reconciliation through a target's API agrees with the one in its database, and finds a lost write."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.reconcile import fetch, reconcile
from harness.reconcile_http import fetch_http
from reports.evidence import REQUEST_COLUMNS
from tests.integration.service_helpers import Stack, auth, confirmed_order, open_assignment

pytestmark = pytest.mark.integration


def _requests_csv(run_dir: Path, rows: list[dict[str, str]]) -> None:
    with open(run_dir / "requests.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=REQUEST_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in REQUEST_COLUMNS})


def _row(name: str, status: int, created_id: str = "", key: str = "", code: str = "") -> dict[str, str]:
    return {
        "ts": "1.0",
        "name": name,
        "status": str(status),
        "created_id": created_id,
        "idempotency_key": key,
        "error_code": code,
    }


def test_http_reconciliation_finds_what_the_database_finds(
    service_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = service_stack()
    buyer, seller, admin = stack.claim("BUYER"), stack.any("SELLER"), stack.any("ADMIN")
    with stack.client() as c:
        order = confirmed_order(c, buyer, seller)
        pay = {"orderId": order["id"], "method": "WALLET"}
        payment = c.post("/api/payments", json=pay, headers=auth(buyer))
        assert payment.status_code == 201, payment.text
        captured = c.post(f"/api/payments/{payment.json()['id']}/capture", headers=auth(buyer))
        assert captured.status_code == 200, captured.text
        assignment = open_assignment(c, admin, order["id"])
    lost_order = str(uuid.uuid4())
    rows = [
        _row("POST /api/orders", 201, order["id"], key="k-1"),
        _row("POST /api/orders", 201, lost_order, key="k-2"),  # acknowledged, but never in the database
        _row("POST /api/payments", 201, payment.json()["id"]),
        _row("POST /api/payments/{id}/capture", 200, payment.json()["id"]),
        _row("POST /api/shipping/assignments", 201, assignment["id"]),
        _row("POST /api/orders", 0, key="k-3", code="TIMEOUT"),  # what it did: only the database knows
        _row("POST /api/wallets/{id}/top-up", 201, str(uuid.uuid4())),  # no route reads a top-up back
    ]
    _requests_csv(tmp_path, rows)
    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text(json.dumps(stack.fixtures))

    by_http = reconcile(
        tmp_path, lambda need, r: fetch_http(stack.base_url, fixtures, need, r), source="http"
    )
    by_sql = reconcile(tmp_path, lambda need, r: fetch(stack.database_url, need), source="database")

    assert by_http["source"] == "http"
    assert by_http["acknowledged"]["missing"] == 1
    assert [e["created_id"] for e in by_http["acknowledged"]["examples"]] == [lost_order]
    assert by_http["acknowledged"]["checked"] == 5
    assert by_http["acknowledged"]["not_checked"] == {"top_ups": 1}
    assert by_http["indeterminate"]["unknown"] == 1  # over HTTP an unanswered write stays unknown
    # the database sees the same lost order among the same writes, plus the top-up (also lost)
    assert by_sql["acknowledged"]["missing"] == 2
    assert by_sql["indeterminate"]["not_at_all"] == 1


def test_a_retried_key_answered_with_two_orders_is_a_duplicate_over_http(
    service_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = service_stack()
    buyer, seller = stack.claim("BUYER"), stack.any("SELLER")
    with stack.client() as c:
        first, second = confirmed_order(c, buyer, seller), confirmed_order(c, buyer, seller)
    rows = [
        _row("POST /api/orders", 201, first["id"], key="same"),
        _row("POST /api/orders", 201, second["id"], key="same"),
    ]
    _requests_csv(tmp_path, rows)
    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text(json.dumps(stack.fixtures))
    document = reconcile(
        tmp_path, lambda need, r: fetch_http(stack.base_url, fixtures, need, r), source="http"
    )
    assert document["idempotent_retries"]["duplicate_effects"] == 1
    assert document["acknowledged"]["missing"] == 0
