"""Per-worker queues of orders by how far they got, so downstream flows use what upstream made.

`orders_created` fills `created`; `payments_initiated` takes from it and fills `initiated`; and so
on down to `accepted`, which `deliveries_confirmed` drains. Seed 000's rates are not a balanced
pipeline (150 assignments/hour at peak, 120 captures): a flow that finds its queue empty makes its
own prerequisites and tags those samples `<flow>:prereq`, so reports can count each flow at its
documented rate and still see the extra work. Queues are per worker process: no cross-process
state, nothing to lock (gevent greenlets switch only on I/O).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from locustfiles.common.actors import Actor

STAGES = ("created", "initiated", "captured", "accepted")
# Bound each queue: a run whose downstream flows fail must not grow memory without limit; the
# oldest entries go first (they are the likeliest to be stale).
MAX_QUEUED = 5000


@dataclass
class Order:
    """An order this worker made, and what has been done to it so far."""

    id: str
    buyer: Actor
    seller: Actor
    total_cents: int
    payment_id: str | None = None
    assignment_id: str | None = None
    agent: Actor | None = None


class Pipeline:
    """FIFO queues of orders per stage."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[Order]] = {stage: deque(maxlen=MAX_QUEUED) for stage in STAGES}

    def put(self, stage: str, order: Order) -> None:
        self.queues[stage].append(order)

    def take(self, stage: str) -> Order | None:
        """The oldest order waiting at `stage`, or None."""
        queue = self.queues[stage]
        return queue.popleft() if queue else None

    def sizes(self) -> dict[str, int]:
        return {stage: len(q) for stage, q in self.queues.items()}
