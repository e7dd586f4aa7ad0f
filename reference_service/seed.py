"""Seed users, wallets and agents, and write the fixtures file Locust users and tests read.

`python -m reference_service.seed --database-url URL --out fixtures.json [--buyers 20 --sellers 5
--agents 10 --admins 1 --balance-cents N --base-url URL]`, or `seed(database_url, ...)` in-process.
Re-running on a seeded database adds only what is missing and rewrites the fixtures for all the
requested users (emails are deterministic: `buyer1@loadgate.test`, ...). Buyers are funded once,
through balanced top-up pairs from the EXTERNAL wallet, so the sum of all entries stays 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from reference_service.auth import Principal, Role, hash_password, issue_token
from reference_service.migrate import migrate

DEFAULT_PASSWORD = "loadgate-pass"
DEFAULT_BALANCE_CENTS = 10_000_000
SHARED_ZIP = "10001"


def _system_wallet(conn: psycopg.Connection[dict[str, Any]], kind: str) -> str:
    conn.execute(
        "INSERT INTO wallets (kind) VALUES (%s) ON CONFLICT (kind) WHERE kind <> 'USER' DO NOTHING", (kind,)
    )
    row = conn.execute("SELECT id FROM wallets WHERE kind = %s", (kind,)).fetchone()
    assert row is not None
    return str(row["id"])


def _user(conn: psycopg.Connection[dict[str, Any]], email: str, role: Role, password: str) -> dict[str, Any]:
    conn.execute(
        "INSERT INTO users (email, password_hash, role) VALUES (%s, %s, %s) ON CONFLICT (email) DO NOTHING",
        (email, hash_password(password), role.value),
    )
    user = conn.execute("SELECT id, role FROM users WHERE email = %s", (email,)).fetchone()
    assert user is not None
    if user["role"] != role.value:
        raise ValueError(f"{email} exists with role {user['role']}, not {role.value}")
    conn.execute(
        "INSERT INTO wallets (owner_id) VALUES (%s)"
        " ON CONFLICT (owner_id) WHERE owner_id IS NOT NULL DO NOTHING",
        (user["id"],),
    )
    wallet = conn.execute("SELECT id FROM wallets WHERE owner_id = %s", (user["id"],)).fetchone()
    assert wallet is not None
    return {"id": str(user["id"]), "role": role.value, "email": email, "walletId": str(wallet["id"])}


def _fund(conn: psycopg.Connection[dict[str, Any]], wallet_ids: list[str], external: str, cents: int) -> None:
    """One balanced seed top-up per wallet, keyed so that a re-run never funds twice."""
    conn.execute(
        """WITH c AS (
             INSERT INTO ledger_entries (wallet_id, amount_cents, entry_type, idempotency_key)
             SELECT w, %(cents)s, 'TOP_UP_CREDIT', 'seed_' || w::text || '_credit'
             FROM unnest(%(ids)s::uuid[]) w
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING wallet_id, amount_cents)
           INSERT INTO ledger_entries (wallet_id, amount_cents, entry_type, idempotency_key)
           SELECT %(external)s, -amount_cents, 'TOP_UP_DEBIT', 'seed_' || wallet_id::text || '_debit'
           FROM c""",
        {"ids": wallet_ids, "external": external, "cents": cents},
    )


def seed(
    database_url: str,
    *,
    buyers: int = 20,
    sellers: int = 5,
    agents: int = 10,
    admins: int = 1,
    balance_cents: int = DEFAULT_BALANCE_CENTS,
    base_url: str | None = None,
    token_secret: str | None = None,
    password: str = DEFAULT_PASSWORD,
) -> dict[str, Any]:
    """Create (or complete) the seeded population; return the fixtures document."""
    migrate(database_url)
    # No shared secret, no tokens: a service starts with a random secret unless given one, so a
    # token minted here with any other key would be refused; Locust users then log in over HTTP.
    secret = token_secret or os.environ.get("TOKEN_SECRET") or None
    users: list[dict[str, Any]] = []
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        platform = _system_wallet(conn, "PLATFORM")
        external = _system_wallet(conn, "EXTERNAL")
        plan = [(Role.BUYER, buyers), (Role.SELLER, sellers), (Role.AGENT, agents), (Role.ADMIN, admins)]
        for role, count in plan:
            for i in range(1, count + 1):
                user = _user(conn, f"{role.value.lower()}{i}@loadgate.test", role, password)
                agent_id = None
                if role is Role.AGENT:
                    conn.execute(
                        """INSERT INTO delivery_agents (user_id, service_zip_codes) VALUES (%s, %s)
                           ON CONFLICT (user_id) DO NOTHING""",
                        (user["id"], [SHARED_ZIP, f"2{i:04d}"]),
                    )
                    row = conn.execute(
                        "SELECT id FROM delivery_agents WHERE user_id = %s", (user["id"],)
                    ).fetchone()
                    assert row is not None
                    agent_id = str(row["id"])
                    user["agentId"] = agent_id
                user["password"] = password
                if secret:
                    user["token"] = issue_token(secret, Principal(user["id"], role, agent_id))
                users.append(user)
        buyer_wallets = [u["walletId"] for u in users if u["role"] == Role.BUYER.value]
        if balance_cents > 0 and buyer_wallets:
            _fund(conn, buyer_wallets, external, balance_cents)
        conn.commit()
    fixtures: dict[str, Any] = {"users": users, "platformWalletId": platform, "externalWalletId": external}
    if base_url:
        fixtures["baseUrl"] = base_url
    return fixtures


def write_fixtures(fixtures: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_bytes(orjson.dumps(fixtures, option=orjson.OPT_INDENT_2))
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reference_service.seed")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--buyers", type=int, default=20)
    p.add_argument("--sellers", type=int, default=5)
    p.add_argument("--agents", type=int, default=10)
    p.add_argument("--admins", type=int, default=1)
    p.add_argument("--balance-cents", type=int, default=DEFAULT_BALANCE_CENTS)
    p.add_argument("--base-url")
    p.add_argument(
        "--token-secret",
        default=None,
        help="the service's TOKEN_SECRET (default: $TOKEN_SECRET); without one no tokens are written",
    )
    p.add_argument("--password", default=DEFAULT_PASSWORD)
    args = p.parse_args(argv)
    if not args.database_url:
        p.error("--database-url or DATABASE_URL is required")
    if min(args.buyers, args.sellers, args.agents, args.admins, args.balance_cents) < 0:
        p.error("counts and --balance-cents must not be negative")
    fixtures = seed(
        args.database_url,
        buyers=args.buyers,
        sellers=args.sellers,
        agents=args.agents,
        admins=args.admins,
        balance_cents=args.balance_cents,
        base_url=args.base_url,
        token_secret=args.token_secret,
        password=args.password,
    )
    write_fixtures(fixtures, args.out)
    print(f"seeded {len(fixtures['users'])} users into {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
