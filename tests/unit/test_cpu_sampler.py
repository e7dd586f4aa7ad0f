"""cpu.csv: CPU shares from cpu_times deltas, and the sampler's rows on real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cpu_sampler import CpuSampler, cpu_pct
from loadgate_contract.files import CPU_COLUMNS as COLUMNS


def test_cpu_pct_counts_increases_new_pids_whole_and_gone_pids_not_at_all() -> None:
    before = {1: 10.0, 2: 5.0, 3: 7.0}
    now = {1: 10.5, 2: 5.25, 4: 0.25}  # 3 exited, 4 was born since
    assert cpu_pct(before, now, 0.5) == pytest.approx(200.0)
    assert cpu_pct({1: 3.0}, {1: 2.0}, 1.0) == 0.0  # a reused pid never counts negative
    assert cpu_pct(before, now, 0.0) == 0.0


BUSY_THEN_WAIT = (
    "import sys, time\n"
    "t = time.process_time()\n"
    "while time.process_time() - t < 0.2: pass\n"
    "print('busy', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_sampler_rows_name_each_group_and_the_machine(tmp_path: Path) -> None:
    # A child of its own as the group's root: the test process itself may have children (a
    # session's PostgreSQL and its backends) that a group counts as its tree.
    child = subprocess.Popen(
        [sys.executable, "-c", BUSY_THEN_WAIT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        sampler = CpuSampler(lambda: {"service": [child.pid], "gone": [2**22 + 7]}, tmp_path / "cpu.csv")
        assert sampler.sample() == []  # the first call is the baseline
        assert child.stdout is not None and child.stdout.readline() == b"busy\n"
        rows = sampler.sample()
    finally:
        child.kill()
        child.communicate()
    by_name = {str(r[1]): r for r in rows}
    assert set(by_name) == {"service", "gone", "machine", "iowait"}
    assert by_name["service"][2] == 1 and float(str(by_name["service"][4])) > 0
    assert by_name["gone"][2] == 0 and by_name["gone"][3] == "0.0"
    assert len(rows[0]) == len(COLUMNS)


def test_sampler_thread_writes_the_header_and_stops(tmp_path: Path) -> None:
    sampler = CpuSampler(lambda: {"service": [os.getpid()]}, tmp_path / "cpu.csv", interval_s=0.05)
    sampler.start()
    sampler.stop()
    assert not sampler.is_alive()
    assert (tmp_path / "cpu.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
