"""Catch-up subscriptions: resume after a crash, never miss or double-apply an event."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest
from structlog.testing import capture_logs

from domain.events import RecordedEvent
from infra.db_retry import Backoff
from infra.event_store import PostgresEventStore
from infra.pgtypes import Conn
from infra.subscription import CatchUpSubscription
from tests.db_outage import terminate_connections
from tests.factories import new_event


class Crash(Exception):
    pass


class RecordingProjection:
    """Writes each applied event to a table without a unique key, so a double
    application would show up as a duplicate row instead of an error."""

    def __init__(self, crash_at: int | None = None, block_at: int | None = None) -> None:
        self.crash_at = crash_at
        self.block_at = block_at
        self.blocked = asyncio.Event()

    handles = None

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            await self.apply(conn, event)

    async def reset(self, conn: Conn) -> None:
        await conn.execute("TRUNCATE applied")

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        await conn.execute("INSERT INTO applied (position, event_id) VALUES ($1, $2)",
                           event.position, event.event_id)
        if event.version == self.crash_at:
            raise Crash(f"projection crashed at version {event.version}")
        if event.version == self.block_at:
            self.blocked.set()
            await asyncio.Event().wait()  # hangs until the task is killed


@pytest.fixture
async def applied_table(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE applied (position bigint, event_id uuid)")


async def applied_positions(pool: asyncpg.Pool) -> list[int]:
    async with pool.acquire() as conn:
        return [r["position"] for r in
                await conn.fetch("SELECT position FROM applied ORDER BY position")]


async def all_positions(store: PostgresEventStore) -> list[int]:
    return [e.position for e in await store.read_all(0, 10_000)]


@pytest.mark.usefixtures("applied_table")
async def test_projector_that_crashes_resumes_from_its_checkpoint(
    pg_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await pg_store.append("s", 0, [new_event() for _ in range(12)])
    crashing = CatchUpSubscription(pg_store, "overview", RecordingProjection(crash_at=7),
                                   batch_size=5)
    with pytest.raises(Crash):
        await crashing.catch_up()
    positions = await all_positions(pg_store)
    assert await crashing.checkpoint() == positions[4]
    assert await applied_positions(pool) == positions[:5]  # the failed batch rolled back

    restarted = CatchUpSubscription(pg_store, "overview", RecordingProjection(), batch_size=5)
    assert await restarted.catch_up() == 7
    assert await applied_positions(pool) == positions
    assert await restarted.checkpoint() == positions[-1]


@pytest.mark.usefixtures("applied_table")
async def test_projector_killed_mid_batch_applies_nothing_twice(
    pg_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await pg_store.append("s", 0, [new_event() for _ in range(9)])
    projection = RecordingProjection(block_at=6)
    killed = CatchUpSubscription(pg_store, "overview", projection, batch_size=4)
    task = asyncio.create_task(killed.catch_up())
    await asyncio.wait_for(projection.blocked.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    restarted = CatchUpSubscription(pg_store, "overview", RecordingProjection(), batch_size=4)
    await restarted.catch_up()
    assert await applied_positions(pool) == await all_positions(pg_store)


@pytest.mark.usefixtures("applied_table")
async def test_two_copies_of_one_subscriber_take_turns(
    pg_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    for version in range(30):
        await pg_store.append("s", version, [new_event()])
    copies = [CatchUpSubscription(pg_store, "overview", RecordingProjection(), batch_size=3)
              for _ in range(3)]
    await asyncio.gather(*(c.catch_up() for c in copies))
    assert await applied_positions(pool) == await all_positions(pg_store)


@pytest.mark.usefixtures("applied_table")
async def test_running_subscription_is_woken_by_notify(
    pg_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # A poll interval far longer than the wait below: only NOTIFY can wake it in time.
    subscription = CatchUpSubscription(pg_store, "overview", RecordingProjection(),
                                       poll_interval=3600)
    stop = asyncio.Event()
    runner = asyncio.create_task(subscription.run(stop))
    await pg_store.append("s", 0, [new_event()])

    async def projected(count: int) -> None:
        # Polling the read model is the point: it shows what a committed batch made visible.
        while len(await applied_positions(pool)) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    await asyncio.wait_for(projected(1), timeout=10)
    await asyncio.sleep(0.2)  # let it go idle again, waiting on the notification
    await pg_store.append("s", 1, [new_event(), new_event()])
    await asyncio.wait_for(projected(3), timeout=10)
    stop.set()
    await asyncio.wait_for(runner, timeout=10)
    assert await applied_positions(pool) == await all_positions(pg_store)


class GatedProjection(RecordingProjection):
    """Waits at `block_at` (the first time only) until the test opens the gate: the
    batch is then in flight, inside its transaction, when the test cuts the database."""

    def __init__(self, block_at: int) -> None:
        super().__init__()
        self.gate_at = block_at
        self.gate = asyncio.Event()
        self.reached = asyncio.Event()

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        await conn.execute("INSERT INTO applied (position, event_id) VALUES ($1, $2)",
                           event.position, event.event_id)
        if event.version == self.gate_at and not self.reached.is_set():
            self.reached.set()
            await self.gate.wait()


@pytest.mark.usefixtures("applied_table")
async def test_a_running_subscription_rides_out_ended_connections_and_applies_each_once(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, database_dsn: str
) -> None:
    await pg_store.append("s", 0, [new_event() for _ in range(6)])
    projection = GatedProjection(block_at=4)
    # Only NOTIFY, or the subscriber noticing its closed listener, can wake it in time.
    subscription = CatchUpSubscription(pg_store, "overview", projection, batch_size=10,
                                       poll_interval=3600,
                                       backoff=Backoff(initial=0.05, cap=0.2))
    stop = asyncio.Event()

    async def projected(count: int) -> None:
        while len(await applied_positions(pool)) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    with capture_logs() as logs:
        runner = asyncio.create_task(subscription.run(stop))
        await asyncio.wait_for(projection.reached.wait(), timeout=10)
        # Mid-batch: four rows are written in the batch's transaction, not committed.
        assert await terminate_connections(database_dsn) >= 2
        projection.gate.set()
        await asyncio.wait_for(projected(6), timeout=10)

        # Idle, waiting on its listener: the outage ends that connection too.
        await asyncio.sleep(0.2)
        assert await terminate_connections(database_dsn) >= 1
        await pg_store.append("s", 6, [new_event() for _ in range(3)])
        await asyncio.wait_for(projected(9), timeout=10)
        stop.set()
        await asyncio.wait_for(runner, timeout=10)

    assert await applied_positions(pool) == await all_positions(pg_store)
    assert await subscription.checkpoint() == (await all_positions(pg_store))[-1]
    outages = [e for e in logs if e["event"] == "database_unavailable"]
    assert len(outages) == 2  # one line per outage, not one per attempt
    assert all(e["part"] == "subscription overview" for e in outages)
    # The reason is what the server did, not a confusing follow-up error of the pool.
    assert all("released back to the pool" not in e["reason"] for e in outages)
    assert len([e for e in logs if e["event"] == "database_available_again"]) == 2
