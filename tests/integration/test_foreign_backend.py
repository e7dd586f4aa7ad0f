"""The foreign backend (tests/foreign_backend): API.md over HTTP, its two switchable bugs, its probes.

It is the stand-in for "a backend loadgate did not ship with", so these tests pin what the harness
relies on: the documented shapes and codes, bugs that really fire (and really do not when off),
and probes that pass on clean data and catch a planted violation each.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.foreign_backend.running import ForeignService, foreign_service
from tests.foreign_backend.seed import seed

pytestmark = pytest.mark.integration

PROBES = Path(__file__).resolve().parents[1] / "foreign_backend" / "probes"
ERROR_FIELDS = {"statusCode", "error", "message", "code", "timestamp", "path"}
Json = dict[str, Any]


def probe(database_url: str, name: str) -> list[Json]:
    """The violating rows the probe `name` returns."""
    with psycopg.connect(database_url, row_factory=dict_row, autocommit=True) as conn:
        return conn.execute((PROBES / f"{name}.sql").read_bytes()).fetchall()


def sql(database_url: str, query: str, params: Any = None) -> list[Json]:
    with psycopg.connect(database_url, row_factory=dict_row, autocommit=True) as conn:
        cur = conn.execute(query.encode(), params)
        return cur.fetchall() if cur.description else []


class Api:
    """The backend's users, logged in over HTTP on first use."""

    def __init__(self, svc: ForeignService) -> None:
        self.base_url = svc.base_url
        self.client = httpx.Client(base_url=svc.base_url, timeout=30)
        self.users: list[Json] = json.loads(svc.fixtures_file.read_text())["users"]
        self.tokens: dict[str, str] = {}

    def user(self, role: str, index: int = 0) -> Json:
        return [u for u in self.users if u["role"] == role][index]

    def headers(self, user: Json, key: str | None = None) -> dict[str, str]:
        if user["email"] not in self.tokens:
            r = self.client.post(
                "/api/auth/login", json={"email": user["email"], "password": user["password"]}
            )
            assert r.status_code == 200, r.text
            self.tokens[user["email"]] = r.json()["accessToken"]
        h = {"Authorization": f"Bearer {self.tokens[user['email']]}"}
        if key:
            h["Idempotency-Key"] = key
        return h

    def order(self, buyer: Json, seller: Json, cents: int = 1000, key: str | None = None) -> Json:
        body = {
            "sellerId": seller["id"],
            "items": [{"sku": "SKU-1", "quantity": 1, "unitPriceCents": cents}],
            "shippingZip": "10001",
        }
        r = self.client.post("/api/orders", json=body, headers=self.headers(buyer, key))
        assert r.status_code == 201, r.text
        return dict(r.json())

    def payment(self, buyer: Json, order: Json) -> str:
        r = self.client.post("/api/payments", json={"orderId": order["id"]}, headers=self.headers(buyer))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def capture(self, buyer: Json, payment_id: str) -> httpx.Response:
        return self.client.post(f"/api/payments/{payment_id}/capture", headers=self.headers(buyer))

    def balance(self, user: Json) -> int:
        r = self.client.get(f"/api/wallets/{user['walletId']}", headers=self.headers(user))
        assert r.status_code == 200, r.text
        return int(r.json()["balanceCents"])


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body.keys() >= ERROR_FIELDS, body
    assert body["statusCode"] == status and body["code"] == code, body


@pytest.fixture
def service(make_database: Callable[[], str], tmp_path: Path) -> Iterator[Callable[..., tuple[Api, str]]]:
    """`service(bugs, race_window_ms=...)` -> (Api, database URL): a running backend on a fresh database."""
    with ExitStack() as stack:

        def start(bugs: tuple[str, ...] = (), **kwargs: Any) -> tuple[Api, str]:
            url = make_database()
            svc = stack.enter_context(foreign_service(url, tmp_path / uuid.uuid4().hex[:8], bugs, **kwargs))
            api = Api(svc)
            stack.callback(api.client.close)
            return api, url

        yield start


def test_api_basics_and_documented_errors(make_database: Callable[[], str], tmp_path: Path) -> None:
    url = make_database()
    with foreign_service(url, tmp_path) as svc:
        api = Api(svc)
        c = api.client
        buyer, seller, agent, admin = (api.user(r) for r in ("BUYER", "SELLER", "AGENT", "ADMIN"))
        users_file = json.loads(svc.users_file.read_text())["users"]
        assert all(set(u) == {"email", "password", "role"} for u in users_file)

        # Login: the ids the harness discovers over HTTP; bad credentials and tokens are 401.
        r = c.post("/api/auth/login", json={"email": agent["email"], "password": agent["password"]})
        assert r.json()["user"] == {"id": agent["id"], "role": "AGENT", "agentId": agent["agentId"]}
        r = c.post("/api/auth/login", json={"email": buyer["email"], "password": buyer["password"]})
        assert r.json()["user"]["walletId"] == buyer["walletId"]
        assert_error(
            c.post("/api/auth/login", json={"email": buyer["email"], "password": "x"}),
            401,
            "INVALID_CREDENTIALS",
        )
        assert_error(c.get("/api/wallets/" + buyer["walletId"]), 401, "UNAUTHORIZED")
        assert_error(c.get("/api/admin/agents/leaderboard", headers=api.headers(buyer)), 403, "FORBIDDEN")
        assert_error(c.get("/api/nowhere", headers=api.headers(buyer)), 404, "NOT_FOUND")
        r = c.post("/api/orders", json={"sellerId": "nope", "items": []}, headers=api.headers(buyer))
        assert_error(r, 400, "VALIDATION_ERROR")
        assert r.json()["validationErrors"][0]["field"] == "sellerId"

        # Orders with Idempotency-Key: replay, reuse with another payload.
        key = str(uuid.uuid4())
        order = api.order(buyer, seller, 1234, key=key)
        assert order["status"] == "PENDING" and order["totalCents"] == 1234
        body = {
            "sellerId": seller["id"],
            "items": [{"sku": "SKU-1", "quantity": 1, "unitPriceCents": 1234}],
            "shippingZip": "10001",
        }
        r = c.post("/api/orders", json=body, headers=api.headers(buyer, key))
        assert (
            r.status_code == 201
            and r.headers["Idempotent-Replayed"] == "true"
            and r.json()["id"] == order["id"]
        )
        body["shippingZip"] = "10002"
        assert_error(
            c.post("/api/orders", json=body, headers=api.headers(buyer, key)), 409, "IDEMPOTENCY_KEY_REUSED"
        )

        # Pay: three balanced lines, a second capture is refused.
        before = api.balance(buyer)
        payment = api.payment(buyer, order)
        r = api.capture(buyer, payment)
        assert r.status_code == 200 and r.json()["lifecycle"] == "CAPTURED", r.text
        assert api.balance(buyer) == before - 1234
        assert_error(api.capture(buyer, payment), 409, "PAYMENT_ALREADY_CAPTURED")
        lines = sql(url, "SELECT line_kind, cents FROM journal_lines WHERE charge_id = %s", (payment,))
        assert len(lines) == 3 and sum(x["cents"] for x in lines) == 0
        r = c.post(
            f"/api/wallets/{buyer['walletId']}/top-up", json={"amountCents": 500}, headers=api.headers(admin)
        )
        assert r.status_code == 201 and r.json()["balanceCents"] == before - 1234 + 500

        # State machine, then an assignment through delivery.
        oid = order["id"]
        assert_error(
            c.patch(f"/api/orders/{oid}", json={"status": "DELIVERED"}, headers=api.headers(seller)),
            400,
            "INVALID_STATUS_TRANSITION",
        )
        assert (
            c.patch(
                f"/api/orders/{oid}", json={"status": "CONFIRMED"}, headers=api.headers(seller)
            ).status_code
            == 200
        )
        r = c.post(
            "/api/shipping/assignments",
            json={"orderId": oid, "candidateAgentIds": [agent["agentId"]]},
            headers=api.headers(seller),
        )
        assert r.status_code == 201 and r.json()["status"] == "OPEN" and r.json()["agentId"] is None
        aid = r.json()["id"]
        r = c.get("/api/shipping/assignments", params={"status": "OPEN"}, headers=api.headers(agent))
        assert aid in {a["id"] for a in r.json()}
        other = api.user("AGENT", 1)
        assert_error(
            c.post(f"/api/shipping/assignments/{aid}/accept", headers=api.headers(other)), 403, "FORBIDDEN"
        )
        r = c.post(f"/api/shipping/assignments/{aid}/accept", headers=api.headers(agent))
        assert (
            r.status_code == 200
            and r.json()["status"] == "ACCEPTED"
            and r.json()["agentId"] == agent["agentId"]
        )
        assert_error(
            c.post(f"/api/shipping/assignments/{aid}/accept", headers=api.headers(agent)),
            409,
            "ASSIGNMENT_TAKEN",
        )
        for step in ("pickup", "deliver"):
            assert (
                c.post(f"/api/shipping/assignments/{aid}/{step}", headers=api.headers(agent)).status_code
                == 200
            )
        r = c.get(f"/api/orders/{oid}", headers=api.headers(buyer))
        assert r.json()["status"] == "DELIVERED" and r.json()["payment"]["lifecycle"] == "CAPTURED"
        assert [a["id"] for a in r.json()["shippingAssignments"]] == [aid]

        for path in ("leaderboard", f"metrics/{agent['agentId']}", "sla-summary"):
            assert c.get(f"/api/admin/agents/{path}", headers=api.headers(admin)).status_code == 200
        assert (
            c.get("/api/admin/agents/sla-summary", headers=api.headers(admin)).json()["deliveredCount"] == 1
        )
        pool = c.get("/health/pool").json()["pool"]
        assert set(pool) == {"size", "active", "idle", "waiting", "max", "utilization"}
        assert c.get("/health/db").json()["status"] == "healthy"

        # An expired token is 401 (the harness logs in again).
        sql(url, "UPDATE access_tokens SET expires_at = now() - interval '1 second'")
        assert_error(
            c.get(f"/api/wallets/{buyer['walletId']}", headers=api.headers(buyer)), 401, "UNAUTHORIZED"
        )

        # The log is plain text, one human line per request, no JSON.
        log_lines = svc.log_file.read_text().splitlines()
        stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) "
        assert all(re.match(stamp, line) for line in log_lines), log_lines[:5]
        assert any(re.match(stamp + r"POST /api/orders 201 [\d.]+ms$", line) for line in log_lines)
        api.client.close()

    for name in sorted(p.stem for p in PROBES.glob("*.sql")):
        assert probe(url, name) == [], name


def test_an_unanswering_database_is_503_with_retry_after(service: Callable[..., tuple[Api, str]]) -> None:
    api, url = service(extra_args=["--statement-timeout-ms", "300"])
    buyer = api.user("BUYER")
    headers = api.headers(buyer)
    with psycopg.connect(url) as conn:
        conn.execute("LOCK TABLE purses IN ACCESS EXCLUSIVE MODE")  # held until this block ends
        r = api.client.get(f"/api/wallets/{buyer['walletId']}", headers=headers)
        assert_error(r, 503, "DATABASE_UNAVAILABLE")
        assert r.headers["Retry-After"] == "1"
    assert api.client.get(f"/api/wallets/{buyer['walletId']}", headers=headers).status_code == 200


def test_sigint_stops_it_even_when_inherited_as_ignored(
    make_database: Callable[[], str], tmp_path: Path
) -> None:
    url = make_database()
    port = _free_port()
    log_file = tmp_path / "foreign.log"
    args = [sys.executable, "-m", "tests.foreign_backend", "--database-url", url, "--port", str(port)]
    proc = subprocess.Popen(
        [*args, "--log-file", str(log_file)],
        # What a shell does to a background job: SIGINT ignored before exec.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while "listening" not in (log_file.read_text() if log_file.exists() else ""):
            assert proc.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert "INFO stopping" in log_file.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _concurrently(
    n: int, fire: Callable[[httpx.Client, int], httpx.Response], base_url: str
) -> list[httpx.Response]:
    """`fire(client_i, i)` for i < n, all released at once, each on its own connection."""
    clients = [httpx.Client(base_url=base_url, timeout=30) for _ in range(n)]
    for c in clients:
        c.get("/health/live")  # connect first, so the barrier releases requests, not handshakes
    barrier = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        barrier.wait()
        return fire(clients[i], i)

    try:
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(one, range(n)))
    finally:
        for c in clients:
            c.close()


@pytest.mark.parametrize("bugs", [(), ("double_accept",)], ids=["correct", "double_accept"])
def test_concurrent_accepts(service: Callable[..., tuple[Api, str]], bugs: tuple[str, ...]) -> None:
    api, url = service(bugs, race_window_ms=25)
    buyer, seller = api.user("BUYER"), api.user("SELLER")
    agents = [api.user("AGENT", i) for i in range(10)]
    order = api.order(buyer, seller)
    api.client.patch(f"/api/orders/{order['id']}", json={"status": "CONFIRMED"}, headers=api.headers(seller))
    r = api.client.post(
        "/api/shipping/assignments",
        json={"orderId": order["id"], "candidateAgentIds": [a["agentId"] for a in agents]},
        headers=api.headers(seller),
    )
    aid = r.json()["id"]
    heads = [api.headers(a) for a in agents]
    results = _concurrently(
        10, lambda c, i: c.post(f"/api/shipping/assignments/{aid}/accept", headers=heads[i]), api.base_url
    )
    winners = [r for r in results if r.status_code == 200]
    codes = {r.json()["code"] for r in results if r.status_code != 200}
    violations = probe(url, "assignment_single_acceptance")
    if bugs:
        assert len(winners) > 1 and len(violations) == 1, (len(winners), violations)
    else:
        assert len(winners) == 1 and violations == [], (len(winners), violations)
        assert codes <= {"ASSIGNMENT_TAKEN", "ASSIGNMENT_LOCKED"}, codes


@pytest.mark.parametrize("bugs", [(), ("overdraft",)], ids=["correct", "overdraft"])
def test_concurrent_captures(service: Callable[..., tuple[Api, str]], bugs: tuple[str, ...]) -> None:
    api, url = service(bugs, race_window_ms=25)
    buyer, seller = api.user("BUYER"), api.user("SELLER")
    price, affordable, n = 1000, 3, 10
    # Spend all but `affordable` x price with one order, then initiate n payments of `price`.
    drain = api.order(buyer, seller, api.balance(buyer) - affordable * price)
    assert api.capture(buyer, api.payment(buyer, drain)).status_code == 200
    payments = [api.payment(buyer, api.order(buyer, seller, price)) for _ in range(n)]
    head = api.headers(buyer)
    results = _concurrently(
        n, lambda c, i: c.post(f"/api/payments/{payments[i]}/capture", headers=head), api.base_url
    )
    winners = sum(r.status_code == 200 for r in results)
    violations = probe(url, "no_negative_wallet")
    if bugs:
        assert winners > affordable and api.balance(buyer) < 0 and len(violations) == 1
    else:
        assert winners == affordable and api.balance(buyer) == 0 and violations == []
        assert {r.json()["code"] for r in results if r.status_code != 200} == {"INSUFFICIENT_FUNDS"}
    assert probe(url, "ledger_total_zero") == [] and probe(url, "capture_entries_balanced") == []


# One plant per probe: SQL that breaks exactly the invariant the probe checks.
_ORDER = """INSERT INTO purchase_orders
      (id, buyer_id, seller_id, state, total_cents, ship_zip, items, request_key)
    SELECT %(o)s, b.id, s.id, %(state)s, 100, '10001', '[]', %(key)s
    FROM members b, members s
    WHERE b.email = 'fb-buyer1@foreign.test' AND s.email = 'fb-seller1@foreign.test'"""
_STEPS = "INSERT INTO order_transitions (order_id, from_state, to_state) VALUES "
_JOB = """INSERT INTO courier_jobs (id, order_id, state, courier_id)
    SELECT %(j)s, %(o)s, 'ACCEPTED', id FROM couriers LIMIT 1"""
_SELLER_PURSE = """(SELECT p.id FROM purses p JOIN members m ON m.id = p.member_id
    WHERE m.email = 'fb-seller1@foreign.test')"""
_EXTERNAL = "(SELECT id FROM purses WHERE kind = 'EXTERNAL')"
PLANTS: dict[str, list[str]] = {
    "ledger_total_zero": [
        "INSERT INTO journal_lines (purse_id, cents, line_kind, dedupe_key)"
        f" VALUES ({_SELLER_PURSE}, 5, 'X', 'p1')"
    ],
    "capture_entries_balanced": [
        _ORDER,
        _STEPS + "(%(o)s, NULL, 'PENDING')",
        "INSERT INTO charges (order_id, cents, stage) VALUES (%(o)s, 100, 'CAPTURED')",
    ],
    "unique_ledger_idempotency_key": [
        "ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_dedupe_key_key",
        f"""INSERT INTO journal_lines (purse_id, cents, line_kind, dedupe_key)
            VALUES ({_SELLER_PURSE}, 5, 'X', 'dup'), ({_EXTERNAL}, -5, 'X', 'dup')""",
    ],
    "no_negative_wallet": [
        f"""INSERT INTO journal_lines (purse_id, cents, line_kind, dedupe_key)
            VALUES ({_SELLER_PURSE}, -5, 'X', 'n1'), ({_EXTERNAL}, 5, 'X', 'n2')"""
    ],
    "one_order_per_idempotency_key": [
        _ORDER,
        _ORDER.replace("%(o)s", "gen_random_uuid()"),
        _STEPS + "(%(o)s, NULL, 'PENDING')",
        "INSERT INTO order_transitions (order_id, from_state, to_state)"
        " SELECT id, NULL, 'PENDING' FROM purchase_orders WHERE id <> %(o)s",
    ],
    "assignment_single_acceptance": [
        _ORDER,
        _STEPS + "(%(o)s, NULL, 'PENDING')",
        _JOB,
        "INSERT INTO courier_job_events (job_id, courier_id, event)"
        " SELECT %(j)s, id, 'ACCEPTED' FROM couriers LIMIT 2",
    ],
    "order_history_single_path": [
        _ORDER,
        _STEPS + "(%(o)s, NULL, 'PENDING'), (%(o)s, 'PENDING', 'CONFIRMED'), (%(o)s, 'PENDING', 'CANCELLED')",
    ],
    "order_history_valid_steps": [
        _ORDER,
        _STEPS + "(%(o)s, NULL, 'PENDING'), (%(o)s, 'PENDING', 'DELIVERED')",
    ],
    "order_status_matches_history": [
        _ORDER.replace("%(state)s", "'CONFIRMED'"),
        _STEPS + "(%(o)s, NULL, 'PENDING')",
    ],
}


def test_every_probe_has_a_plant() -> None:
    assert set(PLANTS) == {p.stem for p in PROBES.glob("*.sql")}
    for path in PROBES.glob("*.sql"):
        assert path.read_text().startswith("-- "), path


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_probe_passes_clean_and_finds_its_plant(make_database: Callable[[], str], name: str) -> None:
    url = make_database()
    seed(url, buyers=1, sellers=1, agents=2, admins=1)
    assert probe(url, name) == []
    params = {"o": str(uuid.uuid4()), "j": str(uuid.uuid4()), "state": "PENDING", "key": "k1"}
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in PLANTS[name]:
            conn.execute(statement.encode(), params if "%(" in statement else None)
    assert len(probe(url, name)) >= 1
