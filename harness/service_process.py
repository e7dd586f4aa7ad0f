"""The reference service as a child process the harness (and the tests) own.

`ServiceProcess` spawns `python -m reference_service` in its own session (so signals reach it and
its children, and a Ctrl-C to the harness does not), bound to its parent's life
(`harness.processes`), waits until `/health/live` answers, and stops
it with SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from harness.db.base import free_port
from harness.errors import RunFailed
from harness.processes import spawn_with_output

HOST = "127.0.0.1"
STOP_GRACE_S = 10.0


class ServiceProcess:
    """One reference-service process on `127.0.0.1:port`."""

    def __init__(
        self,
        database_url: str,
        *,
        log_file: Path,
        output_file: Path | None,
        safeguards_off: Sequence[str] = (),
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.log_file = Path(log_file)
        self.output_file = output_file
        self.safeguards_off = tuple(safeguards_off)
        self.port = port or free_port(HOST)
        self.extra_env = dict(env or {})
        # The service's token key: given (env / TOKEN_SECRET) or fresh per ServiceProcess, never a
        # constant, so tokens minted for one run are worthless to any other. The seeder mints the
        # fixtures' tokens with this same value (stack.migrate_and_seed(token_secret=...)).
        self.token_secret = (
            self.extra_env.get("TOKEN_SECRET") or os.environ.get("TOKEN_SECRET") or secrets.token_urlsafe(32)
        )
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._output_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "SERVICE_HOST": HOST,
                "SERVICE_PORT": str(self.port),
                "LOG_FILE": str(self.log_file),
                "SAFEGUARDS_OFF": ",".join(self.safeguards_off),
                "TOKEN_SECRET": self.token_secret,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout_s: float = 30.0) -> None:
        """Spawn the service and wait until `/health/live` answers 200, or raise RunFailed."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if self.output_file is not None:
            self.output_file.parent.mkdir(parents=True, exist_ok=True)
            self._output_path = self.output_file
            self._output = open(self.output_file, "ab")  # noqa: SIM115 - lives as long as the child
        else:
            fd, name = tempfile.mkstemp(prefix="reference_service-", suffix=".log")
            self._output_path = Path(name)
            self._output = os.fdopen(fd, "ab")
        self._proc = spawn_with_output(
            [sys.executable, "-m", "reference_service"], output=self._output, env=self._environment()
        )
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    code = self._proc.returncode
                    raise RunFailed(
                        f"reference service exited with {code} during start:\n{self.output_tail()}"
                    )
                try:
                    if client.get(f"{self.base_url}/health/live").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.kill()
        raise RunFailed(
            f"reference service did not answer /health/live within {timeout_s:.0f}s:\n{self.output_tail()}"
        )

    def output_tail(self, lines: int = 40) -> str:
        if self._output is not None:
            with contextlib.suppress(ValueError, OSError):
                self._output.flush()
        if self._output_path is None:
            return "(no output)"
        try:
            return "\n".join(self._output_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM, then SIGKILL after `grace_s`; the exit code (None if never started)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                proc.wait(timeout=grace_s)
        self._close_output()
        return proc.returncode

    def kill(self) -> int | None:
        """SIGKILL at once (a crash, on purpose or on timeout)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            proc.wait(timeout=STOP_GRACE_S)
        self._close_output()
        return proc.returncode

    def _close_output(self) -> None:
        if self._output is not None:
            self._output.close()
            self._output = None
        if self.output_file is None and self._output_path is not None:
            self._output_path.unlink(missing_ok=True)
            self._output_path = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
