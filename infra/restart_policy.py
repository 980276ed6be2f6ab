"""When the stack restarts a child that died, and when it gives up: a pure decision.

A child that crashes once (a bug hit by one request, a database restart it did not
survive) is restarted at once; one that keeps crashing is restarted ever more slowly, so
it does not spin; one that crashes `max_restarts` times within `window_seconds` is
broken, not unlucky, and restarting it again would only hide that: the stack stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    window_seconds: float = 60.0
    initial_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.max_restarts < 0 or self.window_seconds <= 0:
            raise ValueError("max_restarts must be >= 0 and window_seconds > 0")
        if not 0 <= self.initial_backoff_seconds <= self.max_backoff_seconds:
            raise ValueError("need 0 <= initial_backoff_seconds <= max_backoff_seconds")


@dataclass(frozen=True)
class RestartAfter:
    """Restart in `seconds` (0: now); `attempt` counts the restarts within the window."""

    seconds: float
    attempt: int


@dataclass(frozen=True)
class GiveUp:
    reason: str


Decision = RestartAfter | GiveUp


def decide(policy: RestartPolicy, exits: Sequence[float], now: float) -> Decision:
    """What to do about a child whose exits happened at the monotonic times `exits`
    (the one just now included)."""
    recent = sum(1 for at in exits if now - at <= policy.window_seconds)
    if recent > policy.max_restarts:
        return GiveUp(f"it exited {recent} times within {policy.window_seconds:g} s")
    if recent <= 1:
        return RestartAfter(0.0, attempt=1)
    exponent = min(recent - 2, 60)  # 2.0 ** 1000 would overflow
    delay = min(policy.max_backoff_seconds, policy.initial_backoff_seconds * 2.0 ** exponent)
    return RestartAfter(delay, attempt=recent)
