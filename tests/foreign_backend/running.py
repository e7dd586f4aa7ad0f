"""For tests: the foreign backend migrated, seeded and running on a free loopback port, always stopped.

    with foreign_service(database_url, tmp_path, bugs=("double_accept",)) as svc:
        base_url, users_file, fixtures_file, log_file = svc

Self-contained (stdlib only): the backend must not lean on the harness it is meant to test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from tests.foreign_backend.seed import seed, write_files

READY_TIMEOUT_S = 30.0


class ForeignService(NamedTuple):
    """Where the running backend is and the files a test or the harness needs."""

    base_url: str
    users_file: Path
    fixtures_file: Path
    log_file: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health/ready", timeout=2) as r:
            return int(r.status) == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def foreign_service(
    database_url: str,
    tmp_path: Path,
    bugs: Sequence[str] = (),
    *,
    race_window_ms: float | None = None,
    token_ttl_s: int | None = None,
    dialect: str = "api_md",
    extra_args: Sequence[str] = (),
) -> Iterator[ForeignService]:
    """Migrate and seed `database_url`, start the backend, wait for /health/ready, stop it on exit."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    users_file, fixtures_file = tmp_path / "users.json", tmp_path / "fixtures.json"
    log_file, output = tmp_path / "foreign.log", tmp_path / "foreign.out"
    write_files(seed(database_url), users_file, fixtures_file)
    port = _free_port()
    args = [sys.executable, "-m", "tests.foreign_backend", "--database-url", database_url]
    args += ["--port", str(port), "--log-file", str(log_file), "--bugs", ",".join(bugs)]
    args += ["--dialect", dialect]
    if race_window_ms is not None:
        args += ["--race-window-ms", str(race_window_ms)]
    if token_ttl_s is not None:
        args += ["--token-ttl-s", str(token_ttl_s)]
    args += list(extra_args)
    base_url = f"http://127.0.0.1:{port}"
    with output.open("ab") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(base_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"foreign backend did not become ready:\n{output.read_text()[-2000:]}")
            time.sleep(0.1)
        yield ForeignService(base_url, users_file, fixtures_file, log_file)
    finally:
        _stop(proc)
