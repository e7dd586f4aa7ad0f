"""The capacity ramp's early stop: which step the watch calls broken, and when."""

from __future__ import annotations

import os

# Pure logic: no gevent monkey-patching in the pytest process (see test_locust_samples.py).
_SET_HERE = "LOCUST_SKIP_MONKEY_PATCH" not in os.environ
os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")

from loadgate_contract.plan import ArrivalKind, Kind  # noqa: E402
from locustfiles.common.plan import Phase, RunPlan  # noqa: E402
from locustfiles.common.samples import make_row  # noqa: E402
from locustfiles.common.step_watch import StepWatch  # noqa: E402

if _SET_HERE:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]

RATES = {"orders_created": 1000.0}


def _plan() -> RunPlan:
    phases = (
        Phase("warmup", 0.0, 5.0, RATES),
        Phase("step-1", 5.0, 10.0, RATES),
        Phase("step-2", 15.0, 10.0, RATES),
        Phase("step-3", 25.0, 10.0, RATES),
    )
    return RunPlan(
        scenario="capacity",
        kind=Kind.CAPACITY,
        speedup=20.0,
        arrival=ArrivalKind.POISSON,
        seed=1,
        max_in_flight=100,
        request_timeout_s=10.0,
        duration_s=35.0,
        phases=phases,
        race=None,
    )


def _rows(
    phase: str, n: int, latency_ms: float, status: int = 201, waited_s: float = 0.0
) -> list[list[object]]:
    class Response:
        status_code = status
        content = b'{"code": "X"}'

    rows = []
    for i in range(n):
        row = make_row(
            name="/api/orders",
            request_type="POST",
            response_time=latency_ms,
            response_length=10,
            response=Response(),
            exception=None,
            start_time=1000.0 + i,
            context={"ts_intended": 1000.0 + i - waited_s},
            phase=phase,
            worker=0,
        )
        rows.append(row)
    return rows


def test_a_step_is_judged_only_after_its_end_plus_the_grace() -> None:
    watch = StepWatch(_plan(), grace_s=2.0)
    watch.add(_rows("step-1", 100, 900.0))
    assert watch.broken(14.0) is None  # step-1 ends at 15 s
    assert watch.broken(16.9) is None
    reason = watch.broken(17.0)
    assert reason is not None and reason.startswith("step-1: 100 requests, p95 900 ms")


def test_held_steps_let_the_ramp_go_on_and_the_first_broken_one_stops_it() -> None:
    watch = StepWatch(_plan(), grace_s=1.0)
    watch.add(_rows("warmup", 50, 2000.0))  # the warm-up is not a step
    watch.add(_rows("step-1", 100, 20.0))
    watch.add(_rows("step-2", 100, 20.0, waited_s=0.6))  # queued before sending: 620 ms for the user
    assert watch.broken(20.0) is None
    reason = watch.broken(26.0)
    assert reason is not None and reason.startswith("step-2") and "p95 620 ms" in reason
    assert watch.broken(40.0) == reason


def test_failures_and_drops_break_a_step_and_client_errors_of_the_flow_do_not() -> None:
    failing = StepWatch(_plan(), grace_s=0.0)
    failing.add(_rows("step-1", 98, 20.0) + _rows("step-1", 2, 20.0, status=503))
    assert (failing.broken(15.0) or "").endswith("failed 2.00%, dropped 0")
    fine = StepWatch(_plan(), grace_s=0.0)
    fine.add(_rows("step-1", 98, 20.0) + _rows("step-1", 2, 20.0, status=409))
    assert fine.broken(15.0) is None
    dropped = StepWatch(_plan(), grace_s=0.0)
    rows = _rows("step-1", 100, 20.0)
    rows[0][6] = "DROPPED"
    dropped.add(rows)
    assert (dropped.broken(15.0) or "").endswith("dropped 1")


def test_a_step_with_no_sample_at_all_is_broken() -> None:
    watch = StepWatch(_plan(), grace_s=0.0)
    watch.add(_rows("step-1", 10, 20.0))
    assert watch.broken(25.0) == "step-2: 0 requests, p95 nan ms, failed 0.00%, dropped 0"
