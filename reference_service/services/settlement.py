"""What money does when an order changes status (docs/business-rules.md).

Called inside the status change's own transaction, after the order row was updated (so the order
is row-locked until COMMIT): either the status change and its money move commit together, or
neither does.

- to SHIPPING or DELIVERED: the order's payment must be CAPTURED (400 ORDER_NOT_PAID otherwise);
- to CANCELLED: a CAPTURED payment is refunded exactly once (three entries mirroring the capture's,
  unique keys `payment_{id}_refund_*`), an INITIATED one is voided (it can never be captured
  afterwards), and the order's open or accepted assignments are cancelled with it.
"""

from __future__ import annotations

from reference_service.db import Session
from reference_service.errors import ApiError, bad_request
from reference_service.logs import JsonLogger
from reference_service.repositories import assignments as assignments_repo
from reference_service.repositories import payments as payments_repo
from reference_service.states import OrderStatus

NEEDS_PAYMENT = frozenset({OrderStatus.SHIPPING, OrderStatus.DELIVERED})


def not_paid(order_id: str, target: str, lifecycle: str | None) -> ApiError:
    return bad_request(
        "ORDER_NOT_PAID",
        f"An order ships only once its payment is captured (payment: {lifecycle or 'none'})",
        {"orderId": order_id, "to": target, "paymentLifecycle": lifecycle},
    )


async def settle(
    s: Session, order_id: str, target: str, log: JsonLogger | None = None, *, keep_money: bool = False
) -> None:
    """`keep_money` is the defect `cancel_keeps_money`: the code before issue 11, a cancel that
    neither refunds nor voids the payment."""
    if target in NEEDS_PAYMENT:
        payment = await payments_repo.of_order_locked(s, order_id, share=True)
        lifecycle = None if payment is None else str(payment["lifecycle"])
        if lifecycle != "CAPTURED":
            raise not_paid(order_id, target, lifecycle)
        return
    if target != OrderStatus.CANCELLED or keep_money:
        return
    payment = await payments_repo.of_order_locked(s, order_id, share=False)
    if payment is not None and payment["lifecycle"] == "CAPTURED":
        if await payments_repo.record_refund(s, str(payment["id"])) != 1:
            if log is not None:
                log.error("ledger_invariant_violated", paymentId=str(payment["id"]), reason="refund")
            raise ApiError(500, "LEDGER_INVARIANT_VIOLATED", "Refund did not reverse exactly three entries")
        if log is not None:
            log.info(
                "payment_refunded",
                paymentId=str(payment["id"]),
                orderId=order_id,
                amount=int(payment["amount_cents"]),
            )
    elif payment is not None and payment["lifecycle"] == "INITIATED":
        await payments_repo.void(s, str(payment["id"]))
    await assignments_repo.cancel_live_for_order(s, order_id)
