"""Deliberate bugs (`DEFECTS`), for proving the gate's checks can fail; never in a real run.

`ack_before_commit` and `slow_pickup` live here; `no_reconnect` is in `db.Database._give_up`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from reference_service.db import Database, Session
from reference_service.responses import json_response

# How long an acknowledged order stays uncommitted: a database restart inside it loses the order.
ACK_BEFORE_COMMIT_DELAY_S = 0.5
# slow_pickup: every SLOW_EVERY-th pickup takes SLOW_EXTRA_S longer, so the endpoint's true P95 is
# over the 500 ms limit; a low-volume endpoint (80/hour at peak), which only a sized run judges.
SLOW_EXTRA_S = 0.8
SLOW_EVERY = 5
_pickups = itertools.count(1)


async def slow_pickup() -> None:
    """One pickup in five (the 5th, 10th, ...) waits SLOW_EXTRA_S before it runs; no connection is held."""
    if next(_pickups) % SLOW_EVERY == 0:
        await asyncio.sleep(SLOW_EXTRA_S)


async def ack_before_commit(
    db: Database, handler: Callable[[Session], Awaitable[tuple[int, Any]]]
) -> Response:
    """Run `handler` in a transaction and answer its response *before* the COMMIT.

    The commit follows ACK_BEFORE_COMMIT_DELAY_S later in a background task whose failure is only
    logged (`deferred_commit_failed`): the client holds a 201 for an order that may never exist.
    The Idempotency-Key protocol is bypassed (the key is still stored on the order).
    """
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[tuple[int, Any]] = loop.create_future()

    async def work() -> None:
        try:
            async with db.session() as s, s.transaction():
                result = await handler(s)
                answered.set_result(result)
                await asyncio.sleep(ACK_BEFORE_COMMIT_DELAY_S)
        except BaseException as exc:
            if not answered.done():
                answered.set_exception(exc)
            else:
                db.log.error(
                    "deferred_commit_failed", defect="ack_before_commit", error=str(exc) or type(exc).__name__
                )
            if isinstance(exc, asyncio.CancelledError):
                raise

    db._keep(loop.create_task(work()))
    status, body = await answered
    return json_response(body, status)
