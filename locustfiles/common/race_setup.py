"""The contested resource of each race kind, made over HTTP by the coordinator before each trial,
and the one request each participant fires at it.

A resource is plain JSON (it travels through the master to every worker). Participant i acts as
the same seeded user on every worker, since every worker reads the same fixtures file.
"""

from __future__ import annotations

from gevent.pool import Pool
from locust.contrib.fasthttp import FastHttpSession

import random
import uuid
from dataclasses import dataclass
from typing import Any

from locustfiles.common import race_setup_orders
from locustfiles.common.actors import Actor, Cast
from locustfiles.common.client import Call, Result, request
from locustfiles.common.flows import SHIPPING_ZIP, Flows
from locustfiles.common.plan import Race
from locustfiles.common.state import Pipeline

STATUS_PATH = {"PENDING": [], "CONFIRMED": ["CONFIRMED"], "SHIPPING": ["CONFIRMED", "SHIPPING"]}
SETUP_CONCURRENCY = 20


@dataclass
class Resource:
    """One trial's contested resource."""

    resource_id: str
    expected_winners: int
    data: dict[str, Any]


class SetupFailed(RuntimeError):
    """The service refused to make the resource; the trial cannot run."""


def _need(result: Result | None, what: str) -> Result:
    if result is None or not result.ok:
        detail = f"{result.status} {result.code}" if result is not None else "no result"
        raise SetupFailed(f"race setup: {what} failed: {detail}")
    return result


class Setup:
    """Makes resources with the `race:setup` flow tag."""

    def __init__(self, session: FastHttpSession, cast: Cast, race: Race) -> None:
        self.session = session
        self.cast = cast
        self.race = race
        self.flows = Flows(session, cast, Pipeline(), random.Random(f"race:{race.kind}"))

    def make(self, trial: int) -> Resource:
        kind = self.race.kind
        if kind == "assignment_accept":
            return self._assignment(trial)
        if kind == "status_change":
            return self._status(trial)
        if kind == "wallet_capture":
            return self._wallet(trial)
        if kind == "idempotent_create":
            return self._idempotent(trial)
        if kind in race_setup_orders.KINDS:
            return race_setup_orders.make(self, kind)
        raise ValueError(f"unknown race kind {kind!r}")

    def _call(self) -> Call:
        return Call("race:setup")

    def _paid_confirmed_order(self) -> tuple[str, Actor]:
        call = self._call()
        order = self.flows.create_order(call)
        if order is None:
            raise SetupFailed("race setup: create order failed")
        if self.flows.initiate(call, order) is None or self.flows.capture(call, order) is None:
            raise SetupFailed("race setup: paying the order failed")
        return order.id, order.seller

    def _assignment(self, trial: int) -> Resource:
        order_id, seller = self._paid_confirmed_order()
        call = self._call()
        _need(
            request(
                self.session,
                call,
                "PATCH",
                "/api/orders/{id}",
                params={"id": order_id},
                auth=seller,
                json_body={"status": "CONFIRMED"},
            ),
            "confirm order",
        )
        agents = [agent_for(self.cast, i) for i in range(self.race.participants)]
        candidates = sorted({a.agent_id or a.id for a in agents})
        r = _need(
            request(
                self.session,
                call,
                "POST",
                "/api/shipping/assignments",
                auth=seller,
                json_body={"orderId": order_id, "candidateAgentIds": candidates},
            ),
            "create assignment",
        )
        assert r.id is not None
        return Resource(r.id, 1, {"assignment_id": r.id})

    def _status(self, trial: int) -> Resource:
        call = self._call()
        order = self.flows.create_order(call)
        if order is None:
            raise SetupFailed("race setup: create order failed")
        # Only a paid order ships (docs/business-rules.md): paid, SHIPPING is a real contender.
        if self.flows.initiate(call, order) is None or self.flows.capture(call, order) is None:
            raise SetupFailed("race setup: paying the order failed")
        seller = order.seller
        for status in STATUS_PATH.get(str(self.race.params.get("from_status", "CONFIRMED")), []):
            _need(
                request(
                    self.session,
                    call,
                    "PATCH",
                    "/api/orders/{id}",
                    params={"id": order.id},
                    auth=seller,
                    json_body={"status": status},
                ),
                f"move order to {status}",
            )
        targets = list(self.race.params.get("targets", ["SHIPPING", "CANCELLED"]))
        return Resource(order.id, 1, {"order_id": order.id, "actor_id": order.seller.id, "targets": targets})

    def _wallet(self, trial: int) -> Resource:
        """Bring a buyer's wallet to exactly `affordable x price`, then initiate N payments of `price`."""
        call = self._call()
        n, price = self.race.participants, int(self.race.params.get("price_cents", 1000))
        affordable = int(self.race.params.get("affordable", n // 3))
        buyer = self.cast.buyers[-1]  # one buyer the load flows of other scenarios rarely pick
        target = affordable * price
        balance = self._balance(call, buyer)
        if balance > target:
            # Spend the surplus with one order of exactly that amount.
            order = self.flows.create_order(call, buyer=buyer, cents=balance - target)
            if order is None or self.flows.initiate(call, order) is None:
                raise SetupFailed("race setup: draining the wallet failed")
            _need(self.flows.capture_once(call, order), "drain capture")
        elif balance < target and not self.flows.top_up(call, buyer, target - balance):
            raise SetupFailed("race setup: top-up failed")
        balance = self._balance(call, buyer)
        if balance != target:
            raise SetupFailed(f"race setup: wallet holds {balance} cents, wanted {target}")
        payments: list[str | None] = [None] * n

        def prepare(i: int) -> None:
            order = self.flows.create_order(call, buyer=buyer, cents=price)
            if order is not None and self.flows.initiate(call, order) is not None:
                payments[i] = order.payment_id

        pool = Pool(SETUP_CONCURRENCY)
        pool.map(prepare, range(n))
        if any(p is None for p in payments):
            raise SetupFailed("race setup: initiating the payments failed")
        return Resource(
            buyer.wallet_id or buyer.id,
            affordable,
            {"buyer_id": buyer.id, "payment_ids": payments, "balance_cents": balance, "price_cents": price},
        )

    def _balance(self, call: Call, buyer: Actor) -> int:
        r = _need(
            request(
                self.session,
                call,
                "GET",
                "/api/wallets/{id}",
                params={"id": buyer.wallet_id or ""},
                auth=buyer,
            ),
            "read wallet",
        )
        return int(r.body["balanceCents"])

    def _idempotent(self, trial: int) -> Resource:
        buyer = self.cast.buyers[trial % len(self.cast.buyers)]
        seller = self.cast.sellers[trial % len(self.cast.sellers)]
        key = str(uuid.uuid4())
        body = {
            "sellerId": seller.id,
            "items": [{"sku": f"RACE-{trial:04d}", "quantity": 1, "unitPriceCents": 500}],
            "shippingZip": SHIPPING_ZIP,
        }
        return Resource(key, 1, {"buyer_id": buyer.id, "body": body, "key": key})


def agent_for(cast: Cast, i: int) -> Actor:
    """Participant i of an acceptance race: agent i (wrapping if fewer agents were seeded)."""
    return cast.agents[i % len(cast.agents)]


def fire(session: FastHttpSession, cast: Cast, kind: str, data: dict[str, Any], i: int) -> tuple[str, Result]:
    """Participant i's one request at the resource; returns (actor label, result)."""
    if kind in race_setup_orders.KINDS:
        return race_setup_orders.fire(session, cast, kind, data, i)
    call = Call("race")
    if kind == "assignment_accept":
        agent = agent_for(cast, i)
        r = request(
            session,
            call,
            "POST",
            "/api/shipping/assignments/{id}/accept",
            params={"id": data["assignment_id"]},
            auth=agent,
            expected=(409,),
        )
        return f"{agent.email}#{i}", r
    if kind == "status_change":
        actor = cast.by_id(data["actor_id"])
        target = data["targets"][i % len(data["targets"])]
        r = request(
            session,
            call,
            "PATCH",
            "/api/orders/{id}",
            params={"id": data["order_id"]},
            auth=actor,
            json_body={"status": target},
            expected=(400, 409),
        )
        return f"{target}#{i}", r
    if kind == "wallet_capture":
        buyer = cast.by_id(data["buyer_id"])
        r = request(
            session,
            call,
            "POST",
            "/api/payments/{id}/capture",
            params={"id": data["payment_ids"][i]},
            auth=buyer,
            idempotency_key=str(uuid.uuid4()),
            expected=(400,),
        )
        return f"capture#{i}", r
    if kind == "idempotent_create":
        buyer = cast.by_id(data["buyer_id"])
        r = request(
            session,
            call,
            "POST",
            "/api/orders",
            auth=buyer,
            json_body=data["body"],
            idempotency_key=data["key"],
            expected=(409,),
        )
        return f"copy#{i}", r
    raise ValueError(f"unknown race kind {kind!r}")
