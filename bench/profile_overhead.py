"""Benchmark: the CPU a target profile adds to each request the flows send (issue 14).

    .venv/bin/python bench/profile_overhead.py [--n 200000] [--repeats 5]

The client's own Python work per request, with the network taken out: a stand-in session answers
every request at once with a small JSON body, so what is timed is building the URL, headers and
body, parsing the answer and reading its id and error code. Two ways of sending the same
`GET /api/admin/agents/metrics/{agentId}`:
  a) `client.request` with the method and path template spelled out (what the flows did before
     profiles);
  b) `client.send` through API.md's profile step (what they do now).
CPU time (process_time), best of `--repeats`, so a busy machine moves it less than wall time.
Compare with the driver's whole cost per arrival at its ceiling (BENCHMARKS.md, "Load generator
ceiling": about 280 us of CPU per arrival at 3,000 arrivals/s in one process).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, whatever the install
os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")  # no gevent patching: nothing here does I/O

from locustfiles.common.client import Call, request, send
from locustfiles.common.profile import load_profile


class _Answer:
    status_code = 200
    content = b'{"id":"x","items":[]}'
    headers: dict[str, str] = {}
    error = None

    def success(self) -> None:
        pass

    def failure(self, message: str) -> None:
        pass


class _Exchange:
    def __enter__(self) -> _Answer:
        return _Answer()

    def __exit__(self, *exc: object) -> None:
        return None


class _Session:
    """Answers every request at once (the network is not what is measured)."""

    def request(self, *args: Any, **kwargs: Any) -> _Exchange:
        return _Exchange()


class _User:
    def bearer(self, session: Any) -> str:
        return "token"

    def can_renew(self) -> bool:
        return True

    def renew(self, session: Any, stale: str) -> str:
        return stale


def per_request_us(one: Callable[[], Any], n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(n):
            one()
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    session, user, profile = _Session(), _User(), load_profile(None)
    step = profile.agent_metrics

    def spelled_out() -> Any:
        return request(
            session,  # type: ignore[arg-type]
            Call("admin_metrics"),
            "GET",
            "/api/admin/agents/metrics/{agentId}",
            params={"agentId": "a1"},
            auth=user,
            profile=profile,
        )

    def through_profile() -> Any:
        return send(session, Call("admin_metrics"), profile, step, {"agent_id": "a1"}, auth=user)  # type: ignore[arg-type]

    for label, one in (
        ("request, path spelled out", spelled_out),
        ("send, API.md's profile step", through_profile),
    ):
        print(f"{label}: {per_request_us(one, args.n, args.repeats):.2f} us CPU per request", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
