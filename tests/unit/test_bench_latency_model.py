"""The fidelity bench's truth (bench/latency_model.py) and the generator bench's step verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from bench.generator_ceiling import ceiling, step_figures
from bench.latency_model import Draws, Stalls, completion, true_latencies_ms, within

STALLS = Stalls(anchor=100.0, every_s=10.0, duration_s=1.0)  # stalled in [100, 101), [110, 111), ...


def test_stall_windows_on_the_grid() -> None:
    assert STALLS.window(50.0) == (100.0, 101.0)  # before the anchor: the first one
    assert STALLS.window(100.5) == (100.0, 101.0)
    assert STALLS.window(101.0) == (110.0, 111.0)  # the end is not stalled
    assert STALLS.contains(110.0) and not STALLS.contains(109.999) and not STALLS.contains(111.0)
    with pytest.raises(ValueError):
        Stalls(0.0, 1.0, 1.0)


def test_completion_outside_stalls_is_receipt_plus_service() -> None:
    assert completion(102.0, 0.02, STALLS) == pytest.approx(102.02)
    assert completion(102.0, 0.02, None) == pytest.approx(102.02)


def test_a_request_received_during_a_stall_waits_for_its_end_then_is_served() -> None:
    assert completion(100.25, 0.02, STALLS) == pytest.approx(101.02)


def test_work_in_progress_when_a_stall_begins_is_paused_not_lost() -> None:
    # 10 ms done before the stall at 110, the remaining 20 ms after it ends at 111
    assert completion(109.99, 0.03, STALLS) == pytest.approx(111.02)
    # service longer than the gap between stalls pauses twice
    assert completion(100.5, 10.0, STALLS) == pytest.approx(100.5 + 10.0 + 0.5 + 1.0)


def test_true_latency_counts_the_wait_of_an_intended_send_during_a_stall() -> None:
    truth = true_latencies_ms([102.0, 100.5, 100.0], [20.0, 20.0, 20.0], STALLS)
    # sorted by intended time: 100.0 and 100.5 wait to 101.0, then 20 ms; 102.0 does not wait
    assert truth.tolist() == pytest.approx([1020.0, 520.0, 20.0])
    with pytest.raises(ValueError):
        true_latencies_ms([1.0, 2.0], [5.0], None)


def test_draws_are_seeded_and_do_not_depend_on_batching() -> None:
    a, b = Draws(7, 20.0, 0.5), Draws(7, 20.0, 0.5)
    first = [a.next_ms() for _ in range(5000)]  # crosses a batch boundary
    assert first == [b.next_ms() for _ in range(5000)]
    assert float(np.median(first)) == pytest.approx(20.0, rel=0.05)


def test_within_is_five_percent_or_one_ms_whichever_is_looser() -> None:
    assert within(20.9, 20.0) and not within(21.1, 20.0)  # 1 ms rules at 20 ms
    assert within(1040.0, 1000.0) and not within(1060.0, 1000.0)  # 5 % rules at 1 s


def _rows(intended: list[float], lag_ms: float, dropped: set[int]) -> dict[str, np.ndarray]:
    t = np.array(intended)
    return {
        "ts_intended": t,
        "ts": t + lag_ms / 1000.0,
        "status": np.full(len(t), 200),
        "dropped": np.array([i in dropped for i in range(len(t))]),
    }


def test_a_step_breaks_on_a_drop_and_the_ceiling_is_the_unbroken_run() -> None:
    intended = [0.1, 0.5, 1.1, 1.5, 2.1, 2.5]
    steps = step_figures(_rows(intended, 1.0, {2}), [2.0, 2.0, 2.0], 1.0, 0.0)
    assert [s["held"] for s in steps] == [True, False, True]
    assert steps[0]["sent_rps"] == 2.0 and steps[1]["dropped"] == 1
    assert ceiling(steps) == 2.0  # step 3 held, but after a broken one: it does not count


def test_a_step_breaks_on_send_lag() -> None:
    steps = step_figures(_rows([0.1, 0.5], 50.0, set()), [2.0], 1.0, 0.0)
    assert steps[0]["lag_p99_ms"] == pytest.approx(50.0) and not steps[0]["held"]
    assert ceiling(steps) == 0.0
