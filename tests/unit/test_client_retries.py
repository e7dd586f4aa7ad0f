"""A careful client: keyed writes retried with the same key, only when the outcome is unknown."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# As in test_locust_samples: no gevent monkey-patching in this pytest process, switch taken back.
_SET_HERE = "LOCUST_SKIP_MONKEY_PATCH" not in os.environ
os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")

from locust.env import Environment  # noqa: E402

from locustfiles.common.client import (  # noqa: E402
    Call,
    Result,
    indeterminate,
    make_session,
    request_retrying,
    retry_wait,
)

if _SET_HERE:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]


def test_what_is_retried() -> None:
    assert indeterminate(Result(0, None, "TIMEOUT"))
    assert indeterminate(Result(0, None, "CONNECTION_ERROR"))
    assert indeterminate(Result(503, None, "DATABASE_UNAVAILABLE", retry_after=1.0))
    assert indeterminate(Result(409, None, "IDEMPOTENCY_KEY_IN_PROGRESS", retry_after=1.0))
    assert not indeterminate(Result(0, None, "DROPPED"))
    assert not indeterminate(Result(503, None, "DATABASE_UNAVAILABLE")), "no Retry-After: not invited"
    assert not indeterminate(Result(500, None, "INTERNAL_ERROR"))
    assert not indeterminate(Result(400, None, "INSUFFICIENT_FUNDS"))
    assert not indeterminate(Result(201, {"id": "x"}))


def test_waits_honour_retry_after_capped() -> None:
    assert retry_wait(Result(503, None, retry_after=1.0), 1) == 1.0
    assert retry_wait(Result(503, None, retry_after=30.0), 1) == 2.0
    assert [retry_wait(Result(0, None, "TIMEOUT"), n) for n in (1, 2, 3)] == [0.25, 0.5, 0.5]


class _Flaky(BaseHTTPRequestHandler):
    answers: list[int] = []
    keys: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.keys.append(self.headers.get("Idempotency-Key", ""))
        status = self.answers.pop(0) if self.answers else 201
        body = json.dumps({"id": "o1"} if status == 201 else {"code": "DATABASE_UNAVAILABLE"}).encode()
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "0.1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _samples(environment: Environment) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    environment.events.request.add_listener(lambda **kw: seen.append(kw))  # type: ignore[no-untyped-call]
    return seen


def test_each_attempt_is_a_sample_with_the_same_key(flaky: str) -> None:
    _Flaky.answers, _Flaky.keys = [503, 503], []
    environment = Environment()
    seen = _samples(environment)
    session = make_session(environment, flaky, connections=2, timeout_s=5.0)
    call = Call("orders_created", ts_intended=123.0)
    result = request_retrying(
        session, call, "POST", "/api/orders", idempotency_key="k1", budget_s=5.0, json_body={}
    )
    assert result.status == 201 and result.id == "o1"
    assert _Flaky.keys == ["k1", "k1", "k1"]
    assert [s["context"].get("ts_intended") for s in seen] == [123.0, None, None], (
        "the first keeps the intent"
    )
    assert [s["context"]["idempotency_key"] for s in seen] == ["k1"] * 3


def test_no_attempt_starts_past_the_budget(flaky: str) -> None:
    _Flaky.answers, _Flaky.keys = [503, 503, 503], []
    environment = Environment()
    session = make_session(environment, flaky, connections=2, timeout_s=5.0)
    result = request_retrying(
        session,
        Call("orders_created"),
        "POST",
        "/api/orders",
        idempotency_key="k2",
        budget_s=0.05,
        json_body={},
    )
    assert result.status == 503 and _Flaky.keys == ["k2"]
