"""A per-principal rate limit: a token bucket for each caller (a partner organisation, a
professional), so one flooding caller cannot crowd out the rest.

In memory, per gateway process: behind a load balancer with N gateways a caller gets up
to N times the rate. That still stops a runaway script; a shared limit would need a
shared store, which is not worth a round trip on every request here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# Buckets of callers not seen for this long are forgotten (bounded memory).
IDLE_SECONDS = 600.0


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, per_minute: int, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._swept = clock()

    def admit(self, caller: str) -> float | None:
        """None if `caller` may go on; else the seconds until it may try again."""
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self._rate

    def _sweep(self, now: float) -> None:
        if now - self._swept < IDLE_SECONDS:
            return
        self._swept = now
        for caller in [c for c, b in self._buckets.items() if now - b.at > IDLE_SECONDS]:
            del self._buckets[caller]


def retry_after(seconds: float) -> str:
    """The `Retry-After` header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
