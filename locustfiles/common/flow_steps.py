"""Which profile steps each flow of `flows.py` sends: pure data, importable without Locust.

The harness sizes a run from it before any Locust process exists (harness/sizing.py), and the
locustfile names a dropped arrival by it (flows.py); one table keeps the two from drifting.
"""

from __future__ import annotations

from collections.abc import Mapping

# The step each flow sends first, for naming a DROPPED arrival like the request it would have sent.
FIRST_STEP: Mapping[str, str] = {
    "orders_created": "create_order",
    "payments_initiated": "initiate_payment",
    "payments_captured": "capture",
    "agent_assignments": "change_status",
    "deliveries_confirmed": "pickup",
    "admin_metrics": "leaderboard",
}

# What one arrival of each flow sends, by profile step: requests per arrival.
MIX_STEPS: Mapping[str, Mapping[str, float]] = {
    "orders_created": {"create_order": 1.0},
    "payments_initiated": {"initiate_payment": 1.0},
    "payments_captured": {"capture": 1.0},
    "agent_assignments": {
        "change_status": 1.0,
        "open_assignment": 1.0,
        "list_assignments": 1.0,
        "accept": 1.0,
    },
    "deliveries_confirmed": {"pickup": 1.0, "deliver": 1.0},
    # one of the three admin reads, chosen at random
    "admin_metrics": {"leaderboard": 1 / 3, "agent_metrics": 1 / 3, "sla_summary": 1 / 3},
}
