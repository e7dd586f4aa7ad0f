"""`harness serve` (what `make serve` runs) as a user at Locust's web UI meets it: it prints where
everything is, the service answers with the seeded users, a proxy can be poisoned by hand, and
Ctrl-C stops it all."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from harness.db.base import free_port

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 90.0


class Served:
    def __init__(self, proc: subprocess.Popen[str], lines: list[str]) -> None:
        self.proc = proc
        self.lines = lines

    def value(self, label: str) -> str:
        return next(line.split(":", 1)[1].strip() for line in self.lines if line.startswith(f"{label}:"))

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


@pytest.fixture
def serve(harness: Any, tmp_path: Path) -> Callable[..., Served]:
    """`harness serve ARGS` until its banner's last line (the harness fixture stops what is left)."""

    def start(*args: str, env: dict[str, str] | None = None) -> Served:
        # SIGINT inherited as ignored, as from a background job or a CI runner: Ctrl-C must still stop it.
        proc = harness(
            "serve",
            "--data-dir",
            str(tmp_path / "pgdata"),
            *args,
            env=env,
            runs_dir=False,
            sigint_ignored=True,
        ).proc
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT_S
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C stops") or time.monotonic() > deadline:
                break
        assert lines and lines[-1].startswith("Ctrl-C stops"), "\n".join(lines)
        return Served(proc, lines)

    return start


def _stop(served: Served) -> tuple[int, str]:
    children = served.descendants()
    assert children, "the service and PostgreSQL run as the harness's children"
    served.proc.send_signal(signal.SIGINT)
    out, _ = served.proc.communicate(timeout=60)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"left running: {[p.pid for p in alive]}"
    return served.proc.returncode, out


def _login(base_url: str, fixtures: Path) -> int:
    user = next(u for u in json.loads(fixtures.read_text())["users"] if u["role"] == "BUYER")
    answer = httpx.post(
        f"{base_url}/api/auth/login", json={"email": user["email"], "password": user["password"]}, timeout=10
    )
    return answer.status_code


def test_serve_prints_where_everything_is_answers_and_stops_on_ctrl_c(serve: Callable[..., Served]) -> None:
    port = free_port()
    served = serve("--port", str(port))
    base_url = served.value("reference service")
    assert base_url == f"http://127.0.0.1:{port}"
    fixtures = Path(served.value("fixtures"))
    assert httpx.get(f"{base_url}/health/ready", timeout=10).status_code == 200
    assert _login(base_url, fixtures) == 200
    web_ui = served.value("Locust web UI")
    assert f"--host {base_url}" in web_ui
    # The Locust side reads plans only: serve wrote one for the web UI, and the command names it.
    plan = Path(web_ui.split("LOADGATE_PLAN=", 1)[1].split()[0])
    assert json.loads(plan.read_text())["scenario"] == "steady_50"
    code, out = _stop(served)
    assert code == 0, out


def test_serve_behind_loadgates_proxy_can_be_poisoned_with_toxiproxys_api(
    serve: Callable[..., Served],
) -> None:
    api_port = free_port()
    served = serve("--port", str(free_port()), "--proxy-api-port", str(api_port))
    base_url = served.value("reference service")
    api = f"http://127.0.0.1:{api_port}"
    assert httpx.get(f"{api}/proxies/loadgate_postgres", timeout=10).status_code == 200
    toxic = {"name": "frozen", "type": "timeout", "stream": "upstream", "attributes": {"timeout": 0}}
    assert httpx.post(f"{api}/proxies/loadgate_postgres/toxics", json=toxic, timeout=10).status_code == 200
    deadline = time.monotonic() + 30
    while httpx.get(f"{base_url}/health/db", timeout=30).status_code != 503:
        assert time.monotonic() < deadline, "/health/db never said 503 behind a timeout toxic"
    httpx.delete(f"{api}/proxies/loadgate_postgres/toxics/frozen", timeout=10).raise_for_status()
    deadline = time.monotonic() + 30
    while httpx.get(f"{base_url}/health/db", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "/health/db never recovered once the toxic was removed"
    code, out = _stop(served)
    assert code == 0, out


@pytest.mark.docker  # one Docker engine per session: run with the other Docker tests, in one process
def test_serve_on_the_docker_backend_lets_a_user_pause_the_container_by_hand(
    serve: Callable[..., Served], docker_host: str
) -> None:
    import docker

    served = serve("--port", str(free_port()), "--backend", "docker", env={"DOCKER_HOST": docker_host})
    base_url = served.value("reference service")
    container_id = served.value("container").split()[0]
    client = docker.DockerClient(base_url=docker_host)
    try:
        container = client.containers.get(container_id)
        assert _login(base_url, Path(served.value("fixtures"))) == 200
        container.pause()
        try:
            assert httpx.get(f"{base_url}/health/db", timeout=30).status_code == 503
        finally:
            container.unpause()
        deadline = time.monotonic() + 30
        while httpx.get(f"{base_url}/health/db", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "/health/db never recovered after the unpause"
        code, out = _stop(served)
        assert code == 0, out
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(container_id)
    finally:
        client.close()
