"""The trajectory workflow end to end: real Temporal test server, real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.commands import ReferFamily
from domain.events import ReferralAdded, TrajectoryReferred
from domain.personal import without_personal_text
from domain.trajectory import Phase, TrajectoryState, fold
from infra.event_store import PostgresEventStore
from tests.factories import refer_family
from workers.worker import build_worker
from workflows.trajectory import (
    CommandResult,
    FamilyTrajectoryWorkflow,
    ReferInput,
    StartTrajectoryInput,
    workflow_id_for,
)

HISTORIES = Path(__file__).parent.parent / "histories"
Handle = WorkflowHandle[FamilyTrajectoryWorkflow, TrajectoryState]


@pytest.fixture
async def worker(time_skipping_env: WorkflowEnvironment,
                 pg_store: PostgresEventStore) -> AsyncIterator[Worker]:
    task_queue = f"tq-{uuid.uuid4()}"
    worker = build_worker(time_skipping_env.client, pg_store, task_queue)
    async with worker:
        yield worker


async def start(env: WorkflowEnvironment, worker: Worker, case_id: str) -> Handle:
    return await env.client.start_workflow(
        FamilyTrajectoryWorkflow.run, StartTrajectoryInput(case_id=case_id),
        id=workflow_id_for(case_id), task_queue=worker.task_queue)


async def refer(handle: Handle, command: ReferFamily) -> CommandResult:
    return await handle.execute_update(
        FamilyTrajectoryWorkflow.refer, ReferInput(command=command, actor="partner:school"))


async def test_referral_is_appended_and_query_equals_fold_of_store(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    handle = await start(time_skipping_env, worker, "case-42")
    command = refer_family("case-42")

    result = await refer(handle, command)

    assert result == CommandResult(case_id="case-42", version=1, recorded=True)
    state = await handle.query(FamilyTrajectoryWorkflow.state)
    assert state.phase is Phase.REFERRED
    assert [m.person_id for m in state.members] == ["p-1", "c-1"]
    stored = await pg_store.read_stream("trajectory-case-42")
    (event,) = stored
    assert isinstance(event.payload, TrajectoryReferred)
    assert event.payload.referral == command.referral
    assert event.metadata.actor == "partner:school"
    assert event.metadata.workflow_id == "trajectory-case-42"
    assert event.metadata.run_id == handle.result_run_id
    assert without_personal_text(fold(stored)) == state

    if os.environ.get("REGIE_RECORD_HISTORIES"):
        history = await handle.fetch_history()
        (HISTORIES / "trajectory_referred.json").write_text(history.to_json())
    await handle.terminate("test done")


async def test_duplicate_referrals_join_one_trajectory_and_retries_change_nothing(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    handle = await start(time_skipping_env, worker, "case-44")
    first = refer_family("case-44")
    await refer(handle, first)

    assert await refer(handle, first) == CommandResult(case_id="case-44", version=1,
                                                       recorded=False)
    second = refer_family("case-44", referral_id="ref-2", child="c-2", child_name="Noor")
    assert (await refer(handle, second)).recorded

    stored = await pg_store.read_stream("trajectory-case-44")
    assert [type(e.payload) for e in stored] == [TrajectoryReferred, ReferralAdded]
    state = await handle.query(FamilyTrajectoryWorkflow.state)
    assert [m.person_id for m in state.members] == ["p-1", "c-1", "c-2"]
    assert len(state.referrals) == 2
    assert without_personal_text(fold(stored)) == state
    await handle.terminate("test done")


async def test_referral_that_breaks_a_rule_is_refused_with_its_message(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    handle = await start(time_skipping_env, worker, "case-43")
    command = refer_family("case-43")
    no_child = command.model_copy(update={"referral": command.referral.model_copy(
        update={"members": command.referral.members[:1], "reasons": ()})})

    with pytest.raises(WorkflowUpdateFailedError) as info:
        await refer(handle, no_child)
    assert "at least one parent and one child" in str(info.value.cause)

    with pytest.raises(WorkflowUpdateFailedError) as info:
        await refer(handle, refer_family("another-case"))
    assert "trajectory of case case-43" in str(info.value.cause)

    assert await pg_store.read_stream("trajectory-case-43") == []
    # The workflow lives on, ready for a valid referral.
    assert (await refer(handle, command)).recorded
    await handle.terminate("test done")
