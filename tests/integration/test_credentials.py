"""Credentials instead of pre-minted tokens, against a real reference service and real Locust.

`harness fixtures` logs a users file in and writes ids that match the database; a Locust run whose
tokens expire every 2 s (TOKEN_TTL_S) keeps working because each user logs in again on a 401.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from harness.cli import main
from harness.locust_runner import LocustProcesses
from harness.scenario import load_scenario
from harness.service_process import ServiceProcess
from harness.stack import migrate_and_seed
from reports.measures import failed_mask

pytestmark = pytest.mark.integration
TOKEN_TTL_S = 2.0


@dataclass
class Service:
    base_url: str
    database_url: str
    users_file: Path
    seeded: list[dict[str, Any]]


@pytest.fixture
def service(make_database: Callable[[], str], tmp_path: Path) -> Iterator[Service]:
    """A reference service whose tokens live 2 s, and a users file of its seeded users (no ids, no tokens)."""
    url = make_database()
    seeded_path = tmp_path / "seeded.json"
    migrate_and_seed(url, seeded_path)
    seeded = json.loads(seeded_path.read_text())["users"]
    users_file = tmp_path / "users.json"
    users_file.write_text(
        json.dumps({"users": [{k: u[k] for k in ("email", "password", "role")} for u in seeded]})
    )
    proc = ServiceProcess(
        url,
        log_file=tmp_path / "service.jsonl",
        output_file=tmp_path / "service.log",
        env={"TOKEN_TTL_S": str(TOKEN_TTL_S)},
    )
    proc.start()
    try:
        yield Service(proc.base_url, url, users_file, seeded)
    finally:
        proc.stop()


def _fixtures(svc: Service, out: Path, users: Path | None = None) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stderr(err):
        code = main(
            ["fixtures", "--target", svc.base_url, "--users", str(users or svc.users_file), "--out", str(out)]
        )
    return code, err.getvalue()


def test_fixtures_command_writes_the_ids_the_database_holds(service: Service, tmp_path: Path) -> None:
    out = tmp_path / "fixtures.json"
    assert _fixtures(service, out) == (0, "")
    built = {u["email"]: u for u in json.loads(out.read_text())["users"]}
    with psycopg.connect(service.database_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            """SELECT u.email, u.id::text, u.role, w.id::text AS wallet, a.id::text AS agent FROM users u
               LEFT JOIN wallets w ON w.owner_id = u.id LEFT JOIN delivery_agents a ON a.user_id = u.id"""
        ).fetchall()
    assert set(built) == {r["email"] for r in rows}
    for r in rows:
        u = built[r["email"]]
        assert (u["id"], u["role"], u.get("walletId"), u.get("agentId")) == (
            r["id"],
            r["role"],
            r["wallet"],
            r["agent"],
        )
        assert "token" not in u
    assert json.loads(out.read_text())["baseUrl"] == service.base_url


def test_fixtures_command_names_what_is_missing(service: Service, tmp_path: Path) -> None:
    no_agents = [u for u in service.seeded if u["role"] != "AGENT"]
    wrong = dict(no_agents[0], password="not-it")
    users = tmp_path / "users.csv"
    lines = ["email,password,role"] + [
        f"{u['email']},{u['password']},{u['role']}" for u in [wrong, *no_agents[1:]]
    ]
    users.write_text("\n".join(lines) + "\n")
    code, err = _fixtures(service, tmp_path / "f.json", users)
    assert code == 2
    assert f"{wrong['email']}: POST /api/auth/login answered 401 INVALID_CREDENTIALS" in err
    assert "no AGENT user: every scenario needs at least one BUYER, SELLER, AGENT and ADMIN" in err
    assert "acceptance_race" in err
    assert not (tmp_path / "f.json").exists()


def _run_locust(base_url: str, fixtures: Path, run_dir: Path) -> list[dict[str, str]]:
    plan = load_scenario("steady_50").resolve(200).to_json()  # 30 nominal minutes in 9 s
    run_dir.mkdir()
    (run_dir / "plan.json").write_text(json.dumps(plan))
    locust = LocustProcesses(base_url, run_dir, run_dir / "plan.json", fixtures, stop_timeout_s=5)
    locust.start()
    try:
        deadline = time.monotonic() + plan["duration_s"] + 40
        while locust.running() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        exits = locust.stop()
    assert all(e["exit_code"] == 0 for e in exits), (run_dir / "locust.log").read_text()[-3000:]
    with (run_dir / "requests.csv").open() as f:
        return list(csv.DictReader(f))


def test_expired_tokens_are_renewed_by_logging_in_again(service: Service, tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures.json"
    assert _fixtures(service, fixtures)[0] == 0
    rows = sorted(_run_locust(service.base_url, fixtures, tmp_path / "run"), key=lambda r: float(r["ts"]))
    renewed = [r for r in rows if r["status"] == "401" and r["error_code"] == "AUTH_RENEWED"]
    plain_401 = [r for r in rows if r["status"] == "401" and r["error_code"] != "AUTH_RENEWED"]
    logins = [r for r in rows if r["name"] == "POST /api/auth/login"]
    # Tokens lived 2 s in a 9 s run: users met expired tokens, logged in again, and carried on.
    assert renewed, "no token expired during the run: nothing was tested"
    assert plain_401 == [], plain_401[:3]
    assert all(r["status"] == "200" for r in logins), [r for r in logins if r["status"] != "200"][:3]
    assert len(logins) > len({r["name"] for r in logins}) and len(logins) >= len(renewed) / 50
    last_renewal = float(renewed[-1]["ts"])
    later_ok = [r for r in rows if float(r["ts"]) > last_renewal and r["status"].startswith("2")]
    assert later_ok, "no success after the last renewal: a user is stuck"
    # The renewed 401s are not failures; the resent requests are judged instead.
    status = [int(r["status"]) for r in rows]
    codes = [r["error_code"] for r in rows]
    import numpy as np

    failed = failed_mask(np.array(status), np.array(codes, dtype=object))
    assert int(failed.sum()) == 0, [r for r, f in zip(rows, failed, strict=True) if f][:3]


def test_concurrent_greenlets_share_one_login() -> None:
    import os
    import subprocess
    import sys

    script = Path(__file__).with_name("relogin_stampede.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "logins=1"
