"""Schema: migrations apply once each, every seeded index exists, hot queries use their indexes."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from reference_service.migrate import migrate, migration_files
from reference_service.seed import seed

pytestmark = pytest.mark.integration

SEED_INDEXES = {
    "idx_orders_buyer_id",
    "idx_orders_status",
    "idx_orders_created_at",
    "idx_payments_order_id",
    "idx_payments_lifecycle",
    "idx_payments_payment_method",
    "idx_ledger_entries_wallet_id",
    "idx_ledger_entries_payment_id",
    "idx_ledger_entries_idempotency_key",
    "idx_ledger_entries_wallet_amount",
    "idx_ledger_entries_created",
    "idx_shipping_assignments_order_id",
    "idx_shipping_assignments_agent_id",
    "idx_shipping_assignments_status",
    "idx_shipping_assignments_agent_status",
    "idx_shipping_assignments_delivered_sla",
    "idx_delivery_agents_user_id",
    "idx_delivery_agents_status",
    "idx_delivery_agents_is_available",
    "idx_delivery_agents_zip_codes",
}


def test_migrations_apply_once_each(make_database: Callable[[], str]) -> None:
    url = make_database()
    names = [name for name, _ in migration_files()]
    assert names == sorted(names) and names[0].startswith("0001_")
    assert migrate(url) == names
    assert migrate(url) == []
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    assert [r[0] for r in rows] == names


def test_every_index_the_seeds_name_exists_with_its_kind(make_database: Callable[[], str]) -> None:
    url = make_database()
    migrate(url)
    with psycopg.connect(url) as conn:
        defs: dict[str, str] = dict(
            conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'").fetchall()
        )
    assert set(defs) >= SEED_INDEXES, SEED_INDEXES - set(defs)
    assert "USING gin (service_zip_codes)" in defs["idx_delivery_agents_zip_codes"]
    assert "WHERE (status = 'DELIVERED'::text)" in defs["idx_shipping_assignments_delivered_sla"]


def _plan(conn: psycopg.Connection[tuple[object, ...]], sql: str, params: tuple[object, ...]) -> str:
    rows = conn.execute(("EXPLAIN " + sql).encode(), params).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def test_hot_queries_use_their_indexes(make_database: Callable[[], str]) -> None:
    url = make_database()
    fixtures = seed(url, buyers=3, sellers=1, agents=2, admins=1, balance_cents=100)
    wallet = fixtures["users"][0]["walletId"]
    agent = next(u["agentId"] for u in fixtures["users"] if u["role"] == "AGENT")
    with psycopg.connect(url, autocommit=True) as conn:
        # Enough rows and fresh statistics for an honest plan, and no sequential scan to hide behind.
        conn.execute(
            """INSERT INTO ledger_entries (wallet_id, amount_cents, entry_type, idempotency_key)
               SELECT %s, 1, 'X', 'bulk_' || g FROM generate_series(1, 5000) g""",
            (fixtures["externalWalletId"],),
        )
        buyer, seller = fixtures["users"][0]["id"], fixtures["users"][3]["id"]
        order = conn.execute(
            """INSERT INTO orders (buyer_id, seller_id, total_cents, shipping_zip, items)
               VALUES (%s, %s, 1, '10001', '[]') RETURNING id""",
            (buyer, seller),
        ).fetchone()
        assert order is not None
        conn.execute(
            """INSERT INTO shipping_assignments
                 (order_id, agent_id, status, delivered_at, estimated_delivery_time)
               SELECT %s, CASE WHEN g %% 2 = 0 THEN %s::uuid END,
                      CASE WHEN g %% 10 = 0 THEN 'DELIVERED' ELSE 'OPEN' END,
                      now() - g * interval '1 minute', now()
               FROM generate_series(1, 3000) g""",
            (order[0], agent),
        )
        conn.execute("ANALYZE")
        conn.execute("SET enable_seqscan = off")
        balance = _plan(conn, "SELECT SUM(amount_cents) FROM ledger_entries WHERE wallet_id = %s", (wallet,))
        assert "idx_ledger_entries_wallet_amount" in balance, balance
        assert "Index Only Scan" in balance, balance
        by_agent = _plan(
            conn,
            "SELECT id FROM shipping_assignments WHERE agent_id = %s AND status = %s",
            (agent, "ACCEPTED"),
        )
        assert "idx_shipping_assignments_agent_status" in by_agent, by_agent
        sla = _plan(
            conn,
            "SELECT count(*) FROM shipping_assignments WHERE status = 'DELIVERED' AND delivered_at > now()",
            (),
        )
        assert "idx_shipping_assignments_delivered_sla" in sla, sla
        zips = _plan(conn, "SELECT id FROM delivery_agents WHERE service_zip_codes @> ARRAY[%s]", ("10001",))
        assert "idx_delivery_agents_zip_codes" in zips, zips


def test_seeding_twice_adds_nothing_broken(make_database: Callable[[], str]) -> None:
    url = make_database()
    first = seed(url, buyers=3, sellers=1, agents=2, admins=1, balance_cents=500, token_secret="s1")
    second = seed(url, buyers=3, sellers=1, agents=2, admins=1, balance_cents=500)
    assert [u["id"] for u in first["users"]] == [u["id"] for u in second["users"]]
    assert first["platformWalletId"] == second["platformWalletId"]
    with psycopg.connect(url) as conn:
        total, count = conn.execute("SELECT SUM(amount_cents), count(*) FROM ledger_entries").fetchone() or (
            None,
            0,
        )
        assert total == 0 and count == 6
        agents = conn.execute("SELECT count(*) FROM delivery_agents").fetchone()
        assert agents == (2,)
    for user in first["users"]:
        assert {"id", "role", "email", "password", "token", "walletId"} <= set(user)
        assert ("agentId" in user) == (user["role"] == "AGENT")
    # without the service's secret the seeder mints no token a service could refuse
    assert not any("token" in user for user in second["users"])
