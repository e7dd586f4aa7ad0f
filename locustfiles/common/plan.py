"""plan.json (docs/contracts.md) as the Locust side reads it.

The shapes are the run folder contract's (`loadgate_contract.plan`): a worker on another machine
needs only `locustfiles`, `loadgate_contract` and the JSON file, nothing of the harness.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadgate_contract.files import ENV_PLAN
from loadgate_contract.plan import Plan as RunPlan
from loadgate_contract.plan import PlanPhase as Phase
from loadgate_contract.plan import RaceSpec as Race

__all__ = ["Phase", "Race", "RunPlan", "load_plan", "parse_plan"]


def parse_plan(doc: Mapping[str, Any]) -> RunPlan:
    """A `RunPlan` from the plan.json document."""
    return RunPlan.from_json(doc)


def load_plan() -> RunPlan:
    """The plan `LOADGATE_PLAN` names; without one, a clear error (the harness writes plans)."""
    path = os.environ.get(ENV_PLAN)
    if not path:
        raise SystemExit(
            f"{ENV_PLAN}: not set; point it at a plan.json (every run folder has one, e.g. "
            "runs/latest/plan.json), or let `harness run` start Locust"
        )
    return parse_plan(json.loads(Path(path).read_text()))
