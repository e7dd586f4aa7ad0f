"""Wallets and balances: a balance is the sum of the wallet's ledger entries, never a stored column."""

from __future__ import annotations

import uuid

from psycopg.rows import DictRow

from reference_service.db import Session


async def get(s: Session, wallet_id: str) -> DictRow | None:
    return await s.one(
        """SELECT w.id, w.owner_id AS "ownerId", w.kind,
                  (SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_entries WHERE wallet_id = w.id)::bigint
                    AS "balanceCents"
           FROM wallets w WHERE w.id = %s""",
        (wallet_id,),
        op="wallets.get",
    )


async def balance(s: Session, wallet_id: str) -> int:
    row = await s.one(
        "SELECT COALESCE(SUM(amount_cents), 0)::bigint AS b FROM ledger_entries WHERE wallet_id = %s",
        (wallet_id,),
        op="wallets.balance",
    )
    return int(row["b"]) if row else 0


async def lock(s: Session, wallet_id: str) -> bool:
    """Row-lock the wallet (seed 003: SELECT ... FOR UPDATE); False if it does not exist."""
    row = await s.one("SELECT id FROM wallets WHERE id = %s FOR UPDATE", (wallet_id,), op="wallets.lock")
    return row is not None


async def payer_of_payment(s: Session, payment_id: str) -> str | None:
    """The wallet a capture of this payment debits (the order's buyer's); None if either is missing."""
    row = await s.one(
        """SELECT w.id FROM payments p JOIN orders o ON o.id = p.order_id
           JOIN wallets w ON w.owner_id = o.buyer_id WHERE p.id = %s""",
        (payment_id,),
        op="wallets.payer_of_payment",
    )
    return str(row["id"]) if row else None


async def take_turn(s: Session, wallet_id: str) -> None:
    """Wait for this wallet's session-level advisory lock (released by `end_turn` or the session's end)."""
    await s.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (wallet_id,), op="wallets.take_turn")


async def end_turn(s: Session, wallet_id: str) -> None:
    await s.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (wallet_id,), op="wallets.end_turn")


async def system_wallet(s: Session, kind: str) -> str | None:
    row = await s.one("SELECT id FROM wallets WHERE kind = %s", (kind,), op="wallets.system")
    return str(row["id"]) if row else None


async def top_up(s: Session, wallet_id: str, external_wallet_id: str, amount_cents: int) -> DictRow | None:
    """A balanced pair: +amount on the wallet, -amount on the external funding wallet."""
    ref = uuid.uuid4().hex
    return await s.one(
        """WITH w AS (SELECT id FROM wallets WHERE id = %(wallet)s AND kind <> 'EXTERNAL'),
           e AS (
             INSERT INTO ledger_entries (wallet_id, amount_cents, entry_type, idempotency_key)
             SELECT w.id, %(amount)s::bigint, 'TOP_UP_CREDIT', 'topup_' || %(ref)s::text || '_credit' FROM w
             UNION ALL
             SELECT %(external)s, -%(amount)s::bigint, 'TOP_UP_DEBIT',
                    'topup_' || %(ref)s::text || '_debit' FROM w
             RETURNING wallet_id, amount_cents)
           SELECT %(ref)s AS "topUpId", (SELECT id FROM w) AS "walletId", %(amount)s::bigint AS "amountCents",
                  (SELECT count(*) FROM e) AS entries""",
        {"wallet": wallet_id, "external": external_wallet_id, "amount": amount_cents, "ref": ref},
        op="wallets.top_up",
    )


async def of_user(s: Session, user_id: str) -> str | None:
    row = await s.one("SELECT id FROM wallets WHERE owner_id = %s", (user_id,), op="wallets.of_user")
    return str(row["id"]) if row else None
