"""Payment initiation and capture (with the `wallet_isolation` safeguard).

Safeguard on (seed 000 + seed 003): SERIALIZABLE transaction, the payer's wallet row locked with
SELECT ... FOR UPDATE, balance = sum of its ledger entries, then three balanced entries; SQLSTATE
40001/40P01 retried with jittered exponential backoff, capped. Off: seed 000's BEFORE shape at
READ COMMITTED with no wallet lock (read balance, check, insert), which lets concurrent captures
overdraw a wallet.

With the safeguard on, captures debiting one wallet also take turns *before* their transaction
begins (a session-level advisory lock on the payer's wallet, `_payer_turn`). The row lock alone
is granted after the SERIALIZABLE snapshot was taken, so a capture that waited for it reads a
balance without the entries its predecessor just committed and fails to serialize: 387 retries
for 300 captures on one wallet. Taking turns first, each snapshot already holds the previous
capture; the SERIALIZABLE transaction and its row lock stay the guarantee, the turn only saves
the retries (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from psycopg import errors as pgerr

from reference_service.auth import Principal, Role
from reference_service.db import Database, Session
from reference_service.errors import ApiError, bad_request, conflict, forbidden, not_found
from reference_service.repositories import orders as orders_repo
from reference_service.repositories import payments as repo
from reference_service.repositories import wallets as wallets_repo

MAX_ATTEMPTS = 12
BACKOFF_BASE_S = 0.005
BACKOFF_CAP_S = 0.2
PAYABLE_STATUSES = frozenset({"PENDING", "CONFIRMED"})


async def initiate(s: Session, principal: Principal, order_id: str, method: str) -> tuple[int, Any]:
    order = await orders_repo.get_summary(s, order_id)
    if order is None:
        raise not_found("Order")
    if str(order["buyer_id"]) != principal.user_id:
        raise forbidden("A buyer pays only its own orders")
    if order["status"] not in PAYABLE_STATUSES:
        raise bad_request("INVALID_ORDER_STATE", f"Cannot pay an order in status {order['status']}")
    row = await repo.initiate(s, order_id, method, int(order["total_cents"]))
    if row is None:
        raise conflict("PAYMENT_ALREADY_EXISTS", "This order already has a payment")
    return 201, row


async def platform_wallet(db: Database, s: Session) -> str:
    if db.platform_wallet_id is None:
        found = await wallets_repo.system_wallet(s, "PLATFORM")
        if found is None:
            raise ApiError(500, "PLATFORM_WALLET_MISSING", "The platform wallet is not seeded")
        db.platform_wallet_id = found
    return db.platform_wallet_id


def _backoff(attempt: int) -> float:
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))


async def capture(db: Database, s: Session, principal: Principal, payment_id: str) -> tuple[int, Any]:
    log = db.log
    # Defect `capture_unkeyed`: no wallet turn, no payment row lock, entries keyed per request.
    guarded = db.settings.safeguard_on("wallet_isolation") and not db.settings.has_defect("capture_unkeyed")
    started = time.perf_counter()
    log.info("payment_capture_started", paymentId=payment_id, userId=principal.user_id, method="WALLET")
    platform = await platform_wallet(db, s)
    try:
        async with _payer_turn(db, s, payment_id, guarded):
            return await _capture_retrying(db, s, principal, payment_id, platform, guarded, started)
    except ApiError as exc:
        log.log(
            "error" if exc.status >= 500 else "warn",
            "payment_capture_failed",
            paymentId=payment_id,
            code=exc.code,
            error=exc.message,
            duration=round((time.perf_counter() - started) * 1000, 2),
        )
        raise


@contextlib.asynccontextmanager
async def _payer_turn(db: Database, s: Session, payment_id: str, guarded: bool) -> AsyncIterator[None]:
    """Captures debiting one wallet run one at a time, the wait before their snapshot (see above)."""
    payer = await wallets_repo.payer_of_payment(s, payment_id) if guarded else None
    if payer is None:  # unguarded, or nothing to capture: the transaction says why
        yield
        return
    waited = time.perf_counter()
    await wallets_repo.take_turn(s, payer)
    db.log.info(
        "lock_wait",
        resource=f"wallet:{payer}",
        paymentId=payment_id,
        duration=round((time.perf_counter() - waited) * 1000, 3),
    )
    try:
        yield
    finally:
        try:
            await wallets_repo.end_turn(s, payer)
        except BaseException as exc:
            # A session lock outlives its transaction: a connection that could not release it
            # must not go back to the pool holding it. Closed, the server releases it (and the
            # pool drops it); the capture's own outcome stands.
            with contextlib.suppress(Exception):
                await s.conn.close()
            if not isinstance(exc, Exception):
                raise


async def _capture_retrying(
    db: Database,
    s: Session,
    principal: Principal,
    payment_id: str,
    platform: str,
    guarded: bool,
    started: float,
) -> tuple[int, Any]:
    log = db.log
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            result = await _capture_once(db, s, principal, payment_id, platform, guarded)
        except (pgerr.SerializationFailure, pgerr.DeadlockDetected) as exc:
            if attempt == MAX_ATTEMPTS:
                raise ApiError(
                    409,
                    "SERIALIZATION_CONFLICT",
                    "Too much contention on this wallet; retry",
                    headers={"Retry-After": "1"},
                ) from exc
            log.warn("payment_serialization_retry", paymentId=payment_id, attempt=attempt)
            await asyncio.sleep(_backoff(attempt))
            continue
        except pgerr.UniqueViolation as exc:
            raise conflict("PAYMENT_ALREADY_CAPTURED", "This payment is already captured") from exc
        log.info(
            "payment_capture_completed",
            paymentId=payment_id,
            orderId=str(result["orderId"]),
            amount=result["amountCents"],
            attempts=attempt,
            duration=round((time.perf_counter() - started) * 1000, 2),
        )
        return 200, result
    raise AssertionError("unreachable")


async def _capture_once(
    db: Database, s: Session, principal: Principal, payment_id: str, platform: str, guarded: bool
) -> dict[str, Any]:
    async with s.transaction("SERIALIZABLE" if guarded else "READ COMMITTED"):
        unkeyed = db.settings.has_defect("capture_unkeyed")
        p = await repo.for_capture(s, payment_id, lock=not unkeyed)
        if p is None:
            raise not_found("Payment")
        if principal.role is not Role.ADMIN and str(p["buyer_id"]) != principal.user_id:
            raise forbidden("A buyer captures only its own payments")
        if p["lifecycle"] == "CAPTURED":
            raise conflict("PAYMENT_ALREADY_CAPTURED", "This payment is already captured")
        if p["order_status"] not in PAYABLE_STATUSES:
            raise bad_request(
                "INVALID_ORDER_STATE", f"Cannot capture for an order in status {p['order_status']}"
            )
        payer, payee = p["buyer_wallet_id"], p["seller_wallet_id"]
        if payer is None or payee is None:
            raise bad_request("WALLET_MISSING", "Buyer or seller has no wallet")
        amount = int(p["amount_cents"])
        if guarded:  # uncontended after `_payer_turn`; the guarantee if a writer skips the turn
            await wallets_repo.lock(s, str(payer))
        balance = await wallets_repo.balance(s, str(payer))
        if balance < amount:
            raise bad_request(
                "INSUFFICIENT_FUNDS",
                "Not enough money in the wallet",
                {"walletId": str(payer), "balanceCents": balance, "requiredCents": amount},
            )
        await s.race_window()
        fee = amount * db.settings.platform_fee_bps // 10_000
        row = await repo.record_capture(
            s,
            payment_id=payment_id,
            buyer_wallet_id=str(payer),
            seller_wallet_id=str(payee),
            platform_wallet_id=platform,
            amount_cents=amount,
            fee_cents=fee,
            key_suffix=f"_{uuid.uuid4().hex}" if unkeyed else "",
        )
        if row is None or row["entries"] != 3:
            db.log.error(
                "ledger_invariant_violated",
                paymentId=payment_id,
                sumExpected=0,
                entries=row and row["entries"],
            )
            raise ApiError(500, "LEDGER_INVARIANT_VIOLATED", "Capture did not write exactly three entries")
        body = dict(row)
        body.pop("entries", None)
        return body
