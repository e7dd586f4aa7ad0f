"""The profile of tests/foreign_backend's `--dialect alt` (routes, keys, headers and error codes
all unlike API.md): the second profile of issue 14, written as a team would write theirs.

Its request names are its own routes; its error codes are mapped back onto API.md's, so the
flows' retries, the race oracles and the thresholds read them as they read the reference's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from locustfiles.common.profile import OrderView, Profile, Step, field_reader, id_reader, mapped_codes

UID = id_reader("uid")


def _purchase(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "merchant": a["seller_id"],
        "lines": [{"productCode": a["sku"], "qty": a["quantity"], "priceMinor": a["unit_price_cents"]}],
        "deliveryPostcode": a["shipping_zip"],
    }


def _purchase_view(body: Any) -> OrderView:
    if not isinstance(body, dict):
        return OrderView(None)
    charge = body.get("charge")
    if not isinstance(charge, dict):
        charge = {}
    jobs = body.get("deliveryJobs") or []
    return OrderView(
        id=UID(body),
        payment_id=UID(charge),
        captured=charge.get("phase") == "CAPTURED",
        assignment_ids=tuple(j for j in (UID(job) for job in jobs) if j),
    )


def _who(body: Any) -> dict[str, Any]:
    """The logged-in account in API.md's terms (what `--users` needs to build fixtures)."""
    account = body.get("account") if isinstance(body, dict) else None
    if not isinstance(account, dict):
        return {}
    return {
        "id": account.get("uid"),
        "role": account.get("role"),
        "walletId": account.get("balanceId"),
        "agentId": account.get("courier"),
    }


# The backend's codes -> API.md's.
CODES = {
    "AUTH_REQUIRED": "UNAUTHORIZED",
    "NOT_PERMITTED": "FORBIDDEN",
    "NO_SUCH_RESOURCE": "NOT_FOUND",
    "BAD_INPUT": "VALIDATION_ERROR",
    "BALANCE_TOO_LOW": "INSUFFICIENT_FUNDS",
    "CHARGE_ALREADY_SETTLED": "PAYMENT_ALREADY_CAPTURED",
    "STATE_CHANGE_REFUSED": "INVALID_STATUS_TRANSITION",
    "STATE_CHANGE_CONTENDED": "ORDER_STATUS_CONFLICT",
    "JOB_ALREADY_CLAIMED": "ASSIGNMENT_TAKEN",
    "JOB_BUSY": "ASSIGNMENT_LOCKED",
    "REQUEST_KEY_MISMATCH": "IDEMPOTENCY_KEY_REUSED",
    "REQUEST_KEY_PENDING": "IDEMPOTENCY_KEY_IN_PROGRESS",
    "STORE_UNAVAILABLE": "DATABASE_UNAVAILABLE",
}

PROFILE = Profile(
    name="foreign_alt",
    login=Step(
        "POST",
        "/v2/sessions",
        body=lambda a: {"username": a["email"], "secret": a["password"]},
        read=field_reader("sessionToken"),
        read_id=id_reader("account", "uid"),
    ),
    create_order=Step(
        "POST",
        "/v2/purchases",
        body=_purchase,
        read_id=UID,
        read=field_reader("amountDueMinor"),
        refusals=(409,),
    ),
    initiate_payment=Step(
        "POST", "/v2/charges", body=lambda a: {"purchase": a["order_id"], "method": "WALLET"}, read_id=UID
    ),
    capture=Step("POST", "/v2/charges/{payment_id}/settle", read_id=UID, refusals=(400,)),
    top_up=Step(
        "POST",
        "/v2/balances/{wallet_id}/credit",
        body=lambda a: {"amountMinor": a["amount_cents"]},
        read_id=UID,
    ),
    read_wallet=Step("GET", "/v2/balances/{wallet_id}", read_id=UID, read=field_reader("availableMinor")),
    change_status=Step(
        "POST",
        "/v2/purchases/{order_id}/state",
        body=lambda a: {"state": a["status"]},
        read_id=UID,
        refusals=(400, 409),
    ),
    open_assignment=Step(
        "POST",
        "/v2/delivery-jobs",
        body=lambda a: {"purchase": a["order_id"], "eligibleCouriers": a["candidate_agent_ids"]},
        read_id=UID,
    ),
    list_assignments=Step("GET", "/v2/delivery-jobs", query="state=OPEN", read_id=UID),
    accept=Step("POST", "/v2/delivery-jobs/{assignment_id}/claim", read_id=UID, refusals=(409,)),
    pickup=Step("POST", "/v2/delivery-jobs/{assignment_id}/collect", read_id=UID),
    deliver=Step("POST", "/v2/delivery-jobs/{assignment_id}/complete", read_id=UID),
    leaderboard=Step("GET", "/v2/couriers/ranking", read_id=UID),
    agent_metrics=Step("GET", "/v2/couriers/{agent_id}/stats", read_id=UID),
    sla_summary=Step("GET", "/v2/couriers/sla", read_id=UID),
    read_order=Step("GET", "/v2/purchases/{order_id}", read_id=UID, read=_purchase_view),
    error_code=mapped_codes(field_reader("error", "reason"), CODES),
    read_user=_who,
    auth_header=lambda token: ("X-Session-Token", token),
    idempotency_header="X-Request-Key",
    replayed_header="X-Replayed",
)
