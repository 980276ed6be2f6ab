"""Opening the event store as a long-running process starts: waiting for the database.

A process that the stack or systemd starts while PostgreSQL restarts must wait for it
instead of exiting, or every outage turns into a crash loop (and under `up`, into
restarts with growing waits). The pool is made and the store opened (which wraps keys
left raw, `open_event_store`) with the outage backoff of infra/db_retry.py.
"""

from __future__ import annotations

import asyncio

from infra.db_retry import OUTAGE_ERRORS, Outage, create_pool_when_available, sleep_unless
from infra.event_store import PostgresEventStore, open_event_store
from infra.key_wrapping import KeyWrapper


async def store_when_available(dsn: str, key_wrapper: KeyWrapper, outage: Outage,
                               stop: asyncio.Event, *, max_size: int = 10
                               ) -> PostgresEventStore | None:
    """The store once the database answers; None when `stop` is set first. The caller
    closes the store's pool."""
    pool = await create_pool_when_available(dsn, outage, stop, max_size=max_size)
    if pool is None:
        return None
    while not stop.is_set():
        try:
            store = await open_event_store(pool, key_wrapper)
        except OUTAGE_ERRORS as error:
            await sleep_unless(stop, outage.failed(error))
            continue
        outage.recovered()
        return store
    await pool.close()
    return None
