"""A Docker engine for the tests of the Docker backend: the user's own, or a private `dockerd`.

CI machines have the Docker client and no engine, so with root and Debian's `docker.io` (which
`make test` installs) the session starts a daemon of its own: its data, sockets and pid file in
a temporary folder, no iptables rules (published ports go through docker-proxy), stopped and
removed at the end. Nothing here is used by the harness itself: a user brings an engine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.db.base import DatabaseError
from harness.db.container import DEFAULT_SOCKET, LABEL, engine_client, unix_socket_answers
from harness.processes import spawn, stop, wait_until

START_TIMEOUT_S = 60.0


class NoEngine(Exception):
    """No engine answers and none could be started here; the message says why."""


def _pinged(host: str) -> bool:
    try:
        engine_client(host).close()
    except DatabaseError:
        return False
    return True


def _remove_our_containers(host: str) -> None:
    import docker

    with contextlib.suppress(Exception):
        client = docker.DockerClient(base_url=host, timeout=30)
        for container in client.containers.list(all=True, filters={"label": LABEL}):
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)
        client.close()


@contextlib.contextmanager
def docker_engine() -> Iterator[str]:
    """Yield a DOCKER_HOST that answers; raise NoEngine when there is none to be had."""
    existing = os.environ.get("DOCKER_HOST") or (
        f"unix://{DEFAULT_SOCKET}" if unix_socket_answers(DEFAULT_SOCKET) else None
    )
    if existing:
        yield existing
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        raise NoEngine(
            "no Docker engine answers, and no dockerd to start as root (`make test` installs docker.io)"
        )
    # A short path: the engine's unix sockets live under it and must stay under 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="lgd-", dir="/tmp"))
    host = f"unix://{root / 'docker.sock'}"
    log = root / "dockerd.log"
    args = [
        dockerd,
        "--data-root", str(root / "data"),
        "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "dockerd.pid"),
        "-H", host,
        "--storage-driver", "vfs",
        "--iptables=false",
    ]  # fmt: skip
    proc: subprocess.Popen[bytes] = spawn(args, log_path=log)
    try:
        if not wait_until(lambda: proc.poll() is not None or _pinged(host), timeout_s=START_TIMEOUT_S) or (
            proc.poll() is not None
        ):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise NoEngine(f"a private dockerd did not start within {START_TIMEOUT_S:g}s:\n{tail}")
        yield host
    finally:
        if proc.poll() is None:
            _remove_our_containers(host)
        stop(proc, sig=signal.SIGTERM, grace_s=30)
        shutil.rmtree(root, ignore_errors=True)
