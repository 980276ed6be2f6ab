"""FamilyTrajectoryWorkflow: one durable workflow per family (id `trajectory-<case id>`).

Order is *append, then apply*: the events a decision produces reach the event store
through an activity before the workflow's state changes, so the state is always the fold
of what is stored. This first version opens the trajectory from a referral and answers
queries; the lifecycle (intake through aftercare) builds on it.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.event_store import AppendEventsInput, AppendEventsResult
    from domain.commands import ReferFamily
    from domain.errors import DomainError
    from domain.events import EventMetadata, EventPayload
    from domain.trajectory import (
        TrajectoryState,
        decide_referral,
        evolve,
        new_event,
        stream_id_for,
    )


class StartTrajectoryInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    referral: ReferFamily
    actor: str


APPEND_TIMEOUT = timedelta(seconds=30)
# Store outages are retried with backoff for as long as they last: nothing is lost, and
# idempotent appends make the retries safe. Domain-level refusals are non-retryable.
APPEND_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(minutes=1))


def workflow_id_for(case_id: str) -> str:
    return f"trajectory-{case_id}"


@workflow.defn
class FamilyTrajectoryWorkflow:
    def __init__(self) -> None:
        self._state = TrajectoryState()
        self._ended = False
        self._stream_id = ""
        self._case_id = ""

    @workflow.run
    async def run(self, input: StartTrajectoryInput) -> TrajectoryState:
        workflow.logger.info("trajectory started",
                             extra={"case_id": input.referral.case_id})
        self._case_id = input.referral.case_id
        self._stream_id = stream_id_for(self._case_id)
        try:
            payloads = decide_referral(input.referral, self._state)
        except DomainError as error:
            # A refused referral fails the workflow with the caseworker's message instead
            # of retrying a workflow task that can never succeed. The gateway checks the
            # same rules first, so this only happens for starts that bypass it.
            raise ApplicationError(error.message, type="DomainError",
                                   non_retryable=True) from error
        await self._append(payloads, input.actor)
        # The lifecycle after referral is added by the trajectory issue; until then the
        # case stays open and answers queries.
        await workflow.wait_condition(lambda: self._ended)
        return self._state

    @workflow.query
    def state(self) -> TrajectoryState:
        return self._state

    async def _append(self, payloads: list[EventPayload], actor: str) -> None:
        if not payloads:
            return
        info = workflow.info()
        metadata = EventMetadata(actor=actor, workflow_id=info.workflow_id, run_id=info.run_id)
        events = [new_event(p, event_id=workflow.uuid4(), now=workflow.now(), metadata=metadata)
                  for p in payloads]
        result: AppendEventsResult = await workflow.execute_activity(
            "append_events",
            AppendEventsInput(stream_id=self._stream_id, case_id=self._case_id,
                              expected_version=self._state.version, events=events),
            result_type=AppendEventsResult,
            start_to_close_timeout=APPEND_TIMEOUT,
            retry_policy=APPEND_RETRY,
        )
        for payload in payloads:
            self._state = evolve(self._state, payload)
        if result.last_version != self._state.version:
            raise RuntimeError(
                f"store is at version {result.last_version}, state at {self._state.version}"
            )
