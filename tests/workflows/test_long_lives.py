"""Long lives and floods: a case keeps continuing as new while signals pour in, and a
stream of twenty years rebuilds in pages, far below Temporal's payload limit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.events import (
    EventMetadata,
    NewEvent,
    PartnerSignalRecorded,
    SignalKind,
    TrajectoryReferred,
)
from domain.family import family_subject
from domain.personal import without_personal_text
from domain.trajectory import fold
from infra.event_store import PostgresEventStore
from tests.factories import referral
from tests.workflows.test_handler_seams import signal, until
from tests.workflows.test_lifecycle import open_case
from workflows.trajectory import (
    READ_PAGE_EVENTS,
    FamilyTrajectoryWorkflow,
    StartTrajectoryInput,
    workflow_id_for,
)


async def test_a_flood_of_signals_does_not_keep_a_case_from_continuing_as_new(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    # A small threshold: the flood pushes the history past it several times over.
    case = await open_case(time_skipping_env, worker, "flood-1", max_history_events=50)
    first_run = (await case.handle.describe()).run_id
    flood = [signal(f"flood-{i}", SignalKind.CONCERN, f"zorg nummer {i}") for i in range(120)]
    await asyncio.gather(*(case.handle.signal(FamilyTrajectoryWorkflow.partner_signal, s)
                           for s in flood))

    async def all_recorded() -> bool:
        events = await pg_store.read_stream("trajectory-flood-1")
        return sum(isinstance(e.payload, PartnerSignalRecorded) for e in events) >= 120
    await until(all_recorded, "every signal of the flood recorded")

    events = await pg_store.read_stream("trajectory-flood-1")
    keys = [e.payload.idempotency_key for e in events
            if isinstance(e.payload, PartnerSignalRecorded)]
    assert sorted(keys) == sorted(s.idempotency_key for s in flood)  # each exactly once
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    # It continues as new once the run loop sees the long history, which may be just
    # after the last signal's append: waited for, not assumed at once.
    async def continued() -> bool:
        return (await case.handle.describe()).run_id != first_run
    await until(continued, "the case continued as new")
    assert (await case.handle.describe()).status == WorkflowExecutionStatus.RUNNING
    async def rebuilt() -> bool:  # the new run reads its stream first
        return (await case.state()).version == len(events)
    await until(rebuilt, "the last run rebuilt its state")
    assert await case.state() == without_personal_text(fold(events))


async def test_twenty_years_of_monthly_events_rebuild_in_pages(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case_id = "twenty-years"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    metadata = EventMetadata(actor="partner:ggd", correlation_id="c")
    # A referral, then every month for twenty years a partner's concern of about 2 kB of
    # (sealed) text: some 0.6 MB in all, read back unsealed, and more with the codec.
    months = 20 * 12
    events = [NewEvent(event_id=_id(0), occurred_at=start, metadata=metadata,
                       payload=TrajectoryReferred(case_id=case_id, referral=referral()))]
    events += [NewEvent(
        event_id=_id(m), occurred_at=start + timedelta(days=30 * m), metadata=metadata,
        payload=PartnerSignalRecorded(
            idempotency_key=f"month-{m}", organisation="ggd", kind=SignalKind.CONCERN,
            subject=family_subject(case_id), description=f"maand {m}: " + "zorg " * 400,
            acted_on=False, note="recorded for the coordinator"))
        for m in range(1, months + 1)]
    for offset in range(0, len(events), 100):
        await pg_store.append(f"trajectory-{case_id}", offset, events[offset:offset + 100])
    assert len(events) > READ_PAGE_EVENTS  # more than one page to read

    handle = await time_skipping_env.client.start_workflow(
        FamilyTrajectoryWorkflow.run, StartTrajectoryInput(case_id=case_id, resume=True),
        id=workflow_id_for(case_id), task_queue=worker.task_queue)

    async def rebuilt() -> bool:
        # Then the run goes on: the intake is long overdue, which it records next.
        state = await handle.query(FamilyTrajectoryWorkflow.state)
        return state.version >= months + 1
    await until(rebuilt, "the twenty-year stream rebuilt")
    state = await handle.query(FamilyTrajectoryWorkflow.state)
    assert {f"month-{m}" for m in range(1, months + 1)} <= set(state.signal_keys)
    history = await handle.fetch_history()
    reads = [e for e in history.events
             if e.HasField("activity_task_scheduled_event_attributes")
             and e.activity_task_scheduled_event_attributes.activity_type.name == "read_stream"]
    assert len(reads) >= 2  # page by page
    results = [e.activity_task_completed_event_attributes.result for e in history.events
               if e.HasField("activity_task_completed_event_attributes")]
    largest = max(sum(p.ByteSize() for p in r.payloads) for r in results)
    assert largest < 2 * 1024 * 1024 // 2  # well below Temporal's 2 MB payload limit
    await handle.terminate(reason="test over")


def _id(n: int) -> UUID:
    return UUID(int=n + 1)
