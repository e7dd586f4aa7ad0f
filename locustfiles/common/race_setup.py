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
from locustfiles.common.client import Call, Result, default_profile, send
from locustfiles.common.flows import Flows, order_args
from locustfiles.common.plan import Race
from locustfiles.common.profile import Profile
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

    def __init__(
        self, session: FastHttpSession, cast: Cast, race: Race, profile: Profile | None = None
    ) -> None:
        self.session = session
        self.cast = cast
        self.race = race
        self.flows = Flows(session, cast, Pipeline(), random.Random(f"race:{race.kind}"), profile=profile)
        self.profile = self.flows.profile

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
        _need(self.flows.change_status(call, order_id, seller, "CONFIRMED"), "confirm order")
        agents = [agent_for(self.cast, i) for i in range(self.race.participants)]
        candidates = sorted({a.agent_id or a.id for a in agents})
        r = _need(self.flows.open_assignment(call, order_id, seller, candidates), "create assignment")
        if r.id is None:
            raise SetupFailed("race setup: create assignment answered no id")
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
            _need(self.flows.change_status(call, order.id, seller, status), f"move order to {status}")
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
        step = self.profile.read_wallet
        r = _need(
            self.flows.send(call, step, {"wallet_id": buyer.wallet_id or ""}, auth=buyer), "read wallet"
        )
        balance = step.read(r.body) if step.read is not None else None
        if balance is None:
            raise SetupFailed("race setup: read wallet answered no balance")
        return int(balance)

    def _idempotent(self, trial: int) -> Resource:
        buyer = self.cast.buyers[trial % len(self.cast.buyers)]
        seller = self.cast.sellers[trial % len(self.cast.sellers)]
        key = str(uuid.uuid4())
        args = order_args(seller, f"RACE-{trial:04d}", 500)
        return Resource(key, 1, {"buyer_id": buyer.id, "args": args, "key": key})


def agent_for(cast: Cast, i: int) -> Actor:
    """Participant i of an acceptance race: agent i (wrapping if fewer agents were seeded)."""
    return cast.agents[i % len(cast.agents)]


def fire(
    session: FastHttpSession,
    cast: Cast,
    kind: str,
    data: dict[str, Any],
    i: int,
    profile: Profile | None = None,
) -> tuple[str, Result]:
    """Participant i's one request at the resource; returns (actor label, result).

    The step's `refusals` (a lost accept, a refused transition, a declined capture) are answers the
    race expects, not errors, in Locust's stats; the oracle judges them from races.jsonl.
    """
    profile = profile or default_profile()
    if kind in race_setup_orders.KINDS:
        return race_setup_orders.fire(session, cast, kind, data, i, profile)
    call = Call("race")
    if kind == "assignment_accept":
        agent = agent_for(cast, i)
        step = profile.accept
        r = send(session, call, profile, step, data, auth=agent, expected=step.refusals)
        return f"{agent.email}#{i}", r
    if kind == "status_change":
        actor = cast.by_id(data["actor_id"])
        target = data["targets"][i % len(data["targets"])]
        step = profile.change_status
        args = {"order_id": data["order_id"], "status": target}
        r = send(session, call, profile, step, args, auth=actor, expected=step.refusals)
        return f"{target}#{i}", r
    if kind == "wallet_capture":
        buyer = cast.by_id(data["buyer_id"])
        step = profile.capture
        r = send(
            session,
            call,
            profile,
            step,
            {"payment_id": data["payment_ids"][i]},
            auth=buyer,
            idempotency_key=str(uuid.uuid4()),
            expected=step.refusals,
        )
        return f"capture#{i}", r
    if kind == "idempotent_create":
        buyer = cast.by_id(data["buyer_id"])
        step = profile.create_order
        r = send(
            session,
            call,
            profile,
            step,
            data["args"],
            auth=buyer,
            idempotency_key=data["key"],
            expected=step.refusals,
        )
        return f"copy#{i}", r
    raise ValueError(f"unknown race kind {kind!r}")
