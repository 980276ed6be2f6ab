"""The projector: keeps the operators' read models up to date from the event log."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from infra.db_retry import Outage
from infra.garbage_collection import tune_for_throughput
from infra.key_wrapping import key_wrapper_for
from infra.projections import PROJECTIONS
from infra.settings import Settings
from infra.store_startup import store_when_available
from infra.structured_logging import configure_logging, get_logger
from infra.subscription import CatchUpSubscription


async def run_projector(settings: Settings) -> None:
    log = get_logger("regie.projector")
    if settings.database_url is None:
        raise SystemExit("REGIE_DATABASE_URL is not set; start the stack with "
                         "`python3 infra/bootstrap.py up`, which sets it for the projector")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Graceful on both signals (the stack sends SIGINT): the batch in flight commits or
    # rolls back with its checkpoint, either way nothing is applied twice.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Started while the database restarts, it waits for it (infra/store_startup.py).
    key_wrapper = key_wrapper_for(settings)
    store = await store_when_available(settings.database_url, key_wrapper,
                                       Outage(log, "projector"), stop)
    if store is None:
        await key_wrapper.aclose()
        return
    try:
        subscriptions = [CatchUpSubscription(store, name, make())
                         for name, make in PROJECTIONS.items()]
        log.info("projector_started", subscribers=[s.subscriber for s in subscriptions])
        await asyncio.gather(*(s.run(stop) for s in subscriptions))
    finally:
        await store.pool.close()
        await key_wrapper.aclose()


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    tune_for_throughput()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_projector(settings))


if __name__ == "__main__":
    main()
