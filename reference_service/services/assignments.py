"""Shipping assignments: open, accept (the `assignment_lock` safeguard), pick up, deliver."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import errors as pgerr
from psycopg.rows import DictRow

from reference_service.auth import Principal
from reference_service.db import Database, Session
from reference_service.errors import ApiError, bad_request, conflict, forbidden, not_found
from reference_service.repositories import assignments as repo
from reference_service.repositories import orders as orders_repo
from reference_service.services.settlement import settle
from reference_service.states import can_transition

ASSIGNABLE_ORDER_STATUSES = frozenset({"PENDING", "CONFIRMED"})


async def open_assignment(
    db: Database, s: Session, principal: Principal, order_id: str, candidates: Sequence[str] | None
) -> DictRow:
    """An OPEN assignment, unless the order already has a live one (409 ASSIGNMENT_EXISTS).

    Safeguard on (`assignment_lock`): openers of one order take turns on its row (FOR UPDATE), so
    the look-up for a live assignment and the insert are one step. Off: the same look-up without
    the lock, check-then-insert, which lets two concurrent openers both insert.
    """
    guarded = db.settings.safeguard_on("assignment_lock")
    try:
        async with s.transaction():
            order = await (orders_repo.lock(s, order_id) if guarded else orders_repo.get_summary(s, order_id))
            if order is None:
                raise not_found("Order")
            if principal.role.value == "SELLER" and str(order["seller_id"]) != principal.user_id:
                raise forbidden("A seller opens assignments only for its own orders")
            if order["status"] not in ASSIGNABLE_ORDER_STATUSES:
                raise bad_request("INVALID_ORDER_STATE", f"Cannot ship an order in status {order['status']}")
            live = await repo.live_for_order(s, order_id)
            if live is not None:
                raise conflict(
                    "ASSIGNMENT_EXISTS",
                    "This order already has a live assignment",
                    {"assignmentId": str(live["id"]), "status": live["status"]},
                )
            await s.race_window()
            row = await repo.create(s, order_id, candidates)
    except pgerr.ForeignKeyViolation:
        raise bad_request("UNKNOWN_AGENT", "A candidate agent does not exist") from None
    if row is None:
        raise not_found("Order")
    return row


def _taken(db: Database, assignment_id: str, agent_id: str) -> ApiError:
    db.log.warn("shipping_assignment_conflict", assignmentId=assignment_id, agentId=agent_id, reason="TAKEN")
    return conflict("ASSIGNMENT_TAKEN", "This assignment was already accepted")


def _check_candidate(row: DictRow, agent_id: str) -> None:
    candidates = row["candidateAgentIds"]
    if candidates is not None and agent_id not in {str(c) for c in candidates}:
        raise forbidden("This assignment is offered to other agents")


async def accept(db: Database, s: Session, principal: Principal, assignment_id: str) -> DictRow:
    """Seed 001: FOR UPDATE NOWAIT in a transaction (55P03 -> 409 ASSIGNMENT_LOCKED) and a
    conditional update; with the safeguard off, seed 000's BEFORE code (plain read, check,
    unconditional update)."""
    agent_id = principal.agent_id
    if agent_id is None:
        raise forbidden("Only delivery agents accept assignments")
    if not db.settings.safeguard_on("assignment_lock"):
        row = await repo.get(s, assignment_id)
        if row is None:
            raise not_found("Assignment")
        _check_candidate(row, agent_id)
        if row["agentId"] is not None or row["status"] != "OPEN":
            raise _taken(db, assignment_id, agent_id)
        await s.race_window()
        updated = await repo.mark_accepted(s, assignment_id, agent_id, only_if_open=False)
    else:
        try:
            async with s.transaction():
                row = await repo.get(s, assignment_id, lock="NOWAIT")
                if row is None:
                    raise not_found("Assignment")
                _check_candidate(row, agent_id)
                if row["agentId"] is not None or row["status"] != "OPEN":
                    raise _taken(db, assignment_id, agent_id)
                await s.race_window()
                updated = await repo.mark_accepted(s, assignment_id, agent_id, only_if_open=True)
                if updated is None:
                    raise _taken(db, assignment_id, agent_id)
        except pgerr.LockNotAvailable:
            db.log.warn(
                "shipping_assignment_conflict", assignmentId=assignment_id, agentId=agent_id, reason="LOCKED"
            )
            raise conflict(
                "ASSIGNMENT_LOCKED", "This assignment is being processed by another request"
            ) from None
    if updated is None:
        raise not_found("Assignment")
    db.log.info("shipping_assignment_accepted", assignmentId=assignment_id, agentId=agent_id)
    return updated


async def advance(
    s: Session, principal: Principal, assignment_id: str, *, target: str, order_target: str
) -> DictRow:
    """Pickup (ACCEPTED -> PICKED_UP, order -> SHIPPING) or delivery (PICKED_UP -> DELIVERED,
    order -> DELIVERED), by the accepting agent, assignment and order in one transaction."""
    current = "ACCEPTED" if target == "PICKED_UP" else "PICKED_UP"
    async with s.transaction():
        row = await repo.get(s, assignment_id)
        if row is None:
            raise not_found("Assignment")
        if principal.agent_id is None or str(row["agentId"]) != principal.agent_id:
            raise forbidden("Only the accepting agent may do this")
        if row["status"] != current:
            raise bad_request(
                "INVALID_ASSIGNMENT_STATE", f"Assignment is {row['status']}, expected {current}"
            )
        order = await orders_repo.get_summary(s, str(row["orderId"]))
        if order is None:
            raise not_found("Order")
        if not can_transition(order["status"], order_target):
            raise bad_request(
                "INVALID_STATUS_TRANSITION",
                f"Cannot move an order from {order['status']} to {order_target}",
                {"from": order["status"], "to": order_target},
            )
        updated = await repo.advance(s, assignment_id, principal.agent_id, current, target)
        moved = await orders_repo.set_status_if(s, str(row["orderId"]), order["status"], order_target)
        if updated is None or moved is None:
            raise conflict("ASSIGNMENT_CONFLICT", "The assignment or its order changed meanwhile; retry")
        await settle(s, str(row["orderId"]), order_target)  # nothing is shipped or delivered unpaid
    return updated
