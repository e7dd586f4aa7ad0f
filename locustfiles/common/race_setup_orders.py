"""The races of docs/business-rules.md: their contested resources and each participant's request.

Registered with race_setup.Setup.make / race_setup.fire through `KINDS` (one hook each), so the
order races live apart from the original four. One winner per trial for every kind:

    confirm_cancel   seed 000 scenario 4: the seller confirms (even i) while the buyer cancels
                     (odd i) a paid PENDING order. A confirm that lands first is legal (CONFIRMED
                     -> CANCELLED follows), so a win is a cancel: exactly one (order_status_lock);
                     a confirm written over a cancel breaks the history probes.
    payment_capture  N captures of one payment, each with its own Idempotency-Key; one captures,
                     the others 409 PAYMENT_ALREADY_CAPTURED (defect capture_unkeyed breaks it).
    cancel_capture   captures (odd i) against cancels (even i) of an order with an initiated
                     payment; a win is a cancel, exactly one. A capture may land before it and is
                     then refunded: the money is judged by cancelled_order_payment_nets_zero
                     (defect cancel_keeps_money breaks it).
    assignment_open  the seller (even i) and an admin (odd i) open an assignment for one paid,
                     confirmed order; one opens it, the others 409 ASSIGNMENT_EXISTS
                     (assignment_lock).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from locustfiles.common.actors import Cast
from locustfiles.common.client import Call, Result, send
from locustfiles.common.profile import Profile

if TYPE_CHECKING:
    from locust.contrib.fasthttp import FastHttpSession

    from locustfiles.common.race_setup import Resource, Setup

KINDS = frozenset({"confirm_cancel", "payment_capture", "cancel_capture", "assignment_open"})


def make(setup: Setup, kind: str) -> Resource:
    """The trial's resource: an order in the state the race starts from."""
    from locustfiles.common.race_setup import Resource, SetupFailed, _need

    call = Call("race:setup")
    order = setup.flows.create_order(call)
    if order is None or setup.flows.initiate(call, order) is None:
        raise SetupFailed("race setup: create and initiate order failed")
    data: dict[str, Any] = {
        "order_id": order.id,
        "payment_id": order.payment_id,
        "buyer_id": order.buyer.id,
        "seller_id": order.seller.id,
    }
    if kind in ("confirm_cancel", "assignment_open") and setup.flows.capture(call, order) is None:
        raise SetupFailed("race setup: capturing the payment failed")
    if kind == "assignment_open":
        _need(setup.flows.change_status(call, order.id, order.seller, "CONFIRMED"), "confirm order")
        data["admin_id"] = setup.cast.admins[0].id
        data["candidate_agent_ids"] = sorted({a.agent_id or a.id for a in setup.cast.agents})
    resource = order.payment_id if kind == "payment_capture" else order.id
    return Resource(str(resource), 1, data)


def fire(
    session: FastHttpSession, cast: Cast, kind: str, data: Mapping[str, Any], i: int, profile: Profile
) -> tuple[str, Result]:
    """Participant i's one request, through the target profile's steps (docs/profiles.md)."""
    call = Call("race")
    buyer, seller = cast.by_id(data["buyer_id"]), cast.by_id(data["seller_id"])
    status = profile.change_status
    if kind == "confirm_cancel":
        actor, target, label = (
            (seller, "CONFIRMED", "confirm") if i % 2 == 0 else (buyer, "CANCELLED", "cancel")
        )
        args = {"order_id": data["order_id"], "status": target}
        return f"{label}#{i}", send(
            session, call, profile, status, args, auth=actor, expected=status.refusals
        )
    if kind == "payment_capture" or (kind == "cancel_capture" and i % 2 == 1):
        step = profile.capture
        r = send(
            session,
            call,
            profile,
            step,
            {"payment_id": data["payment_id"]},
            auth=buyer,
            idempotency_key=str(uuid.uuid4()),
            expected=step.refusals,
        )
        return f"capture#{i}", r
    if kind == "cancel_capture":
        args = {"order_id": data["order_id"], "status": "CANCELLED"}
        return f"cancel#{i}", send(session, call, profile, status, args, auth=buyer, expected=status.refusals)
    if kind == "assignment_open":
        opener = seller if i % 2 == 0 else cast.by_id(data["admin_id"])
        step = profile.open_assignment
        args = {"order_id": data["order_id"], "candidate_agent_ids": data["candidate_agent_ids"]}
        return f"open#{i}", send(session, call, profile, step, args, auth=opener, expected=step.refusals)
    raise ValueError(f"unknown race kind {kind!r}")


CANCEL_WINS = frozenset({"confirm_cancel", "cancel_capture"})


def counts_as_win(kind: str, participant: Mapping[str, Any]) -> bool:
    """In CANCEL_WINS kinds only a cancel is a win: a confirm or capture that lands before it is
    legal (then cancelled, refunded), not a rival."""
    return kind not in CANCEL_WINS or str(participant.get("actor", "")).startswith("cancel")


def contenders(kind: str, participants: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [p for p in participants if counts_as_win(kind, p)]
