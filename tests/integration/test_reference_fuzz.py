"""Schema-driven fuzzing of the reference service (issue 11 item 5), with schemathesis.

The schema is the service's own published `/openapi.json`, read from a real service on embedded
PostgreSQL. Every operation gets generated valid and invalid requests (bodies, path and query
parameters, the Idempotency-Key header) sent with a real token of a role that may call it, so
the handlers are reached rather than stopped at 401. A test fails on any 5xx, or on an answer the
document does not describe (an undocumented status, a body that breaks its schema, a wrong
content type). Bounded: FUZZ_EXAMPLES per operation (about 1,350 requests in all, ~30 s on 2 busy
cores; 100 examples doubled both).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness.db.base import recreate_database, with_database
from harness.service_process import ServiceProcess
from reference_service.app import create_app
from reference_service.config import Settings
from reference_service.seed import seed

pytestmark = pytest.mark.integration

FUZZ_EXAMPLES = 50
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def role_for(method: str, path: str) -> str | None:
    """The role whose token reaches the handler (None: no token, the login route)."""
    if path == "/api/auth/login" or path.startswith("/health"):
        return None
    if (method, path) in (("POST", "/api/orders"), ("POST", "/api/payments")):
        return "BUYER"
    if path.startswith("/api/shipping/assignments"):
        agent_steps = ("/accept", "/pickup", "/deliver")
        return "AGENT" if method == "GET" or path.endswith(agent_steps) else "ADMIN"
    return "ADMIN"


@pytest.fixture(scope="module")
def fuzz_target(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    name = f"fuzz_{uuid.uuid4().hex[:8]}"
    recreate_database(pg_admin_url, name)
    url = with_database(pg_admin_url, name)
    folder = Path(tmp_path_factory.mktemp(name))
    service = ServiceProcess(url, log_file=folder / "service.jsonl", output_file=folder / "service.log")
    fixtures = seed(
        url,
        buyers=2,
        sellers=1,
        agents=2,
        admins=1,
        balance_cents=1_000_000,
        token_secret=service.token_secret,
    )
    service.start(timeout_s=30)
    try:
        users = {u["role"]: u for u in fixtures["users"]}
        tokens = {role: u["token"] for role, u in users.items()}
        yield {"base_url": service.base_url, "tokens": tokens, "ids": _resources(service.base_url, users)}
    finally:
        service.stop()


def _resources(base_url: str, users: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Real ids for valid cases to aim at: an order with a payment and an open assignment."""

    def call(method: str, path: str, role: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {users[role]['token']}"}
        answer = httpx.request(method, f"{base_url}{path}", json=body, headers=headers, timeout=10)
        assert answer.status_code in (200, 201), answer.text
        result: dict[str, Any] = answer.json()
        return result

    seller = users["SELLER"]["id"]
    items = [{"sku": "FUZZ-1", "quantity": 1, "unitPriceCents": 500}]
    order = call("POST", "/api/orders", "BUYER", {"sellerId": seller, "items": items, "shippingZip": "10001"})
    payment = call("POST", "/api/payments", "BUYER", {"orderId": order["id"]})
    assignment = call("POST", "/api/shipping/assignments", "ADMIN", {"orderId": order["id"]})
    return {
        "order_id": order["id"],
        "orderId": order["id"],
        "payment_id": payment["id"],
        "assignment_id": assignment["id"],
        "wallet_id": users["BUYER"]["walletId"],
        "agent_id": users["AGENT"]["agentId"],
        "sellerId": seller,
    }


# Strings PostgreSQL cannot store. Hypothesis draws a NUL in about 2 % of strings, so with a few
# dozen examples per operation it may never send one; every HOSTILE_EVERY-th valid body gets one.
HOSTILE = ("\x00", "a\x00b", "\ud800")
HOSTILE_EVERY = 4
_planted = {"cases": 0}


def plant_hostile_string(case: Any) -> None:
    """Replace the first string of a valid body with one PostgreSQL cannot store (must be a 400)."""
    if not isinstance(case.body, dict):
        return
    _planted["cases"] += 1
    if _planted["cases"] % HOSTILE_EVERY:
        return
    hostile = HOSTILE[(_planted["cases"] // HOSTILE_EVERY) % len(HOSTILE)]
    for name, value in case.body.items():
        if isinstance(value, str) and name not in ("sellerId", "orderId"):
            case.body[name] = hostile
            return
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for inner, leaf in value[0].items():
                if isinstance(leaf, str):
                    value[0][inner] = hostile
                    return


def aim_at_real_resources(case: Any, ids: dict[str, str]) -> None:
    """A valid case's ids point at seeded resources, so its handler gets past 404 to the rules."""
    meta = getattr(case, "meta", None)
    if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return
    for name in list(case.path_parameters or {}):
        if name in ids:
            case.path_parameters[name] = ids[name]
    if isinstance(case.body, dict):
        for name in ("sellerId", "orderId"):
            if name in case.body:
                case.body[name] = ids[name]
    plant_hostile_string(case)


def _document() -> dict[str, Any]:
    """The document the service publishes, built without a database (the app object only).

    schemathesis needs it at collection time, before any service runs;
    test_the_fuzzed_document_is_the_published_one holds it equal to the served /openapi.json.
    """
    return create_app(Settings(database_url="postgresql://unused/unused")).openapi()


schema = schemathesis.openapi.from_dict(_document())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


def test_the_fuzzed_document_is_the_published_one(fuzz_target: dict[str, Any]) -> None:
    served = httpx.get(f"{fuzz_target['base_url']}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == _document()


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_published_schema(case: Any, fuzz_target: dict[str, Any]) -> None:
    role = role_for(case.method.upper(), case.path)
    headers = {"Authorization": f"Bearer {fuzz_target['tokens'][role]}"} if role else None
    aim_at_real_resources(case, fuzz_target["ids"])
    case.call_and_validate(base_url=fuzz_target["base_url"], headers=headers, checks=CHECKS)
