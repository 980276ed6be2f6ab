from __future__ import annotations

import asyncpg

from domain.events import TrajectoryReferred
from infra.event_store import PostgresEventStore
from infra.subscription import CatchUpSubscription
from infra.trajectory_overview import SUBSCRIBER, TrajectoryOverviewProjection
from tests.factories import new_event, plain_payload, referral


async def test_overview_counts_referrals_per_case(pg_store: PostgresEventStore,
                                                  pool: asyncpg.Pool) -> None:
    await pg_store.append("trajectory-a", 0, [
        new_event(TrajectoryReferred(case_id="a", referral=referral())),
        new_event(plain_payload(case_id="a")),
        new_event(plain_payload(case_id="a")),
    ])
    await pg_store.append("trajectory-b", 0, [
        new_event(TrajectoryReferred(case_id="b", referral=referral()))])
    subscription = CatchUpSubscription(pg_store, SUBSCRIBER, TrajectoryOverviewProjection())
    assert await subscription.catch_up() == 4
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT case_id, referral_count, organisations, stream_version "
            "FROM trajectory_overview ORDER BY case_id")
    assert [tuple(r) for r in rows] == [
        ("a", 3, ["Basisschool De Linde", "GGD"], 3),
        ("b", 1, ["Basisschool De Linde"], 1),
    ]
