"""The flows of seed 000's Expected Traffic table, as sequences of HTTP calls (API.md).

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
from locustfiles.common.client import Call, Result, request, request_retrying
from locustfiles.common.state import Order, Pipeline

SHIPPING_ZIP = "10001"
# Small orders (1 to 10 currency units) so seeded wallets last through long and capacity runs.
PRICE_RANGE_CENTS = (100, 1000)
TOP_UP_CENTS = 1_000_000


class Flows:
    """One worker's flows over one shared HTTP session."""

    def __init__(
        self,
        session: FastHttpSession,
        cast: Cast,
        pipeline: Pipeline,
        rng: random.Random,
        *,
        retry_budget_s: float = 0.0,
    ) -> None:
        """`retry_budget_s` > 0: keyed writes are retried within it (the load driver); 0: never."""
        self.session = session
        self.cast = cast
        self.pipeline = pipeline
        self.rng = rng
        self.retry_budget_s = retry_budget_s
        self.runners: dict[str, Callable[[Call], None]] = {
            "orders_created": self.orders_created,
            "payments_initiated": self.payments_initiated,
            "payments_captured": self.payments_captured,
            "agent_assignments": self.agent_assignments,
            "deliveries_confirmed": self.deliveries_confirmed,
            "admin_metrics": self.admin_metrics,
        }

    # First request of each flow, for naming a DROPPED arrival like the request it would have sent.
    FIRST_REQUEST = {
        "orders_created": "POST /api/orders",
        "payments_initiated": "POST /api/payments",
        "payments_captured": "POST /api/payments/{id}/capture",
        "agent_assignments": "PATCH /api/orders/{id}",
        "deliveries_confirmed": "POST /api/shipping/assignments/{id}/pickup",
        "admin_metrics": "GET /api/admin/agents/leaderboard",
    }

    def run(self, flow: str, ts_intended: float) -> None:
        """Run one arrival of `flow`, its first request stamped with the intended send time."""
        self.runners[flow](Call(flow, ts_intended))

    # --- steps: each returns the order moved one stage on, or None when the service said no ---

    def create_order(self, call: Call, buyer: Actor | None = None, cents: int | None = None) -> Order | None:
        buyer = buyer or self.rng.choice(self.cast.buyers)
        seller = self.rng.choice(self.cast.sellers)
        price = cents if cents is not None else self.rng.randint(*PRICE_RANGE_CENTS)
        body = {
            "sellerId": seller.id,
            "items": [{"sku": f"SKU-{self.rng.randint(1, 500):04d}", "quantity": 1, "unitPriceCents": price}],
            "shippingZip": SHIPPING_ZIP,
        }
        r = self._keyed_write(call, "POST", "/api/orders", str(uuid.uuid4()), auth=buyer, json_body=body)
        if not r.ok or r.id is None:
            return None
        total = r.body.get("totalCents", price) if isinstance(r.body, dict) else price
        return Order(r.id, buyer, seller, int(total))

    def initiate(self, call: Call, order: Order) -> Order | None:
        r = request(
            self.session,
            call,
            "POST",
            "/api/payments",
            auth=order.buyer,
            json_body={"orderId": order.id, "method": "WALLET"},
        )
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
            "POST",
            "/api/payments/{id}/capture",
            f"capture:{order.payment_id}:{uuid.uuid4()}",
            params={"id": order.payment_id or ""},
            auth=order.buyer,
            records_id=True,
        )

    def _keyed_write(self, call: Call, method: str, template: str, key: str, **kwargs: Any) -> Result:
        """A write with an Idempotency-Key: retried with the same key when its outcome is unknown."""
        if self.retry_budget_s > 0:
            return request_retrying(
                self.session,
                call,
                method,
                template,
                idempotency_key=key,
                budget_s=self.retry_budget_s,
                **kwargs,
            )
        return request(self.session, call, method, template, idempotency_key=key, **kwargs)

    def top_up(self, call: Call, buyer: Actor, cents: int = TOP_UP_CENTS) -> bool:
        admin = self.cast.admins[0]
        r = request(
            self.session,
            call,
            "POST",
            "/api/wallets/{id}/top-up",
            params={"id": buyer.wallet_id or ""},
            auth=admin,
            json_body={"amountCents": cents},
        )
        return r.ok

    def assign(self, call: Call, order: Order) -> Order | None:
        seller = order.seller
        r = request(
            self.session,
            call,
            "PATCH",
            "/api/orders/{id}",
            params={"id": order.id},
            auth=seller,
            json_body={"status": "CONFIRMED"},
        )
        if not r.ok:
            return None
        agent = self.rng.choice(self.cast.agents)
        r = request(
            self.session,
            call,
            "POST",
            "/api/shipping/assignments",
            auth=seller,
            json_body={"orderId": order.id, "candidateAgentIds": [agent.agent_id]},
        )
        if not r.ok or r.id is None:
            return None
        assignment_id = r.id
        # The agent looks at its open work first, as the app does; it accepts the one made for it.
        request(self.session, call, "GET", "/api/shipping/assignments", query="status=OPEN", auth=agent)
        r = request(
            self.session,
            call,
            "POST",
            "/api/shipping/assignments/{id}/accept",
            params={"id": assignment_id},
            auth=agent,
        )
        if not r.ok:
            return None
        order.assignment_id, order.agent = assignment_id, agent
        return order

    def deliver(self, call: Call, order: Order) -> Order | None:
        assert order.agent is not None and order.assignment_id is not None
        agent = order.agent
        for step in ("pickup", "deliver"):
            r = request(
                self.session,
                call,
                "POST",
                f"/api/shipping/assignments/{{id}}/{step}",
                params={"id": order.assignment_id},
                auth=agent,
            )
            if not r.ok:
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
            request(self.session, call, "GET", "/api/admin/agents/leaderboard", auth=admin)
        elif which == 1:
            agent = self.rng.choice(self.cast.agents)
            request(
                self.session,
                call,
                "GET",
                "/api/admin/agents/metrics/{agentId}",
                params={"agentId": agent.agent_id or agent.id},
                auth=admin,
            )
        else:
            request(self.session, call, "GET", "/api/admin/agents/sla-summary", auth=admin)
