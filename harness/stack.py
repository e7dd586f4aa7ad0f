"""The system under test as a run needs it: a database, the reference service, seeded fixtures.

Either the harness starts it all (embedded PostgreSQL or `DATABASE_URL`, then the reference
service on loopback), or the user points at a backend someone else runs (`--target`), in which
case nothing is started, the user's fixtures file is used, and the database (if given) is only
read by the probes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from harness.db.backends import Backend, fresh_database
from harness.db.base import server_version
from harness.errors import InvalidInput, RunFailed
from harness.faults.db_proxy import DbProxy, open_db_proxy
from harness.service_process import ServiceProcess
from harness.target import parse_target
from loadgate_contract.records import DatabaseInfo, FaultProxyInfo, ProcessEntry

SEED_COUNTS = {"buyers": 20, "sellers": 5, "agents": 12, "admins": 1}


def _module(args: Sequence[str], *, env: dict[str, str], what: str, timeout_s: float = 120) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RunFailed(
            f"{what} failed (exit {result.returncode}):\n{(result.stderr or result.stdout)[-2000:]}"
        )


def migrate_and_seed(
    database_url: str, fixtures_path: Path, *, base_url: str | None = None, token_secret: str | None = None
) -> None:
    """Apply the reference service's migrations and seed users, wallets and agents.

    With `token_secret` (the service's, `ServiceProcess.token_secret`) the fixtures carry each
    user's access token; without it they carry none and the users log in over HTTP.
    """
    env = {"DATABASE_URL": database_url}
    if token_secret:
        env["TOKEN_SECRET"] = token_secret
    _module(["reference_service.migrate"], env=env, what="schema migration")
    args = ["reference_service.seed", "--database-url", database_url, "--out", str(fixtures_path)]
    for name, count in SEED_COUNTS.items():
        args += [f"--{name}", str(count)]
    if base_url:
        args += ["--base-url", base_url]
    _module(args, env=env, what="seeding")


class StackInfo(TypedDict, total=False):
    """What the run records of the stack it runs against (run.json `database`, `fault_proxy`)."""

    target: str
    database: DatabaseInfo | None
    postgresql: str | None
    fault_proxy: FaultProxyInfo


@dataclass
class Stack:
    """What a scenario runs against; `stop()` stops what this stack started, in reverse order."""

    base_url: str
    fixtures_path: Path
    database_url: str | None
    service: ServiceProcess | None = None
    backend: Backend | None = None
    proxy: DbProxy | None = None
    info: StackInfo = field(default_factory=lambda: StackInfo())

    def stop_service(self) -> list[ProcessEntry]:
        """Stop the service, then the fault proxy in front of its database."""
        exits: list[ProcessEntry] = []
        if self.service is not None:
            by = "exited" if self.service.returncode is not None else "harness"
            code = self.service.stop()
            exits.append({"name": "service", "pid": self.service.pid, "exit_code": code, "stopped_by": by})
        if self.proxy is not None:
            self.proxy.close()  # deletes the proxy it created, on a real Toxiproxy too
        return exits


def start_service_stack(
    backend: Backend,
    run_dir: Path,
    *,
    safeguards_off: Sequence[str] = (),
    service_env: dict[str, str] | None = None,
    with_proxy: bool = False,
    toxiproxy_url: str | None = None,
) -> Stack:
    """Fresh database on `backend`, migrated and seeded, and a reference service over it.

    `with_proxy` puts a TCP fault proxy between the service and PostgreSQL (for `db_latency`):
    a proxy on the Toxiproxy server at `toxiproxy_url`, or loadgate's own behind the same API.
    Migrations, seeding and probes still talk to PostgreSQL directly.
    """
    database_url = fresh_database(backend)
    fixtures = run_dir / "fixtures.json"
    proxy = None
    service_url = database_url
    if with_proxy:
        proxy = open_db_proxy(database_url, toxiproxy_url)
        service_url = proxy.database_url(database_url)
    service = ServiceProcess(
        service_url,
        log_file=run_dir / "service.jsonl",
        output_file=run_dir / "service.log",
        safeguards_off=list(safeguards_off),
        env=service_env,
    )
    try:
        migrate_and_seed(database_url, fixtures, token_secret=service.token_secret)
        service.start()
    except BaseException:
        if proxy is not None:
            proxy.close()
        raise
    info: StackInfo = {
        "target": service.base_url,
        "database": {**backend.describe(), "database_url": database_url},
        "postgresql": server_version(database_url),
    }
    if proxy is not None:
        info["fault_proxy"] = proxy.describe()
    return Stack(
        base_url=service.base_url,
        fixtures_path=fixtures,
        database_url=database_url,
        service=service,
        backend=backend,
        proxy=proxy,
        info=info,
    )


def external_stack(target: str, fixtures: Path | None, database_url: str | None) -> Stack:
    """A backend someone else runs: nothing is started; its fixtures file says who may log in."""
    target = parse_target(target)
    if fixtures is None or not fixtures.exists():
        raise InvalidInput(
            f"--target needs --fixtures FILE (the seeded users of that backend); got {fixtures}"
        )
    info: StackInfo = {
        "target": target,
        "database": {"kind": "external", "read_only": True} if database_url else None,
    }
    return Stack(base_url=target, fixtures_path=fixtures, database_url=database_url, info=info)
