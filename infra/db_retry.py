"""Riding out a database outage: which errors mean "the database is away", the backoff
between attempts, and one log line per outage instead of one per attempt.

A PostgreSQL restart (or a failover, or a dropped connection) must not stop the
long-running processes: they wait, try again, and carry on from where they were. Errors
that do not look like an outage (a bug in a projection, a constraint violation) still
propagate: retrying those would only hide them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

# What a server that is restarting, shutting down or unreachable makes asyncpg raise:
# refused or reset connections (OSError), a timed-out connect, a session the server ended
# (AdminShutdown, CrashShutdown), a server still starting up (CannotConnectNow), and a
# connection found closed when used (ConnectionDoesNotExist is a PostgresConnectionError;
# the pool reports some closed connections as InterfaceError).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
)

_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
_PASSWORD_FIELD = re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE)


def reason(error: BaseException) -> str:
    """The error as a log field, with any credentials a DSN in it might carry removed."""
    text = f"{type(error).__name__}: {error}"
    text = _CREDENTIALS.sub(r"\g<scheme>***@", text)
    return _PASSWORD_FIELD.sub(r"\g<1>***", text)[:300]


@dataclass(frozen=True)
class Backoff:
    """Exponential, capped: short enough to notice a quick restart, capped so a long
    outage is polled calmly rather than hammered or forgotten."""

    initial: float = 0.5
    cap: float = 30.0
    factor: float = 2.0

    def delay(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row (1 = the first)."""
        exponent = min(max(failures - 1, 0), 60)  # 2.0 ** 1000 would overflow
        return float(min(self.cap, self.initial * self.factor ** exponent))


class Outage:
    """Counts the failures of one outage; logs its start and its end once each."""

    def __init__(self, log: Any, what: str,
                 backoff: Backoff | None = None) -> None:
        self._log = log
        self._what = what
        self._backoff = backoff or Backoff()
        self.failures = 0
        self._since = 0.0

    def failed(self, error: BaseException) -> float:
        """Record a failure; return how long to wait before the next attempt."""
        self.failures += 1
        if self.failures == 1:
            self._since = time.monotonic()
            self._log.warning("database_unavailable", part=self._what, reason=reason(error),
                              retrying=True)
        return self._backoff.delay(self.failures)

    def recovered(self) -> None:
        if self.failures:
            self._log.info("database_available_again", part=self._what,
                           failed_attempts=self.failures,
                           outage_seconds=round(time.monotonic() - self._since, 1))
            self.failures = 0


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def create_pool_when_available(dsn: str, outage: Outage, stop: asyncio.Event, *,
                                     max_size: int = 10) -> asyncpg.Pool | None:
    """A pool once the server answers; None when `stop` is set first. A process started
    while the database restarts waits for it instead of exiting."""
    while not stop.is_set():
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size)
        except OUTAGE_ERRORS as error:
            await sleep_unless(stop, outage.failed(error))
            continue
        assert pool is not None
        outage.recovered()
        return pool
    return None
