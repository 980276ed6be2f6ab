"""The notification dispatcher: delivers the outbox (log line, organisation webhooks).

    python -m workers.dispatcher

SIGINT or SIGTERM stops it after the rows in flight; a harder stop (SIGKILL) is safe too:
an attempt that did not commit is redone by the next run (see infra/outbox.py).
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import httpx
from pydantic import Field

from infra.db_retry import Outage, create_pool_when_available
from infra.garbage_collection import tune_for_throughput
from infra.outbox import OutboxDispatcher
from infra.settings import Settings
from infra.structured_logging import configure_logging, get_logger

log = get_logger("regie.dispatcher")


class DispatcherSettings(Settings):
    """The shared settings plus the dispatcher's own, also from `REGIE_*` variables."""

    outbox_max_attempts: int = Field(default=10, ge=1)
    outbox_base_backoff_seconds: float = Field(default=1.0, ge=0)
    outbox_max_backoff_seconds: float = Field(default=600.0, ge=0)
    outbox_request_timeout_seconds: float = Field(default=10.0, gt=0)
    outbox_poll_interval_seconds: float = Field(default=5.0, gt=0)
    outbox_concurrency: int = Field(default=4, ge=1)


async def run_dispatcher(settings: DispatcherSettings) -> None:
    if settings.database_url is None:
        raise SystemExit("REGIE_DATABASE_URL is not set; start the stack with "
                         "`python3 infra/bootstrap.py up`, which sets it for the dispatcher")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Graceful on both signals (the stack sends SIGINT): a POST in flight finishes and is
    # recorded instead of being redone by the next run.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # One connection per row in flight, one for LISTEN, one for the scans.
    # Started while the database restarts, it waits for it (infra/db_retry.py).
    pool = await create_pool_when_available(
        settings.database_url, Outage(log, "dispatcher"), stop,
        max_size=settings.outbox_concurrency + 2)
    if pool is None:
        return
    try:
        # Redirects are not followed: a webhook that moved must be fixed in the directory,
        # not have notifications about families forwarded to wherever it points now.
        async with httpx.AsyncClient(
            follow_redirects=False,
            timeout=settings.outbox_request_timeout_seconds,
            headers={"User-Agent": "regie-outbox-dispatcher"},
        ) as http:
            dispatcher = OutboxDispatcher(
                pool, http,
                max_attempts=settings.outbox_max_attempts,
                base_backoff=timedelta(seconds=settings.outbox_base_backoff_seconds),
                max_backoff=timedelta(seconds=settings.outbox_max_backoff_seconds),
                request_timeout=timedelta(seconds=settings.outbox_request_timeout_seconds),
                poll_interval=timedelta(seconds=settings.outbox_poll_interval_seconds),
                concurrency=settings.outbox_concurrency,
            )
            await dispatcher.run(stop)
    finally:
        await pool.close()


def main() -> None:
    settings = DispatcherSettings()
    configure_logging(settings.log_level)
    tune_for_throughput()
    asyncio.run(run_dispatcher(settings))


if __name__ == "__main__":
    main()
