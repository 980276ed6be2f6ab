"""The first trajectory workflow end to end: real Temporal test server, real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.events import TrajectoryReferred
from domain.trajectory import TrajectoryState, TrajectoryStatus, fold
from infra.event_store import PostgresEventStore
from tests.factories import refer_family
from workers.worker import build_worker
from workflows.trajectory import FamilyTrajectoryWorkflow, StartTrajectoryInput, workflow_id_for

HISTORIES = Path(__file__).parent.parent / "histories"


@pytest.fixture
async def worker(time_skipping_env: WorkflowEnvironment,
                 pg_store: PostgresEventStore) -> AsyncIterator[Worker]:
    task_queue = f"tq-{uuid.uuid4()}"
    worker = build_worker(time_skipping_env.client, pg_store, task_queue)
    async with worker:
        yield worker


async def test_referral_is_appended_and_query_equals_fold_of_store(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    client = time_skipping_env.client
    command = refer_family("case-42")
    handle = await client.start_workflow(
        FamilyTrajectoryWorkflow.run,
        StartTrajectoryInput(referral=command, actor="partner:school"),
        id=workflow_id_for("case-42"),
        task_queue=worker.task_queue,
    )

    async def queried() -> TrajectoryState:
        return await handle.query(FamilyTrajectoryWorkflow.state)

    state = await queried()
    for _ in range(50):
        if state.version == 1:
            break
        state = await queried()

    assert state.status is TrajectoryStatus.REFERRED
    assert state.case_id == "case-42"
    assert [m.person_id for m in state.members] == ["p-1", "c-1"]

    stored = await pg_store.read_stream("trajectory-case-42")
    assert [e.type for e in stored] == ["TrajectoryReferred"]
    (event,) = stored
    assert isinstance(event.payload, TrajectoryReferred)
    assert event.payload.referral == command.referral
    assert event.metadata.actor == "partner:school"
    assert event.metadata.workflow_id == "trajectory-case-42"
    assert event.metadata.run_id == handle.result_run_id
    assert fold(e.payload for e in stored) == state

    if os.environ.get("REGIE_RECORD_HISTORIES"):
        history = await handle.fetch_history()
        (HISTORIES / "trajectory_referred.json").write_text(history.to_json())
    await handle.terminate("test done")


async def test_referral_that_breaks_a_rule_fails_with_its_message(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    command = refer_family("case-43")
    no_child = command.model_copy(update={"referral": command.referral.model_copy(
        update={"members": command.referral.members[:1], "reasons": ()})})
    with pytest.raises(WorkflowFailureError) as info:
        await time_skipping_env.client.execute_workflow(
            FamilyTrajectoryWorkflow.run,
            StartTrajectoryInput(referral=no_child, actor="partner:school"),
            id=workflow_id_for("case-43"),
            task_queue=worker.task_queue,
        )
    assert "at least one parent and one child" in str(info.value.cause)
    assert await pg_store.read_stream("trajectory-case-43") == []
