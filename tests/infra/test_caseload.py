"""The caseload cap holds when two appointments of one coordinator race, and while the
projector lags behind the appointments already made."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from domain.closure import ClosureReason
from domain.events import (
    CoordinatorAppointed,
    EventMetadata,
    EventPayload,
    IntakeOutcome,
    IntakeRecorded,
    TrajectoryClosed,
    TrajectoryReferred,
)
from domain.family import family_subject
from domain.policy import RegionPolicy
from domain.trajectory import new_event, stream_id_for
from infra import case_list
from infra.case_list import CaseListProjection
from infra.caseload import CaseloadRow, caseloads, reserve_caseload
from infra.event_store import PostgresEventStore
from infra.subscription import CatchUpSubscription
from tests.factories import referral

CAP = 3
POLICY = RegionPolicy(region="Haaglanden", caseload_cap=CAP)
AT = datetime(2025, 6, 2, 9, tzinfo=UTC)


async def append(store: PostgresEventStore, case_id: str, version: int,
                 *payloads: EventPayload) -> None:
    await store.append(stream_id_for(case_id), version, [
        new_event(p, event_id=uuid.uuid4(), now=AT + timedelta(minutes=i),
                  metadata=EventMetadata(actor="test"))
        for i, p in enumerate(payloads)])


def appointed(case_id: str, member_id: str) -> CoordinatorAppointed:
    return CoordinatorAppointed(subject=family_subject(case_id), member_id=member_id,
                                caseload_before=0, caseload_cap=CAP)


async def accepted_case(store: PostgresEventStore, case_id: str) -> None:
    await append(store, case_id, 0, TrajectoryReferred(case_id=case_id, referral=referral()),
                 IntakeRecorded(subject=family_subject(case_id),
                                outcome=IntakeOutcome.ACCEPTED))


async def reserve(pool: asyncpg.Pool, case_id: str, member: str = "pro-9") -> int:
    async with pool.acquire() as conn:
        return await reserve_caseload(conn, member, case_id, CAP)


async def test_two_concurrent_appointments_cannot_both_take_the_last_place(
        pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    projector = CatchUpSubscription(pg_store, case_list.SUBSCRIBER,
                                    CaseListProjection(POLICY.region))
    for n in range(CAP - 1):
        await accepted_case(pg_store, f"held-{n}")
        await append(pg_store, f"held-{n}", 2, appointed(f"held-{n}", "pro-9"))
    await projector.catch_up()
    for case_id in ("x", "y"):
        await accepted_case(pg_store, case_id)
    # Both ask at once: one sees the last free place and reserves it, the other waits for
    # the coordinator's lock and then counts that reservation: the decider refuses it.
    seen = await asyncio.gather(reserve(pool, "x"), reserve(pool, "y"))
    assert sorted(seen) == [CAP - 1, CAP]
    winner = "x" if seen[0] == CAP - 1 else "y"
    async with pool.acquire() as conn:
        reservations = await conn.fetch("SELECT case_id, member_id FROM caseload_reservations")
        assert [tuple(r) for r in reservations] == [(winner, "pro-9")]
        assert await caseloads(conn, policy=POLICY) == [CaseloadRow(
            coordinator_id="pro-9", open_cases=CAP - 1, reserved=1, cap=CAP, over_cap=False)]
    # The winner's appointment is recorded; until the projector applies it, its
    # reservation counts it, and after, the read model does: never a gap.
    await append(pg_store, winner, 2, appointed(winner, "pro-9"))
    assert await reserve(pool, "z") == CAP
    await projector.catch_up()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM caseload_reservations") == 0
    assert await reserve(pool, "z") == CAP
    # Asking again for the same case does not count it twice.
    assert await reserve(pool, winner) == CAP - 1


async def test_a_reservation_goes_when_its_case_closes(
        pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    projector = CatchUpSubscription(pg_store, case_list.SUBSCRIBER,
                                    CaseListProjection(POLICY.region))
    await accepted_case(pg_store, "x")
    assert await reserve(pool, "x") == 0
    # The appointment was refused after all (the state moved); the case then closes.
    await append(pg_store, "x", 2, TrajectoryClosed(
        reason=ClosureReason.CHILD_PROTECTION, aftercare_ends_at=AT, check_ins_due=()))
    await projector.catch_up()
    assert await reserve(pool, "y") == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT case_id FROM caseload_reservations") == "y"
