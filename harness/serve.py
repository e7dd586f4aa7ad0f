"""`make serve`: embedded PostgreSQL, a freshly seeded database, the reference service on loopback.

For a human at Locust's web UI. Each start recreates the `loadgate` database so the fixtures file
always matches what is in it; the cluster itself stays in `.pgdata/` between starts. With
`--backend docker` the database is a container instead (removed at Ctrl-C), for trying the
engine's own faults by hand: `docker pause <container>` while Locust runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from harness.db.backends import Backend, fresh_database, make_backend
from harness.db.container import DockerBackend
from harness.faults.db_proxy import DbProxy, open_db_proxy
from harness.service_process import ServiceProcess
from harness.stack import migrate_and_seed
from loadgate_contract.files import ENV_FIXTURES, ENV_PLAN, PLAN_JSON

WEB_UI_SCENARIO = "steady_50"  # the plan the printed Locust command runs (speed-up 1: real time)


def serve(
    *,
    port: int,
    data_dir: Path,
    safeguards_off: Sequence[str] = (),
    race_window_ms: float = 0.0,
    toxiproxy_url: str | None = None,
    proxy_api_port: int | None = None,
    backend_kind: str = "embedded",
    docker_image: str | None = None,
) -> int:
    """Run until Ctrl-C; return 0, or 2 if the service dies on its own.

    With `toxiproxy_url` (a Toxiproxy server) or `proxy_api_port` (loadgate's own proxy, its
    Toxiproxy API on that port) the service reaches PostgreSQL through a proxy named
    `loadgate_postgres` that toxiproxy-cli or any Toxiproxy client can poison by hand.
    """
    if toxiproxy_url:
        from harness.faults.toxiproxy import probe

        probe(toxiproxy_url)  # a clear error before PostgreSQL starts
    data_dir.mkdir(parents=True, exist_ok=True)
    backend = make_backend(backend_kind, data_dir=data_dir / "cluster", docker_image=docker_image)
    service: ServiceProcess | None = None
    proxy: DbProxy | None = None
    try:
        backend.start()
        database_url = fresh_database(backend, "loadgate")
        fixtures = (data_dir / "fixtures.json").resolve()
        base_url = f"http://127.0.0.1:{port}"
        service_url = database_url
        if toxiproxy_url or proxy_api_port is not None:
            proxy = open_db_proxy(
                database_url, toxiproxy_url, name="loadgate_postgres", api_port=proxy_api_port or 0
            )
            service_url = proxy.database_url(database_url)
        service = ServiceProcess(
            service_url,
            log_file=data_dir / "service.jsonl",
            output_file=data_dir / "service.log",
            safeguards_off=list(safeguards_off),
            port=port,
            env={"RACE_WINDOW_MS": str(race_window_ms)},
        )
        # the fixtures' tokens are signed with this service's own (random unless given) secret
        migrate_and_seed(database_url, fixtures, base_url=base_url, token_secret=service.token_secret)
        service.start()
        plan = _write_plan(data_dir)
        print(
            f"reference service: {service.base_url}\n"
            f"database:          {database_url}\n"
            f"{_container_line(backend)}"
            f"fixtures:          {fixtures}\n"
            f"service log:       {(data_dir / 'service.jsonl').resolve()}\n"
            f"safeguards off:    {', '.join(safeguards_off) or 'none'}\n"
            f"race window:       {race_window_ms:g} ms\n"
            f"{_proxy_lines(proxy)}\n"
            f"Locust web UI:     {ENV_PLAN}={plan} {ENV_FIXTURES}={fixtures} .venv/bin/locust "
            "-f locustfiles/loadgate.py "
            f"--host {service.base_url}\n"
            "Ctrl-C stops the service and PostgreSQL.",
            flush=True,
        )
        while service.returncode is None:
            time.sleep(0.5)
        print(
            f"the service exited with code {service.returncode}; see {data_dir / 'service.log'}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
        return 0
    finally:
        if service is not None:
            service.stop()
        if proxy is not None:
            proxy.close()
        backend.stop()


def _container_line(backend: Backend) -> str:
    if not isinstance(backend, DockerBackend):
        return ""
    return f"container:         {backend.container_id} ({backend.describe()['image']})\n"


def _proxy_lines(proxy: DbProxy | None) -> str:
    if proxy is None:
        return ""
    api = proxy.client.url
    return (
        f"database proxy:    {proxy.label()}\n"
        f"  poison it:       curl -X POST {api}/proxies/{proxy.name}/toxics "
        '-d \'{"type":"latency","attributes":{"latency":200}}\'\n'
        f"  or:              toxiproxy-cli -h {api} toxic add -t latency -a latency=200 {proxy.name}\n"
    )


def _write_plan(data_dir: Path) -> Path:
    """A plan for Locust's web UI: the Locust side reads plans, never scenario files."""
    from harness.run_folder import write_json_atomic
    from harness.scenario import load_scenario

    path = (data_dir / PLAN_JSON).resolve()
    write_json_atomic(path, load_scenario(WEB_UI_SCENARIO).resolve(1.0).to_json())
    return path
