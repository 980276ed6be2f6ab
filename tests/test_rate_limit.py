"""The per-caller token bucket, on a clock of the test's own."""

from __future__ import annotations

from workers.rate_limit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_and_callers_apart() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.admit("partner:a") for _ in range(3)] == [None, None, None]
    wait = limiter.admit("partner:a")
    assert wait == 1.0  # on the test's clock: one token a second, none left
    assert retry_after(wait) == "1"
    assert limiter.admit("partner:b") is None  # another caller has its own bucket
    clock.now += 1.0
    assert limiter.admit("partner:a") is None
    assert limiter.admit("partner:a") is not None
    clock.now += 3600.0  # long idle: a full bucket again, never more than the burst
    assert [limiter.admit("partner:a") for _ in range(4)][-1] is not None
