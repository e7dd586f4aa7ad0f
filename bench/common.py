"""What the bench scripts share: the machine line, load average, processes they own, CPU use."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psutil

from harness.db.base import free_port
from harness.locust_runner import LocustProcesses
from harness.processes import spawn, stop

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

__all__ = ["PYTHON", "REPO", "free_port", "spawn", "stop"]

# Placeholder users for the real locustfile against a bench endpoint, which checks no token.
FAKE_FIXTURES = {
    "users": [
        {"id": f"u-{role}", "role": role, "email": f"{role.lower()}@bench", "password": "x", "token": "t"}
        | ({"agentId": "agent-1"} if role == "AGENT" else {})
        for role in ("BUYER", "SELLER", "AGENT", "ADMIN")
    ],
    "platformWalletId": "w-platform",
}


def loadgate_locust(
    port: int, plan_doc: dict[str, Any], run_dir: Path, *, workers: int = 0
) -> LocustProcesses:
    """The real locustfile (not started) with `plan_doc` and the placeholder fixtures in `run_dir`."""
    (run_dir / "plan.json").write_text(json.dumps(plan_doc))
    (run_dir / "fixtures.json").write_text(json.dumps(FAKE_FIXTURES))
    return LocustProcesses(
        host=f"http://127.0.0.1:{port}",
        run_dir=run_dir,
        plan_path=run_dir / "plan.json",
        fixtures_path=run_dir / "fixtures.json",
        workers=workers,
    )


def load_average() -> str:
    """`uptime`'s three load averages, to print beside every figure."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def wait_quiet(below: float | None, max_wait_s: float = 900.0) -> str:
    """Wait until the 1-minute load average is under `below` (None: do not wait); say what it was.

    A quiet-machine figure is only quiet if the run starts quiet: the 1-minute average decays with
    a one-minute time constant, so after a run at load 2 this waits about two minutes. Gives up
    after `max_wait_s` and says so, rather than block a bench forever on a shared machine.
    """
    if below is None:
        return f"load average {load_average()}"
    waited = 0.0
    while os.getloadavg()[0] >= below and waited < max_wait_s:
        time.sleep(5.0)
        waited += 5.0
    quiet = os.getloadavg()[0] < below
    state = f"waited {waited:.0f} s for < {below}" if quiet else f"NOT under {below} after {waited:.0f} s"
    return f"load average {load_average()} ({state})"


def machine() -> str:
    """One line: cores, CPU model, memory, OS, Python."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = psutil.virtual_memory().total / 2**30
    os_name = platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    return f"{os.cpu_count()} vCPU {model}, {mem_gb:.0f} GB, {os_name}, Python {platform.python_version()}"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def wait_port(port: int, timeout_s: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until something accepts on 127.0.0.1:`port` (raises if `proc` dies first or time runs out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f}s")


def get_json(url: str, timeout_s: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return json.loads(resp.read())


def start_loopback_server(log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """`bench/loopback_server.py` on a free loopback port, in its own process; (process, port)."""
    port = free_port()
    args = [PYTHON, str(REPO / "bench" / "loopback_server.py"), "--port", str(port), *extra]
    proc = spawn(args, log_path=log)
    wait_port(port, proc=proc)
    return proc, port


def server_count(port: int) -> int:
    return int(get_json(f"http://127.0.0.1:{port}/__stats")["requests"])


def locust_env(**extra: str) -> dict[str, str]:
    """The environment for a Locust child: never unpatched (tests set LOCUST_SKIP_MONKEY_PATCH)."""
    env = {k: v for k, v in os.environ.items() if k != "LOCUST_SKIP_MONKEY_PATCH"}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def _tree(pids: Iterable[int]) -> list[psutil.Process]:
    procs: list[psutil.Process] = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return procs


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds so far of these processes and all their descendants."""
    total = 0.0
    for proc in _tree(pids):
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


class CpuMeter:
    """CPU of named process groups over a window, in % of one core (200 % = both cores here)."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.t0 = time.monotonic()
        self.start = {name: cpu_seconds(pids) for name, pids in groups.items()}

    def read(self) -> dict[str, float]:
        wall = max(time.monotonic() - self.t0, 1e-9)
        now = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        return {name: 100.0 * (now[name] - self.start[name]) / wall for name in self.groups}
