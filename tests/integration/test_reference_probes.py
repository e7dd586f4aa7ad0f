"""Probes: zero rows on a clean seeded database after traffic; a row made to violate each is found."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest

from harness.probes import load_probes, run_probes
from reference_service.seed import seed
from tests.integration.service_helpers import Stack, auth, confirmed_order, create_order, open_assignment

pytestmark = pytest.mark.integration


def _traffic(stack: Stack) -> None:
    """A little of every flow, so the clean run is not clean only because the tables are empty."""
    buyer, seller, admin = stack.claim("BUYER"), stack.any("SELLER"), stack.any("ADMIN")
    agent = stack.any("AGENT", 3)
    with stack.client() as c:
        order = confirmed_order(c, buyer, seller)
        pay = c.post("/api/payments", headers=auth(buyer), json={"orderId": order["id"]}).json()
        assert c.post(f"/api/payments/{pay['id']}/capture", headers=auth(buyer)).status_code == 200
        assignment = open_assignment(c, admin, order["id"])
        for step in ("accept", "pickup", "deliver"):
            r = c.post(f"/api/shipping/assignments/{assignment['id']}/{step}", headers=auth(agent))
            assert r.status_code == 200, r.text
        cancelled = create_order(c, buyer, seller)
        r = c.patch(f"/api/orders/{cancelled['id']}", headers=auth(buyer), json={"status": "CANCELLED"})
        assert r.status_code == 200
        refunded = confirmed_order(c, buyer, seller)  # captured, then cancelled: refunded
        pay = c.post("/api/payments", headers=auth(buyer), json={"orderId": refunded["id"]}).json()
        assert c.post(f"/api/payments/{pay['id']}/capture", headers=auth(buyer)).status_code == 200
        r = c.patch(f"/api/orders/{refunded['id']}", headers=auth(buyer), json={"status": "CANCELLED"})
        assert r.status_code == 200, r.text
        top = c.post(
            f"/api/wallets/{buyer['walletId']}/top-up", headers=auth(admin), json={"amountCents": 500}
        )
        assert top.status_code == 201


def test_every_probe_passes_on_a_clean_database_after_traffic(service_stack: Callable[..., Stack]) -> None:
    stack = service_stack()
    _traffic(stack)
    report = run_probes(stack.database_url)
    assert set(report) == {"ran_at", "directory", "shipped", "probes"}
    assert {p["name"] for p in report["probes"]} == {p.name for p in load_probes()}
    for probe in report["probes"]:
        assert set(probe) == {"name", "description", "metrics", "violations", "examples", "error", "off"}
        assert probe["error"] is None, probe
        assert probe["violations"] == 0, probe
        assert probe["description"] and not probe["description"].startswith("--")


def _fresh(make_database: Callable[[], str]) -> tuple[str, dict[str, str]]:
    url = make_database()
    fixtures = seed(url, buyers=2, sellers=1, agents=2, admins=1, balance_cents=1000)
    ids = {u["role"] + str(i): u for i, u in enumerate(fixtures["users"])}
    users = {
        "buyer": next(u for u in ids.values() if u["role"] == "BUYER"),
        "seller": next(u for u in ids.values() if u["role"] == "SELLER"),
    }
    agents = [u["agentId"] for u in fixtures["users"] if u["role"] == "AGENT"]
    return url, {
        "buyer": users["buyer"]["id"],
        "buyer_wallet": users["buyer"]["walletId"],
        "seller": users["seller"]["id"],
        "seller_wallet": users["seller"]["walletId"],
        "platform": fixtures["platformWalletId"],
        "agent1": agents[0],
        "agent2": agents[1],
        "external": fixtures["externalWalletId"],
    }


def _order(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str], key: str | None = None) -> str:
    oid = str(uuid.uuid4())
    conn.execute(
        """INSERT INTO orders (id, buyer_id, seller_id, total_cents, shipping_zip, items, idempotency_key)
           VALUES (%s, %s, %s, 100, '10001', '[]', %s)""",
        (oid, ids["buyer"], ids["seller"], key),
    )
    conn.execute("INSERT INTO order_status_history (order_id, to_status) VALUES (%s, 'PENDING')", (oid,))
    return oid


LEDGER_INSERT = "INSERT INTO ledger_entries (wallet_id, amount_cents, entry_type, idempotency_key) VALUES "
VIOLATIONS: dict[str, Callable[[psycopg.Connection[tuple[object, ...]], dict[str, str]], None]] = {}


def violation(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(fn: Callable[..., None]) -> Callable[..., None]:
        VIOLATIONS[name] = fn
        return fn

    return register


@violation("ledger_total_zero")
def _unbalanced(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    conn.execute(
        LEDGER_INSERT + "(%s, 7, 'X', 'x1')",
        (ids["buyer_wallet"],),
    )


@violation("capture_entries_balanced")
def _two_entries(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    oid = _order(conn, ids)
    pid = conn.execute(
        "INSERT INTO payments (order_id, amount_cents, lifecycle) VALUES (%s, 100, 'CAPTURED') RETURNING id",
        (oid,),
    ).fetchone()
    assert pid is not None
    for kind, amount in (("BUYER_DEBIT", -100), ("SELLER_CREDIT", 100)):
        conn.execute(
            """INSERT INTO ledger_entries (wallet_id, payment_id, amount_cents, entry_type, idempotency_key)
               VALUES (%s, %s, %s, %s, %s)""",
            (ids["buyer_wallet"], pid[0], amount, kind, f"payment_{pid[0]}_{kind}"),
        )


@violation("no_negative_wallet")
def _overdraft(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    for wallet, amount, key in ((ids["buyer_wallet"], -5000, "o1"), (ids["external"], 5000, "o2")):
        conn.execute(
            LEDGER_INSERT + "(%s, %s, 'X', %s)",
            (wallet, amount, key),
        )


@violation("unique_ledger_idempotency_key")
def _duplicate_key(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    conn.execute("ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_idempotency_key_key")
    for wallet, amount in ((ids["buyer_wallet"], 1), (ids["external"], -1)):
        conn.execute(
            LEDGER_INSERT + "(%s, %s, 'X', 'dup')",
            (wallet, amount),
        )


@violation("one_order_per_idempotency_key")
def _duplicate_orders(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    _order(conn, ids, "same-key")
    _order(conn, ids, "same-key")


@violation("assignment_single_acceptance")
def _double_accept(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    oid = _order(conn, ids)
    row = conn.execute(
        "INSERT INTO shipping_assignments (order_id) VALUES (%s) RETURNING id", (oid,)
    ).fetchone()
    assert row is not None
    for agent in (ids["agent1"], ids["agent2"]):
        conn.execute(
            "INSERT INTO shipping_assignment_events (assignment_id, agent_id, event)"
            " VALUES (%s, %s, 'ACCEPTED')",
            (row[0], agent),
        )


@violation("order_history_valid_steps")
def _skip_a_step(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    oid = _order(conn, ids)
    conn.execute(
        "INSERT INTO order_status_history (order_id, from_status, to_status)"
        " VALUES (%s, 'PENDING', 'DELIVERED')",
        (oid,),
    )
    conn.execute("UPDATE orders SET status = 'DELIVERED' WHERE id = %s", (oid,))


@violation("order_history_single_path")
def _fork(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    oid = _order(conn, ids)
    for target in ("CONFIRMED", "CANCELLED"):
        conn.execute(
            "INSERT INTO order_status_history (order_id, from_status, to_status) VALUES (%s, 'PENDING', %s)",
            (oid, target),
        )
    conn.execute("UPDATE orders SET status = 'CANCELLED' WHERE id = %s", (oid,))


@violation("order_status_matches_history")
def _status_drift(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    oid = _order(conn, ids)
    conn.execute("UPDATE orders SET status = 'CONFIRMED' WHERE id = %s", (oid,))


def _captured_payment(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str], oid: str) -> str:
    """A payment of `oid` captured as the service does: three balanced entries (no fee wallet needed)."""
    row = conn.execute(
        "INSERT INTO payments (order_id, amount_cents, lifecycle) VALUES (%s, 100, 'CAPTURED') RETURNING id",
        (oid,),
    ).fetchone()
    assert row is not None
    pid = str(row[0])
    for wallet, amount, kind in (
        (ids["buyer_wallet"], -100, "BUYER_DEBIT"),
        (ids["seller_wallet"], 90, "SELLER_CREDIT"),
        (ids["platform"], 10, "PLATFORM_FEE_CREDIT"),
    ):
        conn.execute(
            """INSERT INTO ledger_entries (wallet_id, payment_id, amount_cents, entry_type, idempotency_key)
               VALUES (%s, %s, %s, %s, %s)""",
            (wallet, pid, amount, kind, f"payment_{pid}_{kind}"),
        )
    return pid


def _set_status(conn: psycopg.Connection[tuple[object, ...]], oid: str, path: list[str]) -> None:
    """Walk `oid` along `path` with history rows, so only the probe under test sees a violation."""
    current = "PENDING"
    for status in path:
        conn.execute(
            "INSERT INTO order_status_history (order_id, from_status, to_status) VALUES (%s, %s, %s)",
            (oid, current, status),
        )
        current = status
    conn.execute("UPDATE orders SET status = %s WHERE id = %s", (current, oid))


@violation("cancelled_order_payment_nets_zero")
def _cancelled_keeps_money(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    oid = _order(conn, ids)
    _captured_payment(conn, ids, oid)
    _set_status(conn, oid, ["CONFIRMED", "CANCELLED"])  # the bug: cancelled, never refunded


@violation("no_refund_twice")
def _refunded_twice(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    oid = _order(conn, ids)
    pid = _captured_payment(conn, ids, oid)
    for n in (1, 2):  # two buyer refunds under distinct keys, each balanced against the seller
        conn.execute(
            """INSERT INTO ledger_entries (wallet_id, payment_id, amount_cents, entry_type, idempotency_key)
               VALUES (%s, %s, 100, 'BUYER_REFUND_CREDIT', %s), (%s, %s, -100, 'SELLER_REFUND_DEBIT', %s)""",
            (ids["buyer_wallet"], pid, f"r{n}b", ids["seller_wallet"], pid, f"r{n}s"),
        )


@violation("one_accepted_assignment_per_order")
def _two_agents_one_order(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    oid = _order(conn, ids)
    for agent in (ids["agent1"], ids["agent2"]):
        conn.execute(
            "INSERT INTO shipping_assignments (order_id, agent_id, status, accepted_at)"
            " VALUES (%s, %s, 'ACCEPTED', now())",
            (oid, agent),
        )


@violation("nothing_shipped_unpaid")
def _delivered_unpaid(conn: psycopg.Connection[tuple[object, ...]], ids: dict[str, str]) -> None:
    oid = _order(conn, ids)
    conn.execute("INSERT INTO payments (order_id, amount_cents) VALUES (%s, 100)", (oid,))  # INITIATED
    _set_status(conn, oid, ["CONFIRMED", "SHIPPING", "DELIVERED"])


def test_every_probe_has_a_violation_case() -> None:
    assert set(VIOLATIONS) == {p.name for p in load_probes()}


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_probe_finds_a_row_made_to_violate_it(name: str, make_database: Callable[[], str]) -> None:
    url, ids = _fresh(make_database)
    with psycopg.connect(url, autocommit=True) as conn:
        VIOLATIONS[name](conn, ids)
    report = {p["name"]: p for p in run_probes(url, example_limit=1)["probes"]}
    assert report[name]["error"] is None
    assert report[name]["violations"] >= 1, report[name]
    assert len(report[name]["examples"]) == 1
    assert all(p["error"] is None for p in report.values())


def test_a_failing_probe_reports_an_error_and_the_others_still_run(make_database: Callable[[], str]) -> None:
    url, _ = _fresh(make_database)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE shipping_assignment_events")
    report = {p["name"]: p for p in run_probes(url)["probes"]}
    assert report["assignment_single_acceptance"]["error"]
    assert report["ledger_total_zero"]["error"] is None


def test_an_unreachable_database_is_an_error_per_probe_not_a_crash() -> None:
    report = run_probes("postgresql://nobody@127.0.0.1:1/none")
    assert report["probes"] and all(p["error"] for p in report["probes"])


def test_probes_run_read_only(make_database: Callable[[], str]) -> None:
    url, _ = _fresh(make_database)
    before = psycopg.connect(url, autocommit=True)
    with before:
        count = before.execute("SELECT count(*) FROM ledger_entries").fetchone()
    run_probes(url)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone() == count
