"""FamilyTrajectoryWorkflow: one durable workflow per family (id `trajectory-<case id>`).

Commands arrive as Temporal Updates. Each update's validator runs the domain's `decide`
against the current state, so a command that breaks a rule is rejected with its message
before anything is written to the workflow history or the event store.

Order is *append, then apply*: the events a decision produces reach the event store
through an activity before the workflow's state changes, so the state is always the fold
of what is stored. A lock serialises command handlers: each decides on the state the
previous one left, and appends at the version it expects.

Partners refer a family with update-with-start (`refer`), keyed on the case id: the first
referral opens the trajectory, a later one joins it, and a retried one changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
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
    case_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")


class ReferInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    command: ReferFamily
    actor: str = Field(min_length=1, description="e.g. partner:<organisation>")


class CommandResult(BaseModel):
    """What an update returns: the version it left the trajectory at, and whether it
    recorded anything (False for a command that was already carried out)."""

    model_config = ConfigDict(frozen=True)
    case_id: str
    version: int
    recorded: bool


APPEND_TIMEOUT = timedelta(seconds=30)
# Store outages are retried with backoff for as long as they last: nothing is lost, and
# idempotent appends make the retries safe. Domain-level refusals are non-retryable.
APPEND_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(minutes=1))


def workflow_id_for(case_id: str) -> str:
    return f"trajectory-{case_id}"


def _refused(error: DomainError) -> ApplicationError:
    # ApplicationError fails only the update (the caller sees the message), never the
    # workflow; non_retryable because the same command will be refused again.
    return ApplicationError(error.message, error.code, type="DomainError", non_retryable=True)


@workflow.defn
class FamilyTrajectoryWorkflow:
    @workflow.init
    def __init__(self, input: StartTrajectoryInput) -> None:
        self._case_id = input.case_id
        self._stream_id = stream_id_for(input.case_id)
        self._state = TrajectoryState()
        self._ended = False
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: StartTrajectoryInput) -> TrajectoryState:
        workflow.logger.info("trajectory started", extra={"case_id": input.case_id})
        # The lifecycle after referral is added by the trajectory issue; until then the
        # case stays open, takes referrals and answers queries.
        await workflow.wait_condition(lambda: self._ended and workflow.all_handlers_finished())
        return self._state

    @workflow.query
    def state(self) -> TrajectoryState:
        return self._state

    @workflow.update
    async def refer(self, input: ReferInput) -> CommandResult:
        async with self._lock:
            try:
                payloads = decide_referral(input.command, self._state)
            except DomainError as error:  # the state moved since validation
                raise _refused(error) from error
            await self._append(payloads, input.actor)
            workflow.logger.info("referral recorded" if payloads else "referral known",
                                 extra={"case_id": self._case_id,
                                        "referral_id": input.command.referral.referral_id})
            return CommandResult(case_id=self._case_id, version=self._state.version,
                                 recorded=bool(payloads))

    @refer.validator
    def _validate_refer(self, input: ReferInput) -> None:
        if input.command.case_id != self._case_id:
            raise ApplicationError(
                f"this is the trajectory of case {self._case_id}; the referral names case "
                f"{input.command.case_id}", type="DomainError", non_retryable=True)
        try:
            decide_referral(input.command, self._state)
        except DomainError as error:
            raise _refused(error) from error

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
