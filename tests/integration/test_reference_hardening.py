"""Hardening of the reference service (issue 11 item 4), against a real service on PostgreSQL.

Each test here failed on the code before the change: a token signed with the old hard-coded
default secret was accepted (200), a NUL in a string field or in the login email was a 500
DATABASE_ERROR, a 10 MB body was parsed, keys were global, and /openapi.json was 404.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import httpx
import pytest

from reference_service.auth import Principal, Role, issue_token
from tests.integration.service_helpers import Stack, assert_error, auth, new_key, order_body

pytestmark = pytest.mark.integration

OLD_DEFAULT_SECRET = "loadgate-dev-secret"


@pytest.fixture(scope="module")
def stack(service_stack: Callable[..., Stack]) -> Stack:
    return service_stack()


def test_a_token_forged_with_the_old_default_secret_is_refused(stack: Stack) -> None:
    admin = stack.any("ADMIN")
    forged = issue_token(OLD_DEFAULT_SECRET, Principal(admin["id"], Role.ADMIN))
    with stack.client() as c:
        r = c.get("/api/admin/agents/sla-summary", headers={"Authorization": f"Bearer {forged}"})
        assert_error(r, 401, "UNAUTHORIZED")
        assert c.get("/api/admin/agents/sla-summary", headers=auth(admin)).status_code == 200


def test_login_tokens_live_one_hour(stack: Stack) -> None:
    buyer = stack.any("BUYER")
    with stack.client() as c:
        r = c.post("/api/auth/login", json={"email": buyer["email"], "password": buyer["password"]})
    assert r.status_code == 200, r.text
    payload = r.json()["accessToken"].split(".")[0]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] == pytest.approx(3600, abs=1)


@pytest.mark.parametrize("bad", ["SKU\u0000x", "\ud800"], ids=["nul", "lone_surrogate"])
def test_unstorable_string_in_a_body_is_400_naming_the_field(stack: Stack, bad: str) -> None:
    buyer, seller = stack.any("BUYER"), stack.any("SELLER")
    body = order_body(seller)
    body["items"][0]["sku"] = bad
    # json.dumps keeps the lone surrogate as the escape "\ud800", exactly what a client can send
    raw = json.dumps(body).encode()
    with stack.client() as c:
        r = c.post("/api/orders", headers={**auth(buyer), "Content-Type": "application/json"}, content=raw)
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert [e["field"] for e in error["validationErrors"]] == ["items.0.sku"], error


def test_nul_in_the_login_email_is_400(stack: Stack) -> None:
    with stack.client() as c:
        r = c.post("/api/auth/login", json={"email": "buyer1\u0000@loadgate.test", "password": "x"})
    error = assert_error(r, 400, "VALIDATION_ERROR")
    assert error["validationErrors"][0]["field"] == "email"


def test_nul_in_path_and_query_is_400(stack: Stack) -> None:
    buyer, agent = stack.any("BUYER"), stack.any("AGENT")
    with stack.client() as c:
        assert_error(c.get("/api/orders/%00", headers=auth(buyer)), 400, "VALIDATION_ERROR")
        r = c.get("/api/shipping/assignments", params={"status": "OPEN\u0000"}, headers=auth(agent))
        assert_error(r, 400, "VALIDATION_ERROR")


def test_a_body_over_the_limit_is_413_before_parsing_or_auth(stack: Stack) -> None:
    big = b'{"x":"' + b"a" * (10 * 1024 * 1024) + b'"}'
    with stack.client() as c:
        r = c.post("/api/orders", content=big, headers={"Content-Type": "application/json"})
        error = assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        assert error["details"] == {"maxBytes": 65536}

    def chunks() -> object:
        for _ in range(20):
            yield b"a" * 8192

    with stack.client() as c:  # chunked: no Content-Length, refused once past the limit
        r = c.post("/api/orders", content=chunks(), headers={"Content-Type": "application/json"})  # type: ignore[arg-type]
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")


def test_an_idempotency_key_is_scoped_per_user(stack: Stack) -> None:
    first, second = stack.users("BUYER")[:2]
    seller = stack.any("SELLER")
    key = new_key()

    def post(c: httpx.Client, buyer: dict[str, str]) -> httpx.Response:
        return c.post("/api/orders", headers={**auth(buyer), "Idempotency-Key": key}, json=order_body(seller))

    with stack.client() as c:
        a, b, again = post(c, first), post(c, second), post(c, first)
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    assert a.json()["id"] != b.json()["id"] and b.json()["buyerId"] == second["id"]
    assert again.json()["id"] == a.json()["id"] and again.headers.get("Idempotent-Replayed") == "true"


def test_openapi_documents_every_status_with_the_error_body(stack: Stack) -> None:
    with stack.client() as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200, r.text
    document = r.json()
    assert "ErrorBody" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert "422" not in statuses, (method, path)
            if path.startswith("/api/"):
                assert {"400", "401", "503"} <= statuses, (method, path, statuses)
                error = operation["responses"]["400"]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/ErrorBody"}


def test_seeded_tokens_are_signed_with_the_services_own_secret(stack: Stack) -> None:
    buyer = stack.any("BUYER")
    with httpx.Client(base_url=stack.base_url, timeout=10) as c:
        assert c.get(f"/api/wallets/{buyer['walletId']}", headers=auth(buyer)).status_code == 200
