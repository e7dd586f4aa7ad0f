"""Wake a greenlet at a wall-clock instant to a fraction of a millisecond, at a bounded CPU cost.

gevent's timers wake up to a millisecond late (the event loop rounds its poll timeout up to whole
milliseconds), and every millisecond late is latency the service did not cause: user latency is
measured from the intended instant. bench/fidelity.py measured the median send lag at 0.86 ms,
enough to put the harness's P50 1.7 ms above the truth. So the waker sleeps in a timer until
`spin_s` before the instant and yields to the other greenlets (gevent.sleep(0)) for the rest.

That yield loop keeps a core busy, and on a 2-core machine the generator shares the CPU with the
service under test: a 2 ms spin made the driver use a full core at 1,000 arrivals/s. Spinning is
therefore limited to `max_share` of the wall time since the waker was made; past that budget (dense
arrivals) it falls back to the plain timer and its sub-millisecond lateness.
"""

from __future__ import annotations

import gevent

import time
from collections.abc import Callable


class Waker:
    def __init__(
        self,
        *,
        spin_s: float = 0.001,
        max_share: float = 0.1,
        clock: Callable[[], float] = time.time,
        elapsed: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spin_s = spin_s
        self.max_share = max_share
        self._clock = clock
        self._elapsed = elapsed
        self._born = elapsed()
        self.spun_s = 0.0

    def may_spin(self) -> bool:
        """Within budget: spin time so far stays under `max_share` of the time lived (plus one spin)."""
        return self.spun_s <= self.max_share * (self._elapsed() - self._born) + self.spin_s

    def sleep_until(self, instant: float) -> None:
        delay = instant - self._clock()
        if delay > self.spin_s:
            gevent.sleep(delay - self.spin_s)
        remaining = instant - self._clock()
        if remaining <= 0:
            return
        if not self.may_spin():
            gevent.sleep(remaining)
            return
        started = self._elapsed()
        while self._clock() < instant:
            gevent.sleep(0)
        self.spun_s += self._elapsed() - started
