"""The load shape: one driver user per worker for the plan's phases; stops when the work is done.

Phases change arrival rates, not user counts (the open model lives inside the driver), so the
shape only keeps exactly one driver per worker alive and decides the end: when every worker
reported done (load, capacity) or every race trial is written (race), or at a hard cap past the
plan's duration so a wedged worker cannot hold the run.
"""

from __future__ import annotations

from locust import LoadTestShape, User

from collections.abc import Callable

from locustfiles.common.plan import RunPlan


def hard_cap_s(plan: RunPlan) -> float:
    """Seconds after the start past which the shape stops regardless (within the harness's allowance)."""
    grace = 30.0 if plan.kind == "race" else min(plan.request_timeout_s, 10.0) + 5.0
    return plan.duration_s + grace


class PlanShape(LoadTestShape):
    """Subclassed in the locustfile with the plan, the user class and the "finished" test."""

    abstract = True
    plan: RunPlan
    user_class: type[User]
    finished: Callable[[], bool]

    def tick(self) -> tuple[int, float, list[type[User]]] | None:
        runner = self.runner
        elapsed = self.get_run_time()
        if elapsed > 1.0 and type(self).finished():
            return None
        if elapsed > hard_cap_s(self.plan):
            return None
        workers = max(int(getattr(runner, "worker_count", 1) or 1), 1)
        return workers, float(workers * 10), [self.user_class]
