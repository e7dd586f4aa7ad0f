"""`--dialect alt`: the same backend behind routes, field names, headers and error codes that all
differ from API.md, so the tests can show a target profile (tests/profiles/foreign_alt.py)
drives a backend loadgate's default profile cannot (issue 14).

The translation sits at the edge: an alt request is rewritten into the API.md request the routes
already serve (path, method, JSON keys, query, headers), and the reply back (JSON keys, error
body and code, headers). The data, the locks and the bugs are the backend's own, unchanged.
`/health/*` is not translated: it is the operators' contract, not the API's.

    alt route                                  API.md route
    POST  /v2/sessions                         POST  /api/auth/login
    POST  /v2/purchases                        POST  /api/orders
    GET   /v2/purchases/{id}                   GET   /api/orders/{id}
    POST  /v2/purchases/{id}/state             PATCH /api/orders/{id}
    POST  /v2/charges                          POST  /api/payments
    POST  /v2/charges/{id}/settle              POST  /api/payments/{id}/capture
    GET   /v2/balances/{id}                    GET   /api/wallets/{id}
    POST  /v2/balances/{id}/credit             POST  /api/wallets/{id}/top-up
    POST  /v2/delivery-jobs                    POST  /api/shipping/assignments
    GET   /v2/delivery-jobs?state=OPEN         GET   /api/shipping/assignments?status=OPEN
    POST  /v2/delivery-jobs/{id}/claim         POST  /api/shipping/assignments/{id}/accept
    POST  /v2/delivery-jobs/{id}/collect       POST  /api/shipping/assignments/{id}/pickup
    POST  /v2/delivery-jobs/{id}/complete      POST  /api/shipping/assignments/{id}/deliver
    GET   /v2/couriers/ranking                 GET   /api/admin/agents/leaderboard
    GET   /v2/couriers/{id}/stats              GET   /api/admin/agents/metrics/{agentId}
    GET   /v2/couriers/sla                     GET   /api/admin/agents/sla-summary

Headers: `X-Session-Token: <token>` instead of `Authorization: Bearer` (a Bearer header is
ignored), `X-Request-Key` instead of `Idempotency-Key`, `X-Replayed` instead of
`Idempotent-Replayed`. Errors: `{"error": {"reason": <alt code>, "text": <message>}}`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from email.message import Message
from typing import Any

from tests.foreign_backend.web import Reply, Request

DIALECTS = ("api_md", "alt")

_ROUTES: list[tuple[str, str, str, str]] = [
    ("POST", "/v2/sessions", "POST", "/api/auth/login"),
    ("POST", "/v2/purchases", "POST", "/api/orders"),
    ("GET", "/v2/purchases/{id}", "GET", "/api/orders/{id}"),
    ("POST", "/v2/purchases/{id}/state", "PATCH", "/api/orders/{id}"),
    ("POST", "/v2/charges", "POST", "/api/payments"),
    ("POST", "/v2/charges/{id}/settle", "POST", "/api/payments/{id}/capture"),
    ("GET", "/v2/balances/{id}", "GET", "/api/wallets/{id}"),
    ("POST", "/v2/balances/{id}/credit", "POST", "/api/wallets/{id}/top-up"),
    ("POST", "/v2/delivery-jobs", "POST", "/api/shipping/assignments"),
    ("GET", "/v2/delivery-jobs", "GET", "/api/shipping/assignments"),
    ("POST", "/v2/delivery-jobs/{id}/claim", "POST", "/api/shipping/assignments/{id}/accept"),
    ("POST", "/v2/delivery-jobs/{id}/collect", "POST", "/api/shipping/assignments/{id}/pickup"),
    ("POST", "/v2/delivery-jobs/{id}/complete", "POST", "/api/shipping/assignments/{id}/deliver"),
    ("GET", "/v2/couriers/ranking", "GET", "/api/admin/agents/leaderboard"),
    ("GET", "/v2/couriers/sla", "GET", "/api/admin/agents/sla-summary"),
    ("GET", "/v2/couriers/{id}/stats", "GET", "/api/admin/agents/metrics/{id}"),
]
ROUTES = [
    (method, re.compile("^" + re.sub(r"\{id\}", r"(?P<id>[^/]+)", path) + "$"), api_method, api_path)
    for method, path, api_method, api_path in _ROUTES
]

# API.md's JSON key -> the alt dialect's (a bijection: no alt key is an API.md key).
KEYS = {
    "id": "uid",
    "accessToken": "sessionToken",
    "user": "account",
    "email": "username",
    "password": "secret",
    "sellerId": "merchant",
    "buyerId": "customer",
    "items": "lines",
    "sku": "productCode",
    "quantity": "qty",
    "unitPriceCents": "priceMinor",
    "shippingZip": "deliveryPostcode",
    "totalCents": "amountDueMinor",
    "orderId": "purchase",
    "amountCents": "amountMinor",
    "balanceCents": "availableMinor",
    "candidateAgentIds": "eligibleCouriers",
    "agentId": "courier",
    "walletId": "balanceId",
    "payment": "charge",
    "shippingAssignments": "deliveryJobs",
    "lifecycle": "phase",
    "status": "state",
}
BACK = {alt: api for api, alt in KEYS.items()}

# API.md's error code -> the alt dialect's; any other code gets the prefix `E_`.
CODES = {
    "UNAUTHORIZED": "AUTH_REQUIRED",
    "FORBIDDEN": "NOT_PERMITTED",
    "NOT_FOUND": "NO_SUCH_RESOURCE",
    "VALIDATION_ERROR": "BAD_INPUT",
    "INSUFFICIENT_FUNDS": "BALANCE_TOO_LOW",
    "PAYMENT_ALREADY_CAPTURED": "CHARGE_ALREADY_SETTLED",
    "INVALID_STATUS_TRANSITION": "STATE_CHANGE_REFUSED",
    "ORDER_STATUS_CONFLICT": "STATE_CHANGE_CONTENDED",
    "ASSIGNMENT_TAKEN": "JOB_ALREADY_CLAIMED",
    "ASSIGNMENT_LOCKED": "JOB_BUSY",
    "IDEMPOTENCY_KEY_REUSED": "REQUEST_KEY_MISMATCH",
    "IDEMPOTENCY_KEY_IN_PROGRESS": "REQUEST_KEY_PENDING",
    "DATABASE_UNAVAILABLE": "STORE_UNAVAILABLE",
}


def rename(value: Any, keys: dict[str, str]) -> Any:
    """`value` with every object key renamed by `keys` (others kept), at any depth."""
    if isinstance(value, dict):
        return {keys.get(k, k): rename(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [rename(v, keys) for v in value]
    return value


def _error(status: int, code: str, text: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": {"reason": CODES.get(code, f"E_{code}"), "text": text}}, headers or {})


def _headers(alt: Message) -> Message:
    """The API.md headers of an alt request: session token and request key renamed, Bearer dropped."""
    out = Message()
    for name, value in alt.items():
        lower = name.lower()
        if lower in ("authorization", "idempotency-key"):
            continue
        if lower == "x-session-token":
            out["Authorization"] = f"Bearer {value}"
        elif lower == "x-request-key":
            out["Idempotency-Key"] = value
        else:
            out[name] = value
    return out


def dispatch(inner: Callable[[Request], Reply], req: Request) -> Reply:
    """Serve an alt-dialect request with `inner` (the API.md dispatcher)."""
    if req.path.startswith("/health/"):
        return inner(req)
    found = next(
        ((r, m) for r in ROUTES if r[0] == req.method and (m := r[1].match(req.path)) is not None), None
    )
    if found is None:
        return _error(404, "NOT_FOUND", f"No route {req.method} {req.path}")
    (_, _, api_method, api_path), m = found
    raw = req.raw_body
    if raw:
        with contextlib.suppress(ValueError):  # not JSON: the route answers its own 400
            raw = json.dumps(rename(json.loads(raw), BACK)).encode()
    query = {BACK.get(k, k): v for k, v in req.query.items()}
    path = api_path.format(**m.groupdict())
    reply = inner(Request(api_method, path, query, _headers(req.headers), raw))
    headers = {("X-Replayed" if k == "Idempotent-Replayed" else k): v for k, v in reply.headers.items()}
    if reply.status >= 400 and isinstance(reply.body, dict) and "code" in reply.body:
        return _error(reply.status, str(reply.body["code"]), str(reply.body.get("message", "")), headers)
    return Reply(reply.status, rename(reply.body, KEYS), headers)
