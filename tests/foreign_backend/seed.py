"""Seed members, purses and couriers; write a users file (credentials only) and optionally fixtures.

`python -m tests.foreign_backend.seed --database-url URL --users-out users.json
[--fixtures-out fixtures.json] [--buyers 20 --sellers 5 --agents 12 --admins 1 --balance-cents N]`

Re-running adds only what is missing (emails are deterministic) and funds each buyer once, with a
balanced pair of journal lines from the EXTERNAL purse.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row

from tests.foreign_backend.auth import hash_password
from tests.foreign_backend.db import migrate

PASSWORD = "foreign-pass"
ZIP = "10001"
DEFAULT_BALANCE_CENTS = 10_000_000

Conn = psycopg.Connection[DictRow]


def _system_purse(conn: Conn, kind: str) -> str:
    conn.execute(
        "INSERT INTO purses (kind) VALUES (%s) ON CONFLICT (kind) WHERE kind <> 'MEMBER' DO NOTHING", (kind,)
    )
    row = conn.execute("SELECT id FROM purses WHERE kind = %s", (kind,)).fetchone()
    assert row is not None
    return str(row["id"])


def _member(conn: Conn, email: str, role: str) -> dict[str, Any]:
    conn.execute(
        "INSERT INTO members (email, pass_hash, role) VALUES (%s, %s, %s) ON CONFLICT (email) DO NOTHING",
        (email, hash_password(PASSWORD), role),
    )
    row = conn.execute("SELECT id, role FROM members WHERE email = %s", (email,)).fetchone()
    assert row is not None
    if row["role"] != role:
        raise ValueError(f"{email} exists with role {row['role']}, not {role}")
    user: dict[str, Any] = {"id": str(row["id"]), "role": role, "email": email, "password": PASSWORD}
    if role in ("BUYER", "SELLER"):
        conn.execute(
            "INSERT INTO purses (member_id) VALUES (%s) ON CONFLICT (member_id) DO NOTHING", (row["id"],)
        )
        purse = conn.execute("SELECT id FROM purses WHERE member_id = %s", (row["id"],)).fetchone()
        assert purse is not None
        user["walletId"] = str(purse["id"])
    if role == "AGENT":
        conn.execute(
            "INSERT INTO couriers (member_id, zips) VALUES (%s, %s) ON CONFLICT (member_id) DO NOTHING",
            (row["id"], [ZIP]),
        )
        courier = conn.execute("SELECT id FROM couriers WHERE member_id = %s", (row["id"],)).fetchone()
        assert courier is not None
        user["agentId"] = str(courier["id"])
    return user


def _fund(conn: Conn, purse: str, external: str, cents: int) -> None:
    """One balanced seed top-up, keyed by the purse so a re-run never funds twice."""
    conn.execute(
        """WITH c AS (
             INSERT INTO journal_lines (purse_id, cents, line_kind, dedupe_key)
             VALUES (%(p)s, %(cents)s, 'TOP_UP_CREDIT', %(key)s || '_credit')
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING cents)
           INSERT INTO journal_lines (purse_id, cents, line_kind, dedupe_key)
           SELECT %(ext)s, -cents, 'TOP_UP_DEBIT', %(key)s || '_debit' FROM c""",
        {"p": purse, "ext": external, "cents": cents, "key": f"seed_{purse}"},
    )


def seed(
    database_url: str,
    *,
    buyers: int = 20,
    sellers: int = 5,
    agents: int = 12,
    admins: int = 1,
    balance_cents: int = DEFAULT_BALANCE_CENTS,
) -> list[dict[str, Any]]:
    """Create what is missing and return every requested user (with ids, no tokens)."""
    migrate(database_url)
    users: list[dict[str, Any]] = []
    with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.transaction():
        external = _system_purse(conn, "EXTERNAL")
        _system_purse(conn, "PLATFORM")
        for role, count in (("BUYER", buyers), ("SELLER", sellers), ("AGENT", agents), ("ADMIN", admins)):
            for i in range(1, count + 1):
                user = _member(conn, f"fb-{role.lower()}{i}@foreign.test", role)
                if role == "BUYER":
                    _fund(conn, user["walletId"], external, balance_cents)
                users.append(user)
    return users


def write_files(users: list[dict[str, Any]], users_out: Path, fixtures_out: Path | None) -> None:
    """The users file (email, password, role) and, if asked, the harness fixtures file (with ids)."""
    creds = [{"email": u["email"], "password": u["password"], "role": u["role"]} for u in users]
    users_out.write_text(json.dumps({"users": creds}, indent=2) + "\n")
    if fixtures_out is not None:
        fixtures_out.write_text(json.dumps({"users": users}, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.foreign_backend.seed", description=__doc__)
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    p.add_argument("--users-out", type=Path, required=True)
    p.add_argument("--fixtures-out", type=Path, default=None)
    p.add_argument("--buyers", type=int, default=20)
    p.add_argument("--sellers", type=int, default=5)
    p.add_argument("--agents", type=int, default=12)
    p.add_argument("--admins", type=int, default=1)
    p.add_argument("--balance-cents", type=int, default=DEFAULT_BALANCE_CENTS)
    args = p.parse_args(argv)
    if not args.database_url:
        print("--database-url (or DATABASE_URL) is required", file=sys.stderr)
        return 2
    users = seed(
        args.database_url,
        buyers=args.buyers,
        sellers=args.sellers,
        agents=args.agents,
        admins=args.admins,
        balance_cents=args.balance_cents,
    )
    write_files(users, args.users_out, args.fixtures_out)
    print(f"seeded {len(users)} users; users file {args.users_out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
