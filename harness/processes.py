"""Child processes the harness owns: started in their own session, bound to our life.

Each child gets its own session (so a Ctrl-C in the terminal reaches only the harness, which
then stops the children in order) and `PR_SET_PDEATHSIG` (so that if the harness itself is
killed with SIGKILL, the kernel still ends the children: no orphan outlives a run).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def _bind_to_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def child_setup(user: int | None, group: int | None) -> Callable[[], None]:
    """Drop privileges, then bind to the parent: the kernel clears PDEATHSIG on a change of uid."""

    def setup() -> None:
        if group is not None:
            os.setgroups([])
            os.setgid(group)
        if user is not None:
            os.setuid(user)
        _bind_to_parent()

    return setup


def spawn(
    args: Sequence[str],
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: int | None = None,
    group: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start `args` with stdout and stderr appended to `log_path` (or discarded)."""
    log = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - the child keeps it
    try:
        proc: subprocess.Popen[bytes] = subprocess.Popen(
            list(args),
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=child_setup(user, group),
        )
    finally:
        if log is not None:
            log.close()
    return proc


def spawn_with_output(
    args: Sequence[str], *, output: IO[bytes], env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Like `spawn`, writing stdout and stderr to an already open file the caller keeps."""
    return subprocess.Popen(
        list(args),
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        start_new_session=True,
        preexec_fn=child_setup(None, None),
    )


def stop(proc: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> int:
    """Send `sig` to the child's whole process group, SIGKILL after `grace_s`; return its exit code."""
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, sig)
    try:
        return proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=grace_s)


def wait_until(predicate: Callable[[], bool], *, timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll `predicate` until it holds or the deadline passes; True if it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()
