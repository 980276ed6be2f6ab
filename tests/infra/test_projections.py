"""The registry of read models, and rebuilding one from the start of the log."""

from __future__ import annotations

import asyncpg
import pytest

from infra.database import create_pool
from infra.event_store import PostgresEventStore
from infra.key_wrapping import KeyWrapper
from infra.projections import PROJECTIONS, RebuildFigures, UnknownProjectionError, rebuild
from infra.subscription import CatchUpSubscription
from infra.trajectory_overview import SUBSCRIBER, TrajectoryOverviewProjection
from tests.infra.test_trajectory_overview import append_interleaved, overview_rows, three_cases


def test_the_overview_is_registered_under_its_subscriber_name() -> None:
    assert isinstance(PROJECTIONS[SUBSCRIBER](), TrajectoryOverviewProjection)


async def checkpoint(pool: asyncpg.Pool, name: str) -> int:
    async with pool.acquire() as conn:
        position: int = await conn.fetchval(
            "SELECT position FROM subscription_checkpoints WHERE subscriber = $1", name)
    return position


async def test_a_rebuild_reaches_what_the_incremental_projection_reached(
        pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    total = await append_interleaved(pg_store, three_cases())
    # Incremental: as the projector does it, a few events at a time.
    incremental = CatchUpSubscription(pg_store, SUBSCRIBER, TrajectoryOverviewProjection(),
                                      batch_size=3)
    assert await incremental.catch_up() == total
    expected, expected_checkpoint = await overview_rows(pool), await checkpoint(pool, SUBSCRIBER)
    # Something a rebuild must undo: a row no event explains.
    async with pool.acquire() as conn:
        await conn.execute("UPDATE trajectory_overview SET referral_count = 99")

    progress: list[tuple[int, int]] = []
    figures = await rebuild(pg_store, SUBSCRIBER, batch_size=4,
                            on_progress=lambda done, of: progress.append((done, of)))

    assert await overview_rows(pool) == expected
    assert await checkpoint(pool, SUBSCRIBER) == expected_checkpoint
    assert figures.events == total
    assert progress[0] == (0, total) and progress[-1] == (total, total)
    assert [done for done, _ in progress] == sorted({done for done, _ in progress})
    # The projector's subscriber goes on from there: nothing left, nothing twice.
    assert await incremental.catch_up() == 0


async def test_a_rebuild_on_a_single_connection_reads_and_applies_in_turn(
        pg_store: PostgresEventStore, pool: asyncpg.Pool, database_dsn: str,
        key_wrapper: KeyWrapper) -> None:
    total = await append_interleaved(pg_store, three_cases())
    await rebuild(pg_store, SUBSCRIBER, batch_size=4)  # reading ahead on a second one
    expected = await overview_rows(pool)
    single = await create_pool(database_dsn, min_size=1, max_size=1)
    try:
        store = PostgresEventStore(single, key_wrapper=key_wrapper)
        figures = await rebuild(store, SUBSCRIBER, batch_size=4)
    finally:
        await single.close()
    assert figures.events == total
    assert await overview_rows(pool) == expected


def test_a_rebuilds_figures_are_events_over_seconds() -> None:
    # Fixed figures, not a measured rebuild's: the suite asserts nothing about time.
    assert RebuildFigures(events=1000, seconds=0.5).events_per_second == 2000
    assert RebuildFigures(events=0, seconds=0.0).events_per_second == 0.0


async def test_a_failed_rebuild_leaves_the_read_model_as_it_was(
        pg_store: PostgresEventStore, pool: asyncpg.Pool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    await append_interleaved(pg_store, three_cases())
    assert await CatchUpSubscription(pg_store, SUBSCRIBER,
                                     TrajectoryOverviewProjection()).catch_up()
    before, position = await overview_rows(pool), await checkpoint(pool, SUBSCRIBER)

    async def broken(*_: object) -> None:
        raise RuntimeError("projection bug")

    monkeypatch.setattr(TrajectoryOverviewProjection, "apply_batch", broken)
    with pytest.raises(RuntimeError, match="projection bug"):
        await rebuild(pg_store, SUBSCRIBER)
    assert await overview_rows(pool) == before
    assert await checkpoint(pool, SUBSCRIBER) == position


async def test_rebuilding_an_unknown_read_model_names_the_known_ones(
        pg_store: PostgresEventStore) -> None:
    with pytest.raises(UnknownProjectionError, match="trajectory_overview"):
        await rebuild(pg_store, "no_such_model")
