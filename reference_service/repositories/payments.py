"""Payments, and the ledger entries a capture writes."""

from __future__ import annotations

from psycopg.rows import DictRow

from reference_service.db import Session

PAYMENT_COLUMNS = """id, order_id AS "orderId", amount_cents AS "amountCents", lifecycle,
    payment_method AS "method", created_at AS "createdAt", captured_at AS "capturedAt\""""


async def initiate(s: Session, order_id: str, method: str, amount_cents: int) -> DictRow | None:
    """Insert an INITIATED payment; None when the order already has one."""
    return await s.one(
        "INSERT INTO payments (order_id, payment_method, amount_cents) VALUES (%s, %s, %s)"
        " ON CONFLICT (order_id) DO NOTHING RETURNING " + PAYMENT_COLUMNS,
        (order_id, method, amount_cents),
        op="payments.initiate",
    )


async def for_capture(s: Session, payment_id: str, *, lock: bool = True) -> DictRow | None:
    """The payment with what a capture needs: payer, payee and their wallets; row-locked."""
    return await s.one(
        """SELECT p.id, p.order_id, p.amount_cents, p.lifecycle, o.buyer_id, o.status AS order_status,
                  bw.id AS buyer_wallet_id, sw.id AS seller_wallet_id
           FROM payments p
           JOIN orders o ON o.id = p.order_id
           LEFT JOIN wallets bw ON bw.owner_id = o.buyer_id
           LEFT JOIN wallets sw ON sw.owner_id = o.seller_id
           WHERE p.id = %s"""
        + (" FOR UPDATE OF p" if lock else ""),
        (payment_id,),
        op="payments.for_capture",
    )


async def owner_of(s: Session, payment_id: str) -> DictRow | None:
    return await s.one(
        "SELECT p.id, o.buyer_id FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.id = %s",
        (payment_id,),
        op="payments.owner_of",
    )


async def record_capture(
    s: Session,
    *,
    payment_id: str,
    buyer_wallet_id: str,
    seller_wallet_id: str,
    platform_wallet_id: str,
    amount_cents: int,
    fee_cents: int,
    key_suffix: str = "",
) -> DictRow | None:
    """The three balanced entries and the lifecycle change, in one statement.

    Entry keys are `payment_{id}_{kind}` (seed 000), so a second capture of the same payment
    can never write a second set: the unique constraint refuses it.
    """
    return await s.one(
        """WITH e AS (
             INSERT INTO ledger_entries (wallet_id, payment_id, amount_cents, entry_type, idempotency_key)
             VALUES (%(buyer)s, %(pid)s, -%(amount)s::bigint, 'BUYER_DEBIT',
                     %(prefix)s::text || '_buyer_debit'),
                    (%(seller)s, %(pid)s, %(amount)s::bigint - %(fee)s::bigint, 'SELLER_CREDIT',
                     %(prefix)s::text || '_seller_credit'),
                    (%(platform)s, %(pid)s, %(fee)s::bigint, 'PLATFORM_FEE_CREDIT',
                     %(prefix)s::text || '_platform_fee')
             RETURNING 1),
           upd AS (UPDATE payments SET lifecycle = 'CAPTURED', captured_at = now()
                   WHERE id = %(pid)s RETURNING *)
           SELECT """
        + PAYMENT_COLUMNS
        + ", (SELECT count(*) FROM e) AS entries FROM upd",
        {
            "buyer": buyer_wallet_id,
            "seller": seller_wallet_id,
            "platform": platform_wallet_id,
            "pid": payment_id,
            "prefix": f"payment_{payment_id}{key_suffix}",
            "amount": amount_cents,
            "fee": fee_cents,
        },
        op="payments.record_capture",
    )


async def of_order_locked(s: Session, order_id: str, *, share: bool) -> DictRow | None:
    """The order's payment, row-locked (FOR SHARE to read its lifecycle, FOR UPDATE to change it).

    A capture holds this row FOR UPDATE while it writes, so a ship or a cancel waits for it and then
    sees its outcome: never a cancel that misses a capture committing at the same moment.
    """
    lock = "FOR SHARE" if share else "FOR UPDATE"
    return await s.one(
        "SELECT id, lifecycle, amount_cents FROM payments WHERE order_id = %s " + lock,
        (order_id,),
        op="payments.of_order_locked",
    )


async def record_refund(s: Session, payment_id: str) -> int:
    """Reverse the capture's three entries exactly, once: keys `payment_{id}_refund_{kind}`.

    The unique key refuses a second refund of one payment (zero double refunds, seed 003); the
    entries mirror the capture's so the buyer, seller and platform each net to zero.
    """
    return await s.execute(
        """WITH r AS (
             INSERT INTO ledger_entries (wallet_id, payment_id, amount_cents, entry_type, idempotency_key)
             SELECT wallet_id, payment_id, -amount_cents,
                    CASE entry_type WHEN 'BUYER_DEBIT' THEN 'BUYER_REFUND_CREDIT'
                                    WHEN 'SELLER_CREDIT' THEN 'SELLER_REFUND_DEBIT'
                                    ELSE 'PLATFORM_FEE_REFUND_DEBIT' END,
                    %(prefix)s::text || CASE entry_type WHEN 'BUYER_DEBIT' THEN 'buyer'
                                                       WHEN 'SELLER_CREDIT' THEN 'seller'
                                                       ELSE 'platform_fee' END
             FROM ledger_entries
             WHERE payment_id = %(pid)s
               AND entry_type IN ('BUYER_DEBIT', 'SELLER_CREDIT', 'PLATFORM_FEE_CREDIT')
             RETURNING 1)
           UPDATE payments SET lifecycle = 'REFUNDED', refunded_at = now()
           WHERE id = %(pid)s AND (SELECT count(*) FROM r) = 3""",
        {"pid": payment_id, "prefix": f"payment_{payment_id}_refund_"},
        op="payments.record_refund",
    )


async def void(s: Session, payment_id: str) -> None:
    """An uncaptured payment of a cancelled order can never be captured."""
    await s.execute(
        "UPDATE payments SET lifecycle = 'CANCELLED' WHERE id = %s AND lifecycle = 'INITIATED'",
        (payment_id,),
        op="payments.void",
    )
