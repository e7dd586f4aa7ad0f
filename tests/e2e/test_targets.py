"""`harness run SUITE --target URL` against backends the test starts itself: a member whose fault
needs the database is skipped with its reason, `--db-hooks` gives it back, and a target on a
non-loopback address (in a network namespace the test makes) runs end to end."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.db.base import free_port, recreate_database, wait_until_accepting, with_database
from harness.db.embedded import PG_SYSTEM_USER, EmbeddedPostgres, bin_dir
from harness.processes import wait_until
from harness.service_process import ServiceProcess
from harness.stack import migrate_and_seed
from tests.e2e.conftest import csv_rows, read_json
from tests.e2e.test_chaos_run import RESTART
from tests.e2e.test_harness_run import TINY_LOAD

pytestmark = pytest.mark.e2e


def _tiny_suite(tmp_path: Path) -> Path:
    """`suites/tiny.toml` beside two small scenarios: a load, and the same with a db_restart."""
    (tmp_path / "suites").mkdir()
    (tmp_path / "tiny_load.toml").write_text(TINY_LOAD)
    (tmp_path / "tiny_restart.toml").write_text(
        RESTART.replace('name = "tiny_load"', 'name = "tiny_restart"')
    )
    suite = tmp_path / "suites" / "tiny.toml"
    suite.write_text('name = "tiny"\ndescription = "e2e"\nscenarios = ["tiny_load", "tiny_restart"]\n')
    return suite


@contextlib.contextmanager
def _own_postgres(
    tmp_path: Path, listen: str = "127.0.0.1", trust: str | None = None
) -> Iterator[dict[str, str]]:
    """A PostgreSQL of this test's own, run by `pg_ctl` (so shell hooks can stop and start it).

    Yields its `url` (a seeded-to-be database `app` on 127.0.0.1) and the `stop`/`start` commands.
    """
    data = tmp_path / "pgdata"
    pg = EmbeddedPostgres(data)
    pg.initdb()  # as the unprivileged user under root, like the harness's own server
    if trust:
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {trust} trust\n")
    port = free_port()
    as_user = f"runuser -u {PG_SYSTEM_USER} -- " if os.geteuid() == 0 else ""
    ctl = f"{as_user}{bin_dir() / 'pg_ctl'} -D {data}"
    options = f"-h {listen} -p {port} -k {data} -c fsync=off -c max_connections=200"
    commands = {
        "start": f"{ctl} -l {data}/server.log -w -t 30 -o '{options}' start",
        "stop": f"{ctl} -m fast -w -t 30 stop",
    }
    subprocess.run(["sh", "-c", commands["start"]], check=True, capture_output=True, timeout=60)
    try:
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        wait_until_accepting(admin, timeout_s=30)
        recreate_database(admin, "app")
        yield {**commands, "url": with_database(admin, "app"), "port": str(port)}
    finally:
        subprocess.run(["sh", "-c", f"{ctl} -m immediate -w -t 30 stop"], capture_output=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def test_db_hooks_give_the_restart_back_and_it_is_injected_and_judged(harness: Any, tmp_path: Path) -> None:
    with _own_postgres(tmp_path) as pg:
        fixtures, log = tmp_path / "their-fixtures.json", tmp_path / "their.jsonl"
        migrate_and_seed(pg["url"], fixtures)
        hooks = tmp_path / "hooks.toml"
        hooks.write_text(
            f"timeout_s = 60\nstop = {json.dumps(pg['stop'])}\nstart = {json.dumps(pg['start'])}\n"
        )
        scenario = tmp_path / "tiny_restart.toml"
        scenario.write_text(RESTART.replace('name = "tiny_load"', 'name = "tiny_restart"'))
        with ServiceProcess(pg["url"], log_file=log, output_file=tmp_path / "their.log") as service:
            target = ("--target", service.base_url, "--fixtures", str(fixtures), "--database-url", pg["url"])
            run = harness("run", str(scenario), *target, "--db-hooks", str(hooks))
            code, out = run.finish(timeout_s=300)
    assert code in (0, 1), out  # without the hooks this scenario is refused (exit 2) before it starts
    child = run.run_dir()
    assert child is not None, out
    faults = [json.loads(line) for line in (child / "faults.jsonl").read_text().splitlines()]
    assert [(f["kind"], f["outcome"]) for f in faults] == [("db_restart", "applied")], faults
    assert "stop hook ok" in faults[0]["detail"] and "start hook ok" in faults[0]["detail"]
    hook_log = (child / "db_hooks.log").read_text()
    assert "db_restart stop:" in hook_log and "db_restart start:" in hook_log
    assert read_json(child / "run.json")["db_control"]["kind"] == "hooks"
    checks = read_json(child / "summary.json")["checks"]
    assert any("db_restart" in c["name"] for c in checks), [c["name"] for c in checks]


def _sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def _namespace() -> Iterator[tuple[str, str, str]]:
    """A network namespace joined to the host by a veth pair in a private /30: (name, host ip, ns ip)."""
    if shutil.which("ip") is None:
        pytest.skip("cannot create network namespaces: no `ip` command (Debian: iproute2)")
    tag = f"{os.getpid() % 100000}"
    name, host_if, ns_if = f"lgt{tag}", f"lgt{tag}h", f"lgt{tag}n"
    subnet = 4 * (os.getpid() % 60)  # a /30 of 10.213.N.0/24 per test process
    third = os.getpid() % 250
    host_ip, ns_ip = f"10.213.{third}.{subnet + 1}", f"10.213.{third}.{subnet + 2}"
    try:
        _sh("ip", "netns", "add", name)
    except (subprocess.CalledProcessError, OSError) as exc:
        reason = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        pytest.skip(f"cannot create network namespaces: {reason}")
    try:
        _sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _sh("ip", "link", "set", ns_if, "netns", name)
        _sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
        _sh("ip", "link", "set", host_if, "up")
        _sh("ip", "netns", "exec", name, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        _sh("ip", "netns", "exec", name, "ip", "link", "set", ns_if, "up")
        _sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name, host_ip, ns_ip
    finally:
        for pid in subprocess.run(
            ["ip", "netns", "pids", name], capture_output=True, text=True, check=False
        ).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def test_a_target_on_a_non_loopback_address_in_a_network_namespace_runs_end_to_end(
    harness: Any, tmp_path: Path
) -> None:
    with (
        _namespace() as (ns, host_ip, ns_ip),
        _own_postgres(tmp_path, listen=f"127.0.0.1,{host_ip}", trust=f"{ns_ip}/32") as pg,
    ):
        fixtures, log = tmp_path / "their-fixtures.json", tmp_path / "their.jsonl"
        migrate_and_seed(pg["url"], fixtures)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": pg["url"].replace("127.0.0.1", host_ip),
            "SERVICE_HOST": ns_ip,
            "SERVICE_PORT": str(port),
            "LOG_FILE": str(log),
        }
        with open(tmp_path / "their.log", "wb") as output:
            service = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-m", "reference_service"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        target = f"http://{ns_ip}:{port}"
        try:

            def live() -> bool:
                try:
                    return httpx.get(f"{target}/health/live", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            assert wait_until(live, timeout_s=30), (tmp_path / "their.log").read_text()[-2000:]
            (tmp_path / "tiny.toml").write_text(TINY_LOAD)
            args = ("--target", target, "--fixtures", str(fixtures), "--database-url", pg["url"])
            run = harness("run", str(tmp_path / "tiny.toml"), *args, "--service-log", str(log))
            code, out = run.finish(timeout_s=240)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.pid, signal.SIGTERM)
            try:
                service.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(service.pid, signal.SIGKILL)
                service.wait()
    assert f"target {target} answers" in out, out
    run_dir = run.run_dir()
    assert run_dir is not None, out
    record = read_json(run_dir / "run.json")
    assert record["status"] == "complete", record["errors"]
    assert record["target"] == target and record["target_tls_verify"] is True
    rows = csv_rows(run_dir / "requests.csv")
    answered = [r for r in rows if r["status"].startswith("2")]
    assert len(answered) > 20, rows[:5]
    assert code in (0, 1), out
