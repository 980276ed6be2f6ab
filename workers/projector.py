"""The projector: keeps the operators' read models up to date from the event log."""

from __future__ import annotations

import asyncio
import contextlib

from infra.database import create_pool
from infra.event_store import open_event_store
from infra.key_wrapping import key_wrapper_for
from infra.settings import Settings
from infra.structured_logging import configure_logging, get_logger
from infra.subscription import CatchUpSubscription
from infra.trajectory_overview import SUBSCRIBER, TrajectoryOverviewProjection


async def run_projector(settings: Settings) -> None:
    log = get_logger("regie.projector")
    if settings.database_url is None:
        raise SystemExit("REGIE_DATABASE_URL is not set; start the stack with "
                         "`python3 infra/bootstrap.py up`, which sets it for the projector")
    pool = await create_pool(settings.database_url)
    key_wrapper = key_wrapper_for(settings)
    store = await open_event_store(pool, key_wrapper)
    subscriptions = [
        CatchUpSubscription(store, SUBSCRIBER, TrajectoryOverviewProjection()),
    ]
    log.info("projector_started", subscribers=[s.subscriber for s in subscriptions])
    try:
        await asyncio.gather(*(s.run() for s in subscriptions))
    finally:
        await pool.close()
        await key_wrapper.aclose()


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_projector(settings))


if __name__ == "__main__":
    main()
