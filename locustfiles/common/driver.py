"""The open-model driver: one per worker process, starting flows at their scheduled instants.

Each arrival is `gevent.spawn`ed at its intended time and never waits for earlier flows, so a
stalled service cannot slow the arrivals down and hide its stall (coordinated omission). The first
request of each flow carries its intended send time; reports measure latency from it. The number
of flows in flight is bounded (`max_in_flight`, shared evenly by the workers); an arrival over the
bound is recorded as a DROPPED sample instead of being queued.
"""

from __future__ import annotations

import gevent
from gevent.pool import Group
from locust.env import Environment

import logging
import math
import random

from locustfiles.common.actors import Cast
from locustfiles.common.arrivals import schedule
from locustfiles.common.client import make_session
from locustfiles.common.flows import Flows
from locustfiles.common.profile import Profile
from locustfiles.common.runtime import Runtime
from locustfiles.common.samples import fire_dropped
from locustfiles.common.state import Pipeline

log = logging.getLogger(__name__)


def run_load(
    runtime: Runtime, environment: Environment, host: str, cast: Cast, profile: Profile | None = None
) -> None:
    """Run this worker's share of the plan's arrivals, then wait for its flows to finish."""
    plan = runtime.plan
    t0 = runtime.wait_started()
    index, count = runtime.worker_index, runtime.worker_count
    bound = max(1, math.ceil(plan.max_in_flight / count))
    session = make_session(
        environment,
        host,
        connections=bound,
        timeout_s=plan.request_timeout_s,
        tls_verify=plan.tls.verify,
        ca_bundle=plan.tls.ca_bundle,
    )
    flows = Flows(
        session,
        cast,
        Pipeline(),
        random.Random(f"{plan.seed}:flows:{index}"),
        retry_budget_s=plan.request_timeout_s,
        profile=profile,
    )
    first_request = flows.first_request
    in_flight = Group()
    arrivals = 0
    for arrival in schedule(
        plan.phases, kind=plan.arrival, seed=plan.seed, worker_index=index, worker_count=count
    ):
        intended = t0 + arrival.at_s
        runtime.sleep_until(intended)
        if runtime.stop_reason is not None:
            break
        arrivals += 1
        if len(in_flight) >= bound:
            fire_dropped(
                environment,
                first_request[arrival.flow],
                {"flow": arrival.flow, "ts_intended": intended},
            )
            continue
        in_flight.spawn(_guarded, flows, arrival.flow, intended)
    if runtime.stop_reason is None:
        runtime.sleep_until(t0 + plan.duration_s)
    # Let flows that started before the end finish (bounded: a hung service must not hang the run;
    # after an early stop, shorter: Locust's --stop-timeout ends the driver anyway).
    in_flight.join(timeout=plan.request_timeout_s + 2.0 if runtime.stop_reason is None else 3.0)
    if len(in_flight):
        log.warning("loadgate: %d flows still in flight at the end were abandoned", len(in_flight))
        in_flight.kill(block=False)
    log.info("loadgate: worker %d ran %d arrivals", index, arrivals)


def _guarded(flows: Flows, flow: str, intended: float) -> None:
    try:
        flows.run(flow, intended)
    except gevent.GreenletExit:
        raise
    except Exception:  # a bug in one flow must not end the driver; the traceback goes to the log
        log.exception("loadgate: flow %s failed", flow)
