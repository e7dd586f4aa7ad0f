"""Shared fixtures of the reference-service tests: one service per safeguard configuration.

`service_stack(off)` returns a running service (its own fresh database, migrated and seeded) for
the given SAFEGUARDS_OFF tuple; stacks are started on first use and shared by the whole session,
so the suite pays for each configuration once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.db.base import recreate_database, with_database
from harness.service_process import ServiceProcess
from reference_service.seed import seed
from tests.integration.service_helpers import Stack

SEED_BALANCE_CENTS = 10_000_000


@pytest.fixture(scope="session")
def service_stack(
    pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Stack]]:
    """`service_stack()` (all safeguards on) or `service_stack("wallet_isolation")`: a shared Stack.

    `race_window_ms` starts the service with RACE_WINDOW_MS (a separate stack per window), `defects`
    with DEFECTS (deliberate bugs, reference_service/config.py).
    """
    stacks: dict[tuple[tuple[str, ...], float, tuple[str, ...]], Stack] = {}

    def get(*off: str, race_window_ms: float = 0.0, defects: tuple[str, ...] = ()) -> Stack:
        key = (tuple(sorted(off)), race_window_ms, tuple(sorted(defects)))
        if key not in stacks:
            name = f"svc_{'_'.join(key[0] + key[2]) or 'default'}_{uuid.uuid4().hex[:6]}"
            recreate_database(pg_admin_url, name)
            url = with_database(pg_admin_url, name)
            folder = Path(tmp_path_factory.mktemp(name))
            service = ServiceProcess(
                url,
                log_file=folder / "service.jsonl",
                output_file=folder / "service.log",
                safeguards_off=key[0],
                env={"RACE_WINDOW_MS": str(race_window_ms), "DEFECTS": ",".join(key[2])},
            )
            fixtures = seed(
                url,
                buyers=40,
                sellers=5,
                agents=12,
                admins=1,
                balance_cents=SEED_BALANCE_CENTS,
                token_secret=service.token_secret,
            )
            service.start(timeout_s=30)
            stacks[key] = Stack(url, service, fixtures, folder / "service.jsonl")
        return stacks[key]

    yield get
    for stack in stacks.values():
        stack.service.stop()
