"""The flows of seed 000's Expected Traffic table, as sequences of profile steps (default: API.md).

    orders_created        buyer creates an order (with an Idempotency-Key)
    payments_initiated    buyer initiates a wallet payment for one of those orders
    payments_captured     buyer captures an initiated payment (with an Idempotency-Key)
    agent_assignments     seller confirms a paid order and opens an assignment for an agent;
                          the agent lists its open assignments and accepts it
    deliveries_confirmed  the accepting agent picks the parcel up and delivers it
    admin_metrics         admin reads the leaderboard, one agent's metrics or the SLA summary

A flow that needs an upstream order and finds none makes it itself (`<flow>:prereq` samples).
"""

from __future__ import annotations

from locust.contrib.fasthttp import FastHttpSession

import random
import uuid
from collections.abc import Callable
from typing import Any

from locustfiles.common.actors import Actor, Cast
from locustfiles.common.client import Call, Result, default_profile, send, send_retrying
from locustfiles.common.flow_steps import FIRST_STEP
from locustfiles.common.profile import Profile, Step
from locustfiles.common.state import Order, Pipeline

SHIPPING_ZIP = "10001"
# Small orders (1 to 10 currency units) so seeded wallets last through long and capacity runs.
PRICE_RANGE_CENTS = (100, 1000)
TOP_UP_CENTS = 1_000_000


def first_requests(profile: Profile) -> dict[str, str]:
    """The request name each flow sends first, under `profile`."""
    names = profile.names()
    return {flow: names[step] for flow, step in FIRST_STEP.items()}


def order_args(seller: Actor, sku: str, cents: int) -> dict[str, Any]:
    """The create_order step's arguments: one item of `cents`, shipped to SHIPPING_ZIP."""
    return {
        "seller_id": seller.id,
        "sku": sku,
        "quantity": 1,
        "unit_price_cents": cents,
        "shipping_zip": SHIPPING_ZIP,
    }


class Flows:
    """One worker's flows over one shared HTTP session, speaking through one profile."""

    def __init__(
        self,
        session: FastHttpSession,
        cast: Cast,
        pipeline: Pipeline,
        rng: random.Random,
        *,
        retry_budget_s: float = 0.0,
        profile: Profile | None = None,
    ) -> None:
        """`retry_budget_s` > 0: keyed writes are retried within it (the load driver); 0: never."""
        self.session = session
        self.cast = cast
        self.pipeline = pipeline
        self.rng = rng
        self.retry_budget_s = retry_budget_s
        self.profile = profile = profile or default_profile()
        self.first_request = first_requests(profile)
        self.runners: dict[str, Callable[[Call], None]] = {
            "orders_created": self.orders_created,
            "payments_initiated": self.payments_initiated,
            "payments_captured": self.payments_captured,
            "agent_assignments": self.agent_assignments,
            "deliveries_confirmed": self.deliveries_confirmed,
            "admin_metrics": self.admin_metrics,
        }

    def run(self, flow: str, ts_intended: float) -> None:
        """Run one arrival of `flow`, its first request stamped with the intended send time."""
        self.runners[flow](Call(flow, ts_intended))

    def send(self, call: Call, step: Step, args: dict[str, Any] | None = None, **kwargs: Any) -> Result:
        """One step of this worker's profile."""
        return send(self.session, call, self.profile, step, args, **kwargs)

    # --- steps: each returns the order moved one stage on, or None when the service said no ---

    def create_order(self, call: Call, buyer: Actor | None = None, cents: int | None = None) -> Order | None:
        buyer = buyer or self.rng.choice(self.cast.buyers)
        seller = self.rng.choice(self.cast.sellers)
        price = cents if cents is not None else self.rng.randint(*PRICE_RANGE_CENTS)
        args = order_args(seller, f"SKU-{self.rng.randint(1, 500):04d}", price)
        step = self.profile.create_order
        r = self._keyed_write(call, step, args, str(uuid.uuid4()), auth=buyer)
        if not r.ok or r.id is None:
            return None
        total = step.read(r.body) if step.read is not None else None
        return Order(r.id, buyer, seller, int(total if total is not None else price))

    def initiate(self, call: Call, order: Order) -> Order | None:
        r = self.send(call, self.profile.initiate_payment, {"order_id": order.id}, auth=order.buyer)
        if not r.ok or r.id is None:
            return None
        order.payment_id = r.id
        return order

    def capture(self, call: Call, order: Order) -> Order | None:
        r = self.capture_once(call, order)
        if r.code == "INSUFFICIENT_FUNDS" and self.top_up(call.sub(f"{call.flow}:prereq"), order.buyer):
            # Test data ran dry, not the service: refill (recorded as prereq) and try once more.
            r = self.capture_once(call, order)
        return order if r.ok else None

    def capture_once(self, call: Call, order: Order) -> Result:
        # The key names the payment, so reconciliation can find what an unanswered capture did.
        return self._keyed_write(
            call,
            self.profile.capture,
            {"payment_id": order.payment_id or ""},
            f"capture:{order.payment_id}:{uuid.uuid4()}",
            auth=order.buyer,
            records_id=True,
        )

    def _keyed_write(self, call: Call, step: Step, args: dict[str, Any], key: str, **kwargs: Any) -> Result:
        """A write with an Idempotency-Key: retried with the same key when its outcome is unknown."""
        if self.retry_budget_s > 0:
            return send_retrying(
                self.session,
                call,
                self.profile,
                step,
                args,
                idempotency_key=key,
                budget_s=self.retry_budget_s,
                **kwargs,
            )
        return self.send(call, step, args, idempotency_key=key, **kwargs)

    def top_up(self, call: Call, buyer: Actor, cents: int = TOP_UP_CENTS) -> bool:
        r = self.send(
            call,
            self.profile.top_up,
            {"wallet_id": buyer.wallet_id or "", "amount_cents": cents},
            auth=self.cast.admins[0],
        )
        return r.ok

    def change_status(self, call: Call, order_id: str, actor: Actor, status: str, **kwargs: Any) -> Result:
        return self.send(
            call, self.profile.change_status, {"order_id": order_id, "status": status}, auth=actor, **kwargs
        )

    def open_assignment(self, call: Call, order_id: str, seller: Actor, candidates: list[str]) -> Result:
        args = {"order_id": order_id, "candidate_agent_ids": candidates}
        return self.send(call, self.profile.open_assignment, args, auth=seller)

    def assign(self, call: Call, order: Order) -> Order | None:
        seller = order.seller
        if not self.change_status(call, order.id, seller, "CONFIRMED").ok:
            return None
        agent = self.rng.choice(self.cast.agents)
        r = self.open_assignment(call, order.id, seller, [agent.agent_id or agent.id])
        if not r.ok or r.id is None:
            return None
        assignment_id = r.id
        # The agent looks at its open work first, as the app does; it accepts the one made for it.
        self.send(call, self.profile.list_assignments, auth=agent)
        r = self.send(call, self.profile.accept, {"assignment_id": assignment_id}, auth=agent)
        if not r.ok:
            return None
        order.assignment_id, order.agent = assignment_id, agent
        return order

    def deliver(self, call: Call, order: Order) -> Order | None:
        assert order.agent is not None and order.assignment_id is not None
        args = {"assignment_id": order.assignment_id}
        for step in (self.profile.pickup, self.profile.deliver):
            if not self.send(call, step, args, auth=order.agent).ok:
                return None
        return order

    # --- flows ---

    def _upstream(self, call: Call, stage: str) -> Order | None:
        """An order waiting at `stage`, or one made now by prerequisites tagged `<flow>:prereq`."""
        order = self.pipeline.take(stage)
        if order is not None:
            return order
        pre = call.sub(f"{call.flow}:prereq")
        order = self.create_order(pre)
        for step, reached in (
            (self.initiate, "initiated"),
            (self.capture, "captured"),
            (self.assign, "accepted"),
        ):
            if order is None or stage == "created":
                break
            order = step(pre, order)
            if stage == reached:
                break
        return order

    def orders_created(self, call: Call) -> None:
        order = self.create_order(call)
        if order is not None:
            self.pipeline.put("created", order)

    def payments_initiated(self, call: Call) -> None:
        order = self._upstream(call, "created")
        if order is not None and self.initiate(call, order) is not None:
            self.pipeline.put("initiated", order)

    def payments_captured(self, call: Call) -> None:
        order = self._upstream(call, "initiated")
        if order is not None and self.capture(call, order) is not None:
            self.pipeline.put("captured", order)

    def agent_assignments(self, call: Call) -> None:
        order = self._upstream(call, "captured")
        if order is not None and self.assign(call, order) is not None:
            self.pipeline.put("accepted", order)

    def deliveries_confirmed(self, call: Call) -> None:
        order = self._upstream(call, "accepted")
        if order is not None:
            self.deliver(call, order)

    def admin_metrics(self, call: Call) -> None:
        admin = self.cast.admins[0]
        which = self.rng.randrange(3)
        if which == 0:
            self.send(call, self.profile.leaderboard, auth=admin)
        elif which == 1:
            agent = self.rng.choice(self.cast.agents)
            self.send(call, self.profile.agent_metrics, {"agent_id": agent.agent_id or agent.id}, auth=admin)
        else:
            self.send(call, self.profile.sla_summary, auth=admin)
