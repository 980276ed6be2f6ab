from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
import pytest

from domain.closure import ClosureReason
from domain.commands import (
    AddTeamMember,
    AdoptPlan,
    AppointCoordinator,
    CloseTrajectory,
    Command,
    EvaluatePlan,
    GoalResult,
    PartnerSignal,
    RecordIntake,
    ReferFamily,
    SignalKind,
    SkipFamilyGroupPlan,
    StartCare,
)
from domain.deadlines import due_events, next_deadline
from domain.events import EventMetadata, EventPayload, IntakeOutcome, TrajectoryReferred
from domain.plan import GoalProgress, SkipGround
from domain.trajectory import TrajectoryState, evolve
from domain.trajectory import new_event as domain_event
from infra.event_store import PostgresEventStore
from infra.subscription import CatchUpSubscription
from infra.trajectory_overview import SUBSCRIBER, TrajectoryOverviewProjection
from tests.domain.test_decide import (
    ACTOR,
    CARE_AT,
    CLOSED_AT,
    EVALUATED_AT,
    INTAKE_AT,
    PLAN_AT,
    Story,
    intake_accepted,
    plan,
    professional,
)
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


# -- the status column is the phase of the fold -------------------------------------------


class Told:
    """A story told through `decide`, every event it produced kept with its moment."""

    def __init__(self, case_id: str) -> None:
        self.story = Story()
        self.case_id = case_id
        self.events: list[tuple[EventPayload, datetime]] = []

    def do(self, command: Command, *, at: datetime | None = None,
           caseload: int | None = None) -> None:
        events = self.story.do(command, at=at, caseload=caseload)
        self.events += [(event, self.story.now) for event in events]

    def run_clocks(self, until: datetime) -> None:
        """What the workflow's timers do: append what is due, deadline after deadline."""
        story = self.story
        while (at := next_deadline(story.state, story.policy)) is not None and at <= until:
            while due := due_events(story.state, at, story.policy):
                for event in due:
                    story.state = evolve(story.state, event, at)
                    self.events.append((event, at))


def care_closed_reopened_and_ended() -> Told:
    told = Told("case-1")
    told.do(ReferFamily(case_id="case-1", referral=referral()))
    told.do(ReferFamily(case_id="case-1", referral=referral("ref-2")))
    told.do(intake_accepted(), at=INTAKE_AT)
    told.do(AddTeamMember(actor=ACTOR, member=professional()))
    told.do(AppointCoordinator(actor=ACTOR, member_id="pro-1"), caseload=3)
    told.do(StartCare(actor=ACTOR), at=CARE_AT)
    told.do(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
                                reason="De ouders willen geen eigen plan maken."))
    told.do(AdoptPlan(actor=ACTOR, plan=plan()), at=PLAN_AT)
    final = EvaluatePlan(actor=ACTOR, final=True, results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.ACHIEVED),))
    close = CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED)
    told.do(final, at=EVALUATED_AT)
    told.do(close, at=CLOSED_AT)
    told.do(PartnerSignal(idempotency_key="sig-1", organisation="GGD",
                          kind=SignalKind.RELAPSE, description="het gaat weer mis"),
            at=CLOSED_AT + timedelta(days=20))
    told.do(final, at=CLOSED_AT + timedelta(days=21))
    told.do(close, at=CLOSED_AT + timedelta(days=22))
    told.run_clocks(until=CLOSED_AT + timedelta(days=400))
    return told


def declined() -> Told:
    told = Told("case-2")
    told.do(ReferFamily(case_id="case-2", referral=referral()))
    told.do(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.DECLINED,
                         reason="geen multiprobleemgezin"), at=INTAKE_AT)
    return told


@pytest.mark.parametrize("tell", [care_closed_reopened_and_ended, declined])
async def test_the_status_is_the_phase_of_the_fold_after_every_event(
        tell: Callable[[], Told], pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    told = tell()
    stream = f"trajectory-{told.case_id}"
    subscription = CatchUpSubscription(pg_store, SUBSCRIBER, TrajectoryOverviewProjection())
    state = TrajectoryState()
    statuses: list[tuple[str, str, str | None]] = []
    for version, (payload, at) in enumerate(told.events):
        await pg_store.append(stream, version, [domain_event(
            payload, event_id=uuid.uuid4(), now=at,
            metadata=EventMetadata(actor="test", correlation_id="corr-1"))])
        assert await subscription.catch_up() == 1
        state = evolve(state, payload, at)
        async with pool.acquire() as conn:
            status = await conn.fetchval(
                "SELECT status FROM trajectory_overview WHERE case_id = $1", told.case_id)
        assert state.phase is not None
        statuses.append((type(payload).__name__, state.phase.value, status))
    assert [(name, status) for name, _, status in statuses] == [
        (name, phase) for name, phase, _ in statuses]
    assert state == told.story.state
    if tell is care_closed_reopened_and_ended:
        # The stream passes through every phase, and back into care once.
        assert list(dict.fromkeys(phase for _, phase, _ in statuses)) == [
            "referred", "accepted", "in_care", "aftercare", "ended"]
        assert state.reopen_count == 1


# -- a batch gives what the events give one by one ------------------------------------------


async def overview_rows(pool: asyncpg.Pool) -> list[dict[str, object]]:
    async with pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(
            "SELECT * FROM trajectory_overview ORDER BY case_id")]


async def append_interleaved(store: PostgresEventStore, stories: list[Told]) -> int:
    """The stories' events appended round-robin, one event per append, so every batch
    mixes cases, and a case's events land in several batches."""
    versions = {told.case_id: 0 for told in stories}
    pending = {told.case_id: list(told.events) for told in stories}
    appended = 0
    while any(pending.values()):
        for told in stories:
            if not pending[told.case_id]:
                continue
            payload, at = pending[told.case_id].pop(0)
            await store.append(f"trajectory-{told.case_id}", versions[told.case_id], [
                domain_event(payload, event_id=uuid.uuid4(), now=at,
                             metadata=EventMetadata(actor="test", correlation_id="c"))])
            versions[told.case_id] += 1
            appended += 1
    return appended


def three_cases() -> list[Told]:
    first, second = care_closed_reopened_and_ended(), declined()
    third = Told("case-3")
    third.do(ReferFamily(case_id="case-3", referral=referral()))
    third.do(ReferFamily(case_id="case-3", referral=referral("ref-2", organisation="GGD")))
    third.do(ReferFamily(case_id="case-3", referral=referral("ref-3")))
    third.do(intake_accepted(), at=INTAKE_AT)
    return [first, second, third]


@pytest.mark.parametrize("batch_size", [2, 7, 1000])
async def test_a_batch_writes_what_its_events_write_one_by_one(
        batch_size: int, pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    total = await append_interleaved(pg_store, three_cases())
    one_by_one = CatchUpSubscription(pg_store, "overview_one_by_one",
                                     TrajectoryOverviewProjection(), batch_size=1)
    assert await one_by_one.catch_up() == total
    expected = await overview_rows(pool)
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE trajectory_overview")
    batched = CatchUpSubscription(pg_store, SUBSCRIBER, TrajectoryOverviewProjection(),
                                  batch_size=batch_size)
    assert await batched.catch_up() == total
    assert await overview_rows(pool) == expected
    # Every column took part, not only the defaults.
    case_1, case_2, case_3 = expected
    assert case_1["reopen_count"] == 1 and case_1["coordinator_id"] == "pro-1"
    assert case_1["first_plan_at"] is not None and case_1["closed_at"] is not None
    assert case_1["status"] == "ended" and case_1["referral_count"] == 2
    assert case_2["status"] == "ended" and case_2["coordinator_id"] is None
    assert case_3["referral_count"] == 3 and case_3["status"] == "accepted"
    assert case_3["organisations"] == ["Basisschool De Linde", "GGD"]
