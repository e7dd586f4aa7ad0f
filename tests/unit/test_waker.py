"""The waker's spin budget: pure bookkeeping, driven by fake clocks (no timing asserted)."""

from __future__ import annotations

from locustfiles.common.waker import Waker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_fresh_waker_may_spin_once() -> None:
    clock = FakeClock()
    waker = Waker(spin_s=0.001, max_share=0.1, clock=clock, elapsed=clock)
    assert waker.may_spin()


def test_spinning_past_its_share_of_the_time_lived_is_refused_until_time_catches_up() -> None:
    clock = FakeClock()
    waker = Waker(spin_s=0.001, max_share=0.1, clock=clock, elapsed=clock)
    clock.now += 1.0
    waker.spun_s = 0.2  # 20 % of one second lived, over a 10 % share
    assert not waker.may_spin()
    clock.now += 1.0  # 2 s lived: 10 % is 0.2 s, within budget again
    assert waker.may_spin()


def test_an_instant_already_past_returns_at_once_without_spinning() -> None:
    clock = FakeClock()
    waker = Waker(clock=clock, elapsed=clock)
    waker.sleep_until(clock.now - 0.5)
    assert waker.spun_s == 0.0
