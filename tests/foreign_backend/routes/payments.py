"""Payments: initiate, and capture (three balanced journal lines, the payer's purse row-locked).

The `overdraft` bug skips the purse lock: the balance is read, the race window passes, and the
lines are written anyway, so concurrent captures on one purse can spend the same money twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.foreign_backend import idempotency
from tests.foreign_backend.db import Conn, one
from tests.foreign_backend.errors import ApiError, forbidden, invalid, not_found
from tests.foreign_backend.states import PAYABLE
from tests.foreign_backend.views import PAYMENT_FIELDS
from tests.foreign_backend.web import Reply, Request, parse_uuid

if TYPE_CHECKING:
    from tests.foreign_backend.app import App


def initiate(app: App, req: Request) -> Reply:
    body = req.json()
    order_id = parse_uuid(body.get("orderId"), "orderId")
    method = body.get("method", "WALLET")
    if method != "WALLET":
        raise invalid("method", "must be WALLET")
    with app.db.connection() as conn:
        order = one(
            conn, "SELECT buyer_id, state, total_cents FROM purchase_orders WHERE id = %s", (order_id,)
        )
        if order is None:
            raise not_found("Order")
        if str(order["buyer_id"]) != req.user.user_id:
            raise forbidden("A buyer pays only its own orders")
        if order["state"] not in PAYABLE:
            raise ApiError(400, "INVALID_ORDER_STATE", f"Cannot pay an order in status {order['state']}")
        row = one(
            conn,
            f"""INSERT INTO charges (order_id, cents, method) VALUES (%s, %s, %s)
                ON CONFLICT (order_id) DO NOTHING RETURNING {PAYMENT_FIELDS}""",
            (order_id, order["total_cents"], method),
        )
    if row is None:
        raise ApiError(409, "PAYMENT_ALREADY_EXISTS", "This order already has a payment")
    return Reply(201, dict(row))


def capture(app: App, req: Request) -> Reply:
    payment_id = req.uuid_param("id")
    platform = app.platform_purse()

    def work(conn: Conn) -> tuple[int, Any]:
        return 200, _capture(app, conn, req, payment_id, platform)

    return idempotency.run(app, req, {}, work)


def _capture(app: App, conn: Conn, req: Request, payment_id: str, platform: str) -> dict[str, Any]:
    # The charge row lock makes two captures of one payment take turns (the second sees CAPTURED).
    charge = one(
        conn,
        """SELECT c.id, c.cents, c.stage, o.buyer_id, o.state AS order_state,
                  bp.id AS payer, sp.id AS payee
           FROM charges c JOIN purchase_orders o ON o.id = c.order_id
           LEFT JOIN purses bp ON bp.member_id = o.buyer_id
           LEFT JOIN purses sp ON sp.member_id = o.seller_id
           WHERE c.id = %s FOR UPDATE OF c""",
        (payment_id,),
    )
    if charge is None:
        raise not_found("Payment")
    if req.user.role != "ADMIN" and str(charge["buyer_id"]) != req.user.user_id:
        raise forbidden("A buyer captures only its own payments")
    if charge["stage"] == "CAPTURED":
        raise ApiError(409, "PAYMENT_ALREADY_CAPTURED", "This payment is already captured")
    if charge["order_state"] not in PAYABLE:
        raise ApiError(400, "INVALID_ORDER_STATE", f"Cannot capture for an order in {charge['order_state']}")
    payer, payee, amount = charge["payer"], charge["payee"], int(charge["cents"])
    if payer is None or payee is None:
        raise ApiError(400, "WALLET_MISSING", "Buyer or seller has no purse")
    if not app.settings.has_bug("overdraft"):
        # Captures debiting one purse take turns here; each then reads the balance its
        # predecessor committed (READ COMMITTED takes a new snapshot per statement).
        conn.execute("SELECT id FROM purses WHERE id = %s FOR UPDATE", (payer,))
    balance_row = one(
        conn, "SELECT COALESCE(SUM(cents), 0)::bigint AS b FROM journal_lines WHERE purse_id = %s", (payer,)
    )
    balance = int(balance_row["b"]) if balance_row else 0
    if balance < amount:
        raise ApiError(
            400,
            "INSUFFICIENT_FUNDS",
            "Not enough money in the wallet",
            details={"walletId": str(payer), "balanceCents": balance, "requiredCents": amount},
        )
    app.db.race_window()
    fee = amount * app.settings.platform_fee_bps // 10_000
    prefix = f"payment_{payment_id}"
    conn.execute(
        """INSERT INTO journal_lines (purse_id, charge_id, cents, line_kind, dedupe_key) VALUES
             (%(payer)s, %(id)s, -%(amount)s::bigint, 'BUYER_DEBIT', %(p)s || '_buyer_debit'),
             (%(payee)s, %(id)s, %(amount)s::bigint - %(fee)s::bigint, 'SELLER_CREDIT',
              %(p)s || '_seller_credit'),
             (%(platform)s, %(id)s, %(fee)s::bigint, 'PLATFORM_FEE_CREDIT', %(p)s || '_platform_fee')""",
        {
            "payer": payer,
            "payee": payee,
            "platform": platform,
            "id": payment_id,
            "amount": amount,
            "fee": fee,
            "p": prefix,
        },
    )
    row = one(
        conn,
        "UPDATE charges SET stage = 'CAPTURED', captured_at = now()"
        f" WHERE id = %s RETURNING {PAYMENT_FIELDS}",
        (payment_id,),
    )
    assert row is not None
    return dict(row)
