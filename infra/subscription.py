"""Catch-up subscriptions that feed projections from the global event log.

Each subscriber has a row in `subscription_checkpoints`. A batch is applied in one
transaction together with the checkpoint update, so a projection that writes its read
model through the given connection applies every event exactly once: a crash rolls the
batch and the checkpoint back together, and the restarted subscriber resumes from the
last committed checkpoint. The checkpoint row is locked for the batch, so two running
copies of one subscriber take turns instead of applying a batch twice.

New events wake the subscriber through LISTEN/NOTIFY (the store notifies on commit);
a slow poll is the fallback in case a notification is lost with a dropped connection.
A database outage is waited out (infra/db_retry.py): the subscriber resumes from its
checkpoint when the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import asyncpg

from domain.events import EventPayload, RecordedEvent
from infra.db_retry import OUTAGE_ERRORS, Backoff, Outage, sleep_unless
from infra.event_store import NOTIFY_CHANNEL, EventBatch, PostgresEventStore, StreamHead
from infra.pgtypes import Conn
from infra.structured_logging import get_logger

log = get_logger(__name__)


class Projection(Protocol):
    """A read model fed batch by batch.

    `handles` names the event payload classes the projection reads (None: every
    event); the others never reach it: the store does not even fetch their rows. The
    checkpoint still moves past them. The events that do reach it decode their payload
    on first access (infra/stored_events.py), so a projection with `handles = None` that
    skips events by `event.type` never decodes those either.

    How to write one that keeps up (infra/trajectory_overview.py is the example, and
    docs/projections.md says why): fold the batch in memory and write its rows with one
    statement per batch.
    """

    @property
    def handles(self) -> frozenset[type[EventPayload]] | None: ...

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        """Apply the batch, in position order, writing only through `conn` (it is
        inside the batch's transaction, with the checkpoint); side effects elsewhere
        must be idempotent on each event's position."""

    async def reset(self, conn: Conn) -> None:
        """Empty the read model, for a rebuild from the start of the log (inside the
        rebuild's transaction, with the checkpoint set back to 0)."""


@runtime_checkable
class FollowsStreams(Protocol):
    """A projection that also keeps where each stream stands (its version, its last
    position), whichever events moved it: it sets `handles` to what it reads and gets the
    rest as `heads`, one per stream of the batch, instead of every event decoded into an
    object only for its envelope (infra/trajectory_overview.py)."""

    async def apply_heads(self, conn: Conn, heads: Mapping[str, StreamHead]) -> None:
        """After `apply_batch`, in the same transaction."""


def type_names(handles: frozenset[type[EventPayload]] | None) -> list[str] | None:
    """The stored `event_type` names of `handles` (None: all types)."""
    if handles is None:
        return None
    return sorted(cls.model_fields["type"].default for cls in handles)


class CatchUpSubscription:
    def __init__(
        self,
        store: PostgresEventStore,
        subscriber: str,
        projection: Projection,
        *,
        batch_size: int = 500,
        poll_interval: float = 5.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._store = store
        self._pool = store.pool
        self.subscriber = subscriber
        self._projection = projection
        self._types = type_names(projection.handles)
        self._follower = projection if isinstance(projection, FollowsStreams) else None
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._backoff = backoff or Backoff()

    async def checkpoint(self) -> int:
        async with self._pool.acquire() as conn:
            position = await conn.fetchval(
                "SELECT position FROM subscription_checkpoints WHERE subscriber = $1",
                self.subscriber,
            )
        return int(position or 0)

    async def catch_up_once(self) -> int:
        """Apply the next batch after the checkpoint; return how many events of the log
        it passed over (read or not)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO subscription_checkpoints (subscriber) VALUES ($1) "
                "ON CONFLICT (subscriber) DO NOTHING",
                self.subscriber,
            )
            position: int = await conn.fetchval(
                "SELECT position FROM subscription_checkpoints WHERE subscriber = $1 "
                "FOR UPDATE",
                self.subscriber,
            )
            passed, last = await self.apply_next(conn, position)
        if passed:
            log.debug("projection_batch_applied", subscriber=self.subscriber,
                      last_position=last, count=passed)
        return passed

    async def apply_next(self, conn: Conn, position: int) -> tuple[int, int]:
        """In the caller's transaction, which holds the checkpoint row: apply the batch
        after `position` and move the checkpoint past it. Returns (positions passed
        over, the new checkpoint)."""
        batch = await self.read_next(conn, position)
        if not batch.passed:
            return 0, position
        await self.apply(conn, batch)
        return batch.passed, batch.last_position

    async def read_next(self, conn: Conn, position: int) -> EventBatch:
        """The batch after `position`, as this subscriber reads it; `conn` need not be the
        applying transaction's (events are never changed once committed)."""
        # Read models hold no personal data (docs/read_models.md), so they are handed
        # none: a personal field reads as erased. Erasure then never has to reach them,
        # and catching up opens no key.
        return await self._store.read_batch(conn, position, self._batch_size, self._types,
                                            personal_data=False,
                                            heads=self._follower is not None)

    async def apply(self, conn: Conn, batch: EventBatch) -> None:
        """Apply `batch` (not empty) and move the checkpoint past it, in the caller's
        transaction, which holds the checkpoint row."""
        if batch.events:
            await self._projection.apply_batch(conn, batch.events)
        if self._follower is not None:
            await self._follower.apply_heads(conn, batch.heads)
        await conn.execute(
            "UPDATE subscription_checkpoints SET position = $2, updated_at = now() "
            "WHERE subscriber = $1",
            self.subscriber, batch.last_position,
        )

    async def catch_up(self) -> int:
        """Apply batches until the log is exhausted; return the number of events passed."""
        total = 0
        while applied := await self.catch_up_once():
            total += applied
        return total

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Follow the log until `stop` is set (or the task is cancelled).

        A database outage (a restart, dropped connections) is waited out with backoff,
        not raised: the batch in flight rolls back with its checkpoint, and following
        resumes from the last committed checkpoint, so no event is applied twice.
        """
        stop = stop or asyncio.Event()
        outage = Outage(log, f"subscription {self.subscriber}", self._backoff)
        while not stop.is_set():
            try:
                await self._follow(stop, outage)
            except OUTAGE_ERRORS as error:
                await sleep_unless(stop, outage.failed(error))

    async def _follow(self, stop: asyncio.Event, outage: Outage) -> None:
        listener = await self._pool.acquire()

        def notified(*_: object) -> None:
            self._wake.set()

        # Set by asyncpg when the server ends the listening connection; the proxy the
        # pool handed out cannot even be asked after that (the pool took it back).
        lost = asyncio.Event()

        def closed(*_: object) -> None:
            lost.set()
            self._wake.set()

        try:
            await listener.add_listener(NOTIFY_CHANNEL, notified)
            # A listening connection that the server closes hears nothing more: wake up
            # and start over with a new one, instead of living on the slow poll alone.
            listener.add_termination_listener(closed)
            while not stop.is_set():
                if lost.is_set():
                    raise asyncpg.ConnectionDoesNotExistError(
                        "the connection listening for new events was closed")
                # Clear before reading: an event committed during catch-up sets it again.
                self._wake.clear()
                await self.catch_up()
                outage.recovered()
                waiters = {asyncio.ensure_future(self._wake.wait()),
                           asyncio.ensure_future(stop.wait())}
                _, pending = await asyncio.wait(
                    waiters, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            # The listener may be a connection the server already closed: releasing it
            # must not turn the outage into a crash (the pool replaces it).
            with contextlib.suppress(Exception):
                listener.remove_termination_listener(closed)
                await listener.remove_listener(NOTIFY_CHANNEL, notified)
            with contextlib.suppress(*OUTAGE_ERRORS):
                await self._pool.release(listener)
