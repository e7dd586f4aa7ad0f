"""Wallets (purses): balance read, admin top-up as a balanced pair from the EXTERNAL purse."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tests.foreign_backend.db import Conn, one
from tests.foreign_backend.errors import ApiError, forbidden, not_found
from tests.foreign_backend.web import Reply, Request, strict_int

if TYPE_CHECKING:
    from tests.foreign_backend.app import App


def balance(conn: Conn, purse_id: str) -> int:
    """The purse's balance: the sum of its journal lines."""
    row = one(
        conn,
        "SELECT COALESCE(SUM(cents), 0)::bigint AS b FROM journal_lines WHERE purse_id = %s",
        (purse_id,),
    )
    return int(row["b"]) if row else 0


def get(app: App, req: Request) -> Reply:
    purse_id = req.uuid_param("id")
    with app.db.connection() as conn:
        purse = one(conn, "SELECT id, member_id, kind FROM purses WHERE id = %s", (purse_id,))
        if purse is None:
            raise not_found("Wallet")
        if req.user.role != "ADMIN" and str(purse["member_id"]) != req.user.user_id:
            raise forbidden("This wallet belongs to someone else")
        cents = balance(conn, purse_id)
    return Reply(
        200, {"id": purse["id"], "ownerId": purse["member_id"], "kind": purse["kind"], "balanceCents": cents}
    )


def top_up(app: App, req: Request) -> Reply:
    purse_id = req.uuid_param("id")
    amount = strict_int(req.json(), "amountCents", minimum=1)
    top_up_id = str(uuid.uuid4())
    with app.db.transaction() as conn:
        purse = one(conn, "SELECT id FROM purses WHERE id = %s AND kind = 'MEMBER'", (purse_id,))
        if purse is None:
            raise not_found("Wallet")
        external = one(conn, "SELECT id FROM purses WHERE kind = 'EXTERNAL'")
        if external is None:
            raise ApiError(500, "EXTERNAL_PURSE_MISSING", "The external funding purse is not seeded")
        conn.execute(
            """INSERT INTO journal_lines (purse_id, cents, line_kind, dedupe_key) VALUES
                 (%(purse)s, %(amount)s, 'TOP_UP_CREDIT', 'topup_' || %(t)s || '_credit'),
                 (%(external)s, -%(amount)s::bigint, 'TOP_UP_DEBIT', 'topup_' || %(t)s || '_debit')""",
            {"purse": purse_id, "external": external["id"], "amount": amount, "t": top_up_id},
        )
        cents = balance(conn, purse_id)
    return Reply(201, {"id": top_up_id, "walletId": purse_id, "amountCents": amount, "balanceCents": cents})
