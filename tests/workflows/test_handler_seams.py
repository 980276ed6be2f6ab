"""The trajectory's handlers at their seams, on the time-skipping server and real
PostgreSQL: one append per step, another writer first, erased data, a store outage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.commands import (
    AssessmentInput,
    PartnerSignal,
    RecordContactAttempt,
    RecordIntake,
    SignalKind,
)
from domain.events import (
    ContactAttempted,
    EscalationOpened,
    EventMetadata,
    IntakeOutcome,
    PartnerSignalRecorded,
    StagnationFound,
)
from domain.family import LifeDomain, family_subject
from domain.personal import Erased, without_personal_text
from domain.trajectory import TrajectoryState, fold, new_event
from infra.event_store import PostgresEventStore
from tests.workflows.test_lifecycle import ACTOR, Case, open_case
from workflows.trajectory import FamilyTrajectoryWorkflow


def signal(key: str, kind: SignalKind, description: str = "het loopt vast op school"
           ) -> PartnerSignal:
    return PartnerSignal(idempotency_key=key, organisation="GGD Hollands Noorden", kind=kind,
                         description=description)


async def until(check: Callable[[], Awaitable[bool]], what: str, *,
                attempts: int = 400) -> None:
    """Poll `check` (a query or a read), without asserting on time: the bound only turns
    a hang into a failure that says what never happened."""
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def signal_handled(case: Case, key: str) -> None:
    async def handled() -> bool:
        return key in (await case.state()).signal_keys
    await until(handled, f"signal {key} recorded")


async def transactions(pool: asyncpg.Pool, stream_id: str) -> list[int]:
    """The writing transaction of each event of the stream, in stream order: rows written
    by one transaction share PostgreSQL's `xmin`."""
    rows = await pool.fetch("SELECT xmin::text::bigint AS tx FROM events "
                            "WHERE stream_id = $1 ORDER BY stream_version", stream_id)
    return [int(r["tx"]) for r in rows]


async def assert_consistent(case: Case, store: PostgresEventStore) -> TrajectoryState:
    """Still running, and the live state is the fold of the gapless stream."""
    description = await case.handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    events = await store.read_stream(f"trajectory-{case.case_id}")
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    state = await case.state()
    assert state == without_personal_text(fold(events))
    return state


async def test_a_partners_stagnation_report_and_its_episode_are_one_append(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore,
    pool: asyncpg.Pool
) -> None:
    case = await open_case(time_skipping_env, worker, "seam-one-append")

    await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal,
                             signal("ggd-1", SignalKind.STAGNATION))
    await signal_handled(case, "ggd-1")

    # Versions 2 to 4 (the episode's own steps may follow already).
    signalled = (await pg_store.read_stream("trajectory-seam-one-append"))[1:4]
    assert [type(e.payload) for e in signalled] == [
        StagnationFound, PartnerSignalRecorded, EscalationOpened]
    # One round trip to the store: the signal and all it set off in one transaction.
    referral_tx, tx1, tx2, tx3, *_ = await transactions(pool, "trajectory-seam-one-append")
    assert tx1 == tx2 == tx3 != referral_tx

    # Let the episode reach its first wait (no directory here: it tells the region), so
    # no activity of it is cut off at teardown (the test server would keep that time
    # lock), and so nothing appends between reading the stream and the state below.
    async def episode_waits() -> bool:
        episode = (await case.state()).episode("ep-1")
        return episode is not None and episode.assignee_id is not None
    await until(episode_waits, "the episode recorded its first step")
    await assert_consistent(case, pg_store)


async def test_a_signal_after_the_familys_key_was_erased_is_recorded_without_its_words(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "seam-erased")
    assert await pg_store.erase_subject(family_subject("seam-erased"))

    await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal,
                             signal("ggd-2", SignalKind.CONCERN, "zorgen over de thuissituatie"))
    await signal_handled(case, "ggd-2")

    last = (await pg_store.read_stream("trajectory-seam-erased"))[-1].payload
    assert isinstance(last, PartnerSignalRecorded)
    assert (last.idempotency_key, last.description) == ("ggd-2", Erased())
    await assert_consistent(case, pg_store)
    # The same signal again is still a no-op, and the case still takes commands.
    await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal,
                             signal("ggd-2", SignalKind.CONCERN))
    result = await case.do(RecordContactAttempt(actor=ACTOR, by="pro-1", channel="phone",
                                                reached=True))
    assert result.recorded
    state = await assert_consistent(case, pg_store)
    assert state.signal_keys.count("ggd-2") == 1


async def test_a_command_with_data_about_an_erased_family_is_refused_and_writes_nothing(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "seam-erased-cmd")
    assert await pg_store.erase_subject(family_subject("seam-erased-cmd"))
    version = (await case.state()).version

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await case.do(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.ACCEPTED, assessments=(
            AssessmentInput(life_domain=LifeDomain.EDUCATION_WORK, strengths="betrokken",
                            problems="verzuim"),)))

    assert "erased" in str(refused.value.cause)
    state = await assert_consistent(case, pg_store)
    assert state.version == version


async def test_another_writer_first_makes_the_command_re_read_and_decide_again(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "seam-conflict")
    stream = "trajectory-seam-conflict"
    version = (await case.state()).version
    # An operator's tool (or an append that landed although its activity timed out)
    # wrote behind the workflow's back.
    outside = new_event(ContactAttempted(by="pro-9", channel="letter", reached=False),
                        event_id=uuid.uuid4(), now=await case.now(),
                        metadata=EventMetadata(actor="operator:test"))
    await pg_store.append(stream, version, [outside])

    result = await case.do(RecordContactAttempt(actor=ACTOR, by="pro-1", channel="phone",
                                                reached=False))

    assert result.recorded and result.version == version + 2
    state = await assert_consistent(case, pg_store)
    assert len(state.failed_contacts) == 2


async def test_a_store_outage_is_waited_out_outside_the_lock_and_nothing_is_lost(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore,
    pool: asyncpg.Pool
) -> None:
    # Short rounds: an outage is retried in real time (the time-skipping server does not
    # skip while an activity is being retried).
    case = await open_case(time_skipping_env, worker, "seam-outage", append_attempts=2,
                           outage_backoff=timedelta(milliseconds=500))
    version = (await case.state()).version
    # A real outage of the table the appends need.
    await pool.execute("ALTER TABLE events RENAME TO events_away")
    try:
        await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal,
                                 signal("ggd-3", SignalKind.CONCERN))

        async def gave_up_a_round() -> bool:
            # A timer started after the signal: nothing else starts one while the state
            # stays the same, so it is the handler's wait between rounds, outside the lock.
            kinds = [e.event_type for e in (await case.handle.fetch_history()).events]
            signalled = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
            return EventType.EVENT_TYPE_TIMER_STARTED in kinds[signalled:]
        # The round timed out and the handler waits on a timer, outside the lock.
        await until(gave_up_a_round, "a round of appending gave up and backed off")
        await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal,
                                 signal("ggd-4", SignalKind.CONCERN))
        assert (await case.state()).version == version  # nothing half-recorded
    finally:
        await pool.execute("ALTER TABLE events_away RENAME TO events")
    await signal_handled(case, "ggd-3")
    await signal_handled(case, "ggd-4")

    state = await assert_consistent(case, pg_store)
    assert state.version == version + 2
    assert sorted(state.signal_keys[-2:]) == ["ggd-3", "ggd-4"]
