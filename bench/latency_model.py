"""The known latency of the fidelity bench's loopback endpoint, as pure functions (unit-tested).

The endpoint (`bench/loopback_server.py --median-ms ...`) draws each request's service time from
a seeded lognormal, in the order it receives requests, and stalls on a fixed grid: from `anchor`,
every `every_s` seconds it stops for `duration_s`. A stall pauses the work, like a stopped
process: a request is answered once it has had its service time of *unstalled* time after its
receipt (`completion`). A request received during a stall therefore waits for its end, and one
in progress when a stall begins finishes that much later.

The truth for an open-model client is then exact and independent of any measurement: the i-th
intended send time `t_i` of the arrival schedule, paired with the i-th draw `d_i`, is answered
at `completion(t_i, d_i)`, and `completion(t_i, d_i) - t_i` is what that user waited.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

DRAW_BATCH = 4096


@dataclass(frozen=True)
class Stalls:
    """Stall windows `[anchor + k * every_s, anchor + k * every_s + duration_s)` for k = 0, 1, ..."""

    anchor: float
    every_s: float
    duration_s: float

    def __post_init__(self) -> None:
        if self.every_s <= 0 or not 0 <= self.duration_s < self.every_s:
            raise ValueError("stalls need every_s > 0 and 0 <= duration_s < every_s")

    def window(self, t: float) -> tuple[float, float]:
        """The stall window that contains `t`, else the next one after it."""
        k = 0 if t < self.anchor else math.floor((t - self.anchor) / self.every_s)
        start = self.anchor + k * self.every_s
        if t >= start + self.duration_s:
            start += self.every_s
        return start, start + self.duration_s

    def contains(self, t: float) -> bool:
        start, end = self.window(t)
        return start <= t < end


def completion(received: float, service_s: float, stalls: Stalls | None) -> float:
    """When a request received at `received` needing `service_s` of work is answered."""
    if stalls is None or stalls.duration_s == 0:
        return received + service_s
    t, remaining = received, service_s
    while True:
        start, end = stalls.window(t)
        if start <= t:  # inside a stall: nothing happens until it ends
            t = end
            continue
        if t + remaining <= start:
            return t + remaining
        remaining -= start - t
        t = end


class Draws:
    """The endpoint's service times in ms: seeded lognormal with the given median, in batches."""

    def __init__(self, seed: int, median_ms: float, sigma: float) -> None:
        self.rng = np.random.default_rng(seed)
        self.mu, self.sigma = math.log(median_ms), sigma
        self._batch: list[float] = []
        self._i = 0

    def next_ms(self) -> float:
        if self._i >= len(self._batch):
            self._batch = self.rng.lognormal(self.mu, self.sigma, DRAW_BATCH).tolist()
            self._i = 0
        value = self._batch[self._i]
        self._i += 1
        return float(value)

    def __iter__(self) -> Iterator[float]:
        while True:
            yield self.next_ms()


def true_latencies_ms(
    intended: Sequence[float], draws_ms: Sequence[float], stalls: Stalls | None
) -> np.ndarray:
    """What each intended send waited (ms) if sent on time: `completion(t_i, d_i) - t_i`."""
    if len(draws_ms) < len(intended):
        raise ValueError("fewer draws than arrivals")
    order = sorted(intended)
    return np.array(
        [(completion(t, d / 1000.0, stalls) - t) * 1000.0 for t, d in zip(order, draws_ms, strict=False)]
    )


def within(measured: float, truth: float, *, rel: float = 0.05, abs_ms: float = 1.0) -> bool:
    """The fidelity criterion: within `rel` of the truth, or within `abs_ms`, whichever is looser."""
    return abs(measured - truth) <= max(rel * abs(truth), abs_ms)
