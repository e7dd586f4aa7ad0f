"""The e2e fixture's survivor check knows a process by pid *and* start time (pids are reused)."""

from __future__ import annotations

import subprocess
import sys

import psutil

from tests.e2e.conftest import HarnessProcess


def test_a_reused_pid_is_not_a_survivor_but_the_same_process_is(tmp_path: object) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = psutil.Process(live.pid).create_time()
        same = HarnessProcess(live, tmp_path, {live.pid: ("sleeper", started)})  # type: ignore[arg-type]
        assert same.survivors() == {live.pid: "sleeper"}
        # the pid now belongs to a process that started later: someone else's, never ours to kill
        other = HarnessProcess(live, tmp_path, {live.pid: ("sleeper", started - 60)})  # type: ignore[arg-type]
        assert other.survivors() == {}
    finally:
        live.kill()
        live.wait()
