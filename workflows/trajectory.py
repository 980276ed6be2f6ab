"""FamilyTrajectoryWorkflow: one durable workflow per family (id `trajectory-<case id>`).

- Commands arrive as Updates. Each validator runs the domain's `decide` against the
  current state, so a command that breaks a rule is rejected with its message before
  anything is written to the workflow history or the event store.
- Partner signals carry an idempotency key; the keys are part of the state (they are in
  the events), so a resent signal is ignored, also after continue-as-new.
- Order is *append, then apply*: events reach the event store through an activity before
  the state changes, so the state is always the fold of what is stored. A lock
  serialises handlers: each decides on the state the previous one left.
- Clocks are durable timers: the run loop sleeps until the earliest deadline of the state
  (`domain.deadlines`) or until a command changes the state.
- Long life: the workflow continues as new well before its history grows large. The new
  run rebuilds its state from the event store, the same path that rebuilds any
  trajectory from its stream alone (`resume=True`).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

from workflows.escalation import (
    EpisodeEnded,
    EpisodeInput,
    EpisodeOutcome,
    EscalationEpisodeWorkflow,
    episode_workflow_id,
)

with workflow.unsafe.imports_passed_through():
    from activities.case_context import CaseloadRequest, PolicyRequest
    from activities.event_store import AppendEventsInput, AppendEventsResult, ReadStreamInput
    from domain.commands import (
        AcknowledgeEscalation,
        AddTeamMember,
        AdjustPlan,
        AdoptPlan,
        AppointCoordinator,
        AssignWaitingContact,
        CloseTrajectory,
        Command,
        CompleteAgreement,
        DeclareNoFamilyGroupPlan,
        EvaluatePlan,
        GiveConsent,
        OfferFamilyGroupPlan,
        PartnerSignal,
        ProvideWrittenCopy,
        RecordCheckIn,
        RecordContactAttempt,
        RecordFamilyPreference,
        RecordIntake,
        RecordManagerReview,
        ReferFamily,
        RemoveTeamMember,
        ReportProgress,
        ReportStagnation,
        RequestWrittenCopy,
        ResolveEscalation,
        ShareInformation,
        SkipFamilyGroupPlan,
        StartCare,
        SubmitFamilyGroupPlan,
        WithdrawConsent,
    )
    from domain.deadlines import due_events, next_deadline
    from domain.decide import DecisionContext, decide
    from domain.errors import DomainError
    from domain.escalation import LevelStep, RegionAlert, record_alert, record_step
    from domain.events import (
        EscalationClosed,
        EscalationOpened,
        EscalationResolved,
        EventMetadata,
        EventPayload,
        RecordedEvent,
        StagnationFound,
    )
    from domain.notifications import Notification, RecipientRole
    from domain.policy import RegionPolicy
    from domain.trajectory import (
        Phase,
        TrajectoryState,
        evolve,
        fold,
        new_event,
        stream_id_for,
    )


class StartTrajectoryInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    # True: rebuild the state from the event store first (continue-as-new, or rebuilding
    # a trajectory from its stream alone).
    resume: bool = False
    # Continue as new once the history holds this many events (Temporal's hard limit is
    # 51,200; it also suggests continuing as new on its own, which is honoured too).
    max_history_events: int = Field(default=10_000, ge=50)


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


ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Store outages are retried with backoff for as long as they last: nothing is lost, and
# idempotent appends make the retries safe. Domain-level refusals are non-retryable.
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
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
        self._input = input
        self._case_id = input.case_id
        self._stream_id = stream_id_for(input.case_id)
        self._state = TrajectoryState()
        self._policy: RegionPolicy | None = None
        # Set once the policy is loaded and, on resume, the state rebuilt: handlers that
        # arrive earlier (update-with-start, signals right after continue-as-new) wait.
        self._ready = False
        self._lock = asyncio.Lock()

    # -- the run loop -------------------------------------------------------------------

    @workflow.run
    async def run(self, input: StartTrajectoryInput) -> TrajectoryState:
        self._policy = await workflow.execute_activity(
            "current_policy", PolicyRequest(case_id=self._case_id), result_type=RegionPolicy,
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY)
        if input.resume:
            events = await workflow.execute_activity(
                "read_stream", ReadStreamInput(stream_id=self._stream_id),
                result_type=list[RecordedEvent],
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY)
            self._state = fold(events)
        self._ready = True
        workflow.logger.info("trajectory running", extra={
            "case_id": self._case_id, "version": self._state.version, "resumed": input.resume})
        while True:
            await self._apply_due_deadlines()
            if self._state.phase is Phase.ENDED:
                break
            if self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(StartTrajectoryInput(
                    case_id=self._case_id, resume=True,
                    max_history_events=input.max_history_events))
            await self._sleep_until_next_deadline_or_change()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.logger.info("trajectory ended", extra={"case_id": self._case_id})
        return self._state

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (info.is_continue_as_new_suggested()
                or info.get_current_history_length() >= self._input.max_history_events)

    async def _apply_due_deadlines(self) -> None:
        assert self._policy is not None
        while True:
            async with self._lock:
                payloads = due_events(self._state, workflow.now(), self._policy)
                if not payloads:
                    return
                await self._append(payloads, "system:deadline")
            for payload in payloads:
                if isinstance(payload, StagnationFound):
                    self._on_stagnation(payload)

    def _on_stagnation(self, finding: StagnationFound) -> None:
        """Log line for operators; the escalation bookkeeping (`due_events`) opens or
        joins an episode for the finding right after, in the same loop."""
        workflow.logger.info("stagnation found", extra={
            "case_id": self._case_id, "rule": finding.rule.value, "key": finding.key})

    async def _sleep_until_next_deadline_or_change(self) -> None:
        assert self._policy is not None
        version = self._state.version
        at = next_deadline(self._state, self._policy)
        timeout = None if at is None else max(at - workflow.now(), timedelta(seconds=1))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._state.version != version or self._history_is_long(),
                timeout=timeout)

    # -- queries ---------------------------------------------------------------------

    @workflow.query
    def state(self) -> TrajectoryState:
        return self._state

    # -- command handling ------------------------------------------------------------

    def _context(self, caseload: int | None = None) -> DecisionContext:
        assert self._policy is not None
        return DecisionContext(now=workflow.now(), policy=self._policy,
                               coordinator_caseload=caseload)

    def _check_case(self, command: object) -> None:
        if isinstance(command, ReferFamily) and command.case_id != self._case_id:
            raise ApplicationError(
                f"this is the trajectory of case {self._case_id}; the referral names case "
                f"{command.case_id}", type="DomainError", non_retryable=True)

    def _validate(self, command: object) -> None:
        # Before the run is ready (its first moments) the handler decides instead.
        if not self._ready:
            return
        self._check_case(command)
        try:
            decide(command, self._state, self._context())
        except DomainError as error:
            raise _refused(error) from error

    async def _execute(self, command: Command | ReferFamily, actor: str) -> CommandResult:
        await workflow.wait_condition(lambda: self._ready)
        # `decide` runs again below under the lock; the one check it does not repeat is
        # the case id, which the validator skipped if the run was not ready yet.
        self._check_case(command)
        caseload = None
        if isinstance(command, AppointCoordinator):
            caseload = await workflow.execute_activity(
                "coordinator_caseload",
                CaseloadRequest(member_id=command.member_id, case_id=self._case_id),
                result_type=int, start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY)
        async with self._lock:
            try:
                payloads = decide(command, self._state, self._context(caseload))
            except DomainError as error:  # the state moved since validation
                raise _refused(error) from error
            await self._append(payloads, actor)
        workflow.logger.info("command handled", extra={
            "case_id": self._case_id, "command": type(command).__name__,
            "events": [type(p).__name__ for p in payloads]})
        return CommandResult(case_id=self._case_id, version=self._state.version,
                             recorded=bool(payloads))

    async def _append(self, payloads: list[EventPayload], actor: str,
                      notifications: tuple[Notification, ...] = ()) -> None:
        if not payloads:
            return
        info = workflow.info()
        metadata = EventMetadata(actor=actor, workflow_id=info.workflow_id, run_id=info.run_id)
        now = workflow.now()
        events = [new_event(p, event_id=workflow.uuid4(), now=now, metadata=metadata)
                  for p in payloads]
        result: AppendEventsResult = await workflow.execute_activity(
            "append_events",
            AppendEventsInput(stream_id=self._stream_id, case_id=self._case_id,
                              expected_version=self._state.version, events=events,
                              notifications=list(notifications)),
            result_type=AppendEventsResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        state = self._state
        for payload in payloads:
            state = evolve(state, payload, now)
        if result.last_version != state.version:
            raise RuntimeError(f"store is at version {result.last_version}, "
                               f"state at {state.version}")
        self._state = state
        await self._steer_episodes(payloads)

    # -- escalation episodes (child workflows) ------------------------------------------

    async def _steer_episodes(self, payloads: list[EventPayload]) -> None:
        """Start the ladder of each episode just opened; tell an episode that ended."""
        assert self._policy is not None
        for payload in payloads:
            if isinstance(payload, EscalationOpened):
                finding = next(f for f in reversed(self._state.findings)
                               if f.ref == payload.finding_key)
                # ABANDON: the episode outlives this run when the trajectory continues
                # as new; it signals the trajectory by workflow id, so the new run gets it.
                child_run = await workflow.start_child_workflow(
                    EscalationEpisodeWorkflow.run,
                    EpisodeInput(case_id=self._case_id, episode_id=payload.episode_id,
                                 region_id=self._policy.region,
                                 parent_workflow_id=workflow.info().workflow_id,
                                 coordinator_id=self._state.coordinator_id,
                                 concerned_professional_id=payload.concerned_professional_id,
                                 opened_because=finding.evidence,
                                 stagnated_at=finding.due or finding.found_at),
                    id=episode_workflow_id(self._case_id, payload.episode_id),
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON)
                child_run.add_done_callback(self._episode_finished)
            elif isinstance(payload, EscalationResolved | EscalationClosed):
                reason = (payload.reason if isinstance(payload, EscalationClosed)
                          else f"resolved by {payload.by} at level {payload.level}")
                child = workflow.get_external_workflow_handle(
                    episode_workflow_id(self._case_id, payload.episode_id))
                try:
                    await child.signal(EscalationEpisodeWorkflow.end,
                                       EpisodeEnded(reason=reason))
                except FailureError:
                    # The episode's workflow is gone already (it failed, or an operator
                    # ended it); the event above is what counts.
                    workflow.logger.warning("episode workflow not running", extra={
                        "case_id": self._case_id, "episode_id": payload.episode_id})

    def _episode_finished(self, run: asyncio.Future[EpisodeOutcome]) -> None:
        # Nobody awaits an episode's result: its steps reach the case as signals. Take
        # the outcome here so a failed or terminated episode is logged once, plainly.
        if run.cancelled():
            return
        error = run.exception()
        if error is not None:
            workflow.logger.warning("escalation episode did not complete", extra={
                "case_id": self._case_id, "error": str(error)})

    def _notification(self, key: str, recipient_id: str, role: RecipientRole,
                      organisation_id: str | None, message: str) -> Notification:
        return Notification(
            idempotency_key=f"{self._case_id}:{key}", recipient_id=recipient_id, role=role,
            organisation_id=organisation_id, case_id=self._case_id,
            case_link=f"/v1/trajectories/{self._case_id}", message=message)

    @workflow.signal
    async def escalation_step(self, step: LevelStep) -> None:
        await workflow.wait_condition(lambda: self._ready)
        async with self._lock:
            payloads = record_step(self._state, step)
            note = self._notification(
                f"{step.episode_id}:level-{step.level}", step.assignee_id,
                RecipientRole(step.role), step.organisation_id,
                f"Opschaling {step.episode_id} (case {self._case_id}) is with you at level "
                f"{step.level}; respond by {step.deadline:%Y-%m-%d %H:%M} UTC. {step.reason}")
            await self._append(payloads, "system:escalation", (note,) if payloads else ())

    @workflow.signal
    async def escalation_alert(self, alert: RegionAlert) -> None:
        await workflow.wait_condition(lambda: self._ready)
        async with self._lock:
            payloads = record_alert(self._state, alert)
            note = self._notification(
                f"{alert.episode_id}:alert-{alert.reminder}", alert.region_id,
                RecipientRole.REGION, alert.organisation_id,
                f"Region {alert.region_id}: escalation {alert.episode_id} of case "
                f"{self._case_id} passed its last deadline without a decision "
                f"(reminder {alert.reminder}); next reminder "
                f"{alert.next_reminder:%Y-%m-%d}.")
            await self._append(payloads, "system:escalation", (note,) if payloads else ())

    # -- signals ---------------------------------------------------------------------

    @workflow.signal
    async def partner_signal(self, signal: PartnerSignal) -> None:
        await workflow.wait_condition(lambda: self._ready)
        async with self._lock:
            payloads = decide(signal, self._state, self._context())
            await self._append(payloads, f"partner:{signal.organisation}")

    # -- updates: one per command ------------------------------------------------------

    @workflow.update
    async def refer(self, input: ReferInput) -> CommandResult:
        return await self._execute(input.command, input.actor)

    @refer.validator
    def _v_refer(self, input: ReferInput) -> None:
        self._validate(input.command)

    @workflow.update
    async def record_intake(self, command: RecordIntake) -> CommandResult:
        return await self._execute(command, command.actor)

    @record_intake.validator
    def _v_record_intake(self, command: RecordIntake) -> None:
        self._validate(command)

    @workflow.update
    async def give_consent(self, command: GiveConsent) -> CommandResult:
        return await self._execute(command, command.actor)

    @give_consent.validator
    def _v_give_consent(self, command: GiveConsent) -> None:
        self._validate(command)

    @workflow.update
    async def withdraw_consent(self, command: WithdrawConsent) -> CommandResult:
        return await self._execute(command, command.actor)

    @withdraw_consent.validator
    def _v_withdraw_consent(self, command: WithdrawConsent) -> None:
        self._validate(command)

    @workflow.update
    async def share_information(self, command: ShareInformation) -> CommandResult:
        return await self._execute(command, command.actor)

    @share_information.validator
    def _v_share_information(self, command: ShareInformation) -> None:
        self._validate(command)

    @workflow.update
    async def assign_waiting_contact(self, command: AssignWaitingContact) -> CommandResult:
        return await self._execute(command, command.actor)

    @assign_waiting_contact.validator
    def _v_assign_waiting_contact(self, command: AssignWaitingContact) -> None:
        self._validate(command)

    @workflow.update
    async def start_care(self, command: StartCare) -> CommandResult:
        return await self._execute(command, command.actor)

    @start_care.validator
    def _v_start_care(self, command: StartCare) -> None:
        self._validate(command)

    @workflow.update
    async def add_team_member(self, command: AddTeamMember) -> CommandResult:
        return await self._execute(command, command.actor)

    @add_team_member.validator
    def _v_add_team_member(self, command: AddTeamMember) -> None:
        self._validate(command)

    @workflow.update
    async def remove_team_member(self, command: RemoveTeamMember) -> CommandResult:
        return await self._execute(command, command.actor)

    @remove_team_member.validator
    def _v_remove_team_member(self, command: RemoveTeamMember) -> None:
        self._validate(command)

    @workflow.update
    async def record_family_preference(self, command: RecordFamilyPreference
                                       ) -> CommandResult:
        return await self._execute(command, command.actor)

    @record_family_preference.validator
    def _v_record_family_preference(self, command: RecordFamilyPreference) -> None:
        self._validate(command)

    @workflow.update
    async def appoint_coordinator(self, command: AppointCoordinator) -> CommandResult:
        return await self._execute(command, command.actor)

    @appoint_coordinator.validator
    def _v_appoint_coordinator(self, command: AppointCoordinator) -> None:
        self._validate(command)

    @workflow.update
    async def offer_family_group_plan(self, command: OfferFamilyGroupPlan) -> CommandResult:
        return await self._execute(command, command.actor)

    @offer_family_group_plan.validator
    def _v_offer_family_group_plan(self, command: OfferFamilyGroupPlan) -> None:
        self._validate(command)

    @workflow.update
    async def skip_family_group_plan(self, command: SkipFamilyGroupPlan) -> CommandResult:
        return await self._execute(command, command.actor)

    @skip_family_group_plan.validator
    def _v_skip_family_group_plan(self, command: SkipFamilyGroupPlan) -> None:
        self._validate(command)

    @workflow.update
    async def submit_family_group_plan(self, command: SubmitFamilyGroupPlan
                                       ) -> CommandResult:
        return await self._execute(command, command.actor)

    @submit_family_group_plan.validator
    def _v_submit_family_group_plan(self, command: SubmitFamilyGroupPlan) -> None:
        self._validate(command)

    @workflow.update
    async def declare_no_family_group_plan(self, command: DeclareNoFamilyGroupPlan
                                           ) -> CommandResult:
        return await self._execute(command, command.actor)

    @declare_no_family_group_plan.validator
    def _v_declare_no_family_group_plan(self, command: DeclareNoFamilyGroupPlan) -> None:
        self._validate(command)

    @workflow.update
    async def adopt_plan(self, command: AdoptPlan) -> CommandResult:
        return await self._execute(command, command.actor)

    @adopt_plan.validator
    def _v_adopt_plan(self, command: AdoptPlan) -> None:
        self._validate(command)

    @workflow.update
    async def adjust_plan(self, command: AdjustPlan) -> CommandResult:
        return await self._execute(command, command.actor)

    @adjust_plan.validator
    def _v_adjust_plan(self, command: AdjustPlan) -> None:
        self._validate(command)

    @workflow.update
    async def report_progress(self, command: ReportProgress) -> CommandResult:
        return await self._execute(command, command.actor)

    @report_progress.validator
    def _v_report_progress(self, command: ReportProgress) -> None:
        self._validate(command)

    @workflow.update
    async def complete_agreement(self, command: CompleteAgreement) -> CommandResult:
        return await self._execute(command, command.actor)

    @complete_agreement.validator
    def _v_complete_agreement(self, command: CompleteAgreement) -> None:
        self._validate(command)

    @workflow.update
    async def evaluate_plan(self, command: EvaluatePlan) -> CommandResult:
        return await self._execute(command, command.actor)

    @evaluate_plan.validator
    def _v_evaluate_plan(self, command: EvaluatePlan) -> None:
        self._validate(command)

    @workflow.update
    async def request_written_copy(self, command: RequestWrittenCopy) -> CommandResult:
        return await self._execute(command, command.actor)

    @request_written_copy.validator
    def _v_request_written_copy(self, command: RequestWrittenCopy) -> None:
        self._validate(command)

    @workflow.update
    async def provide_written_copy(self, command: ProvideWrittenCopy) -> CommandResult:
        return await self._execute(command, command.actor)

    @provide_written_copy.validator
    def _v_provide_written_copy(self, command: ProvideWrittenCopy) -> None:
        self._validate(command)

    @workflow.update
    async def record_manager_review(self, command: RecordManagerReview) -> CommandResult:
        return await self._execute(command, command.actor)

    @record_manager_review.validator
    def _v_record_manager_review(self, command: RecordManagerReview) -> None:
        self._validate(command)

    @workflow.update
    async def close(self, command: CloseTrajectory) -> CommandResult:
        return await self._execute(command, command.actor)

    @close.validator
    def _v_close(self, command: CloseTrajectory) -> None:
        self._validate(command)

    @workflow.update
    async def record_contact_attempt(self, command: RecordContactAttempt) -> CommandResult:
        return await self._execute(command, command.actor)

    @record_contact_attempt.validator
    def _v_record_contact_attempt(self, command: RecordContactAttempt) -> None:
        self._validate(command)

    @workflow.update
    async def report_stagnation(self, command: ReportStagnation) -> CommandResult:
        return await self._execute(command, command.actor)

    @report_stagnation.validator
    def _v_report_stagnation(self, command: ReportStagnation) -> None:
        self._validate(command)

    @workflow.update
    async def acknowledge_escalation(self, command: AcknowledgeEscalation) -> CommandResult:
        return await self._execute(command, command.actor)

    @acknowledge_escalation.validator
    def _v_acknowledge_escalation(self, command: AcknowledgeEscalation) -> None:
        self._validate(command)

    @workflow.update
    async def resolve_escalation(self, command: ResolveEscalation) -> CommandResult:
        return await self._execute(command, command.actor)

    @resolve_escalation.validator
    def _v_resolve_escalation(self, command: ResolveEscalation) -> None:
        self._validate(command)

    @workflow.update
    async def record_check_in(self, command: RecordCheckIn) -> CommandResult:
        return await self._execute(command, command.actor)

    @record_check_in.validator
    def _v_record_check_in(self, command: RecordCheckIn) -> None:
        self._validate(command)


# The caseworker commands by name, for the gateway's `POST /v1/trajectories/{id}/{name}`:
# each maps to its update and its typed input model.
COMMANDS: dict[str, tuple[Any, type[Command]]] = {
    "record_intake": (FamilyTrajectoryWorkflow.record_intake, RecordIntake),
    "give_consent": (FamilyTrajectoryWorkflow.give_consent, GiveConsent),
    "withdraw_consent": (FamilyTrajectoryWorkflow.withdraw_consent, WithdrawConsent),
    "share_information": (FamilyTrajectoryWorkflow.share_information, ShareInformation),
    "assign_waiting_contact": (FamilyTrajectoryWorkflow.assign_waiting_contact,
                               AssignWaitingContact),
    "start_care": (FamilyTrajectoryWorkflow.start_care, StartCare),
    "add_team_member": (FamilyTrajectoryWorkflow.add_team_member, AddTeamMember),
    "remove_team_member": (FamilyTrajectoryWorkflow.remove_team_member, RemoveTeamMember),
    "record_family_preference": (FamilyTrajectoryWorkflow.record_family_preference,
                                 RecordFamilyPreference),
    "appoint_coordinator": (FamilyTrajectoryWorkflow.appoint_coordinator, AppointCoordinator),
    "offer_family_group_plan": (FamilyTrajectoryWorkflow.offer_family_group_plan,
                                OfferFamilyGroupPlan),
    "skip_family_group_plan": (FamilyTrajectoryWorkflow.skip_family_group_plan,
                               SkipFamilyGroupPlan),
    "submit_family_group_plan": (FamilyTrajectoryWorkflow.submit_family_group_plan,
                                 SubmitFamilyGroupPlan),
    "declare_no_family_group_plan": (FamilyTrajectoryWorkflow.declare_no_family_group_plan,
                                     DeclareNoFamilyGroupPlan),
    "adopt_plan": (FamilyTrajectoryWorkflow.adopt_plan, AdoptPlan),
    "adjust_plan": (FamilyTrajectoryWorkflow.adjust_plan, AdjustPlan),
    "report_progress": (FamilyTrajectoryWorkflow.report_progress, ReportProgress),
    "complete_agreement": (FamilyTrajectoryWorkflow.complete_agreement, CompleteAgreement),
    "evaluate_plan": (FamilyTrajectoryWorkflow.evaluate_plan, EvaluatePlan),
    "request_written_copy": (FamilyTrajectoryWorkflow.request_written_copy,
                             RequestWrittenCopy),
    "provide_written_copy": (FamilyTrajectoryWorkflow.provide_written_copy,
                             ProvideWrittenCopy),
    "record_manager_review": (FamilyTrajectoryWorkflow.record_manager_review,
                              RecordManagerReview),
    "close": (FamilyTrajectoryWorkflow.close, CloseTrajectory),
    "record_check_in": (FamilyTrajectoryWorkflow.record_check_in, RecordCheckIn),
    "record_contact_attempt": (FamilyTrajectoryWorkflow.record_contact_attempt,
                               RecordContactAttempt),
    "report_stagnation": (FamilyTrajectoryWorkflow.report_stagnation, ReportStagnation),
    "acknowledge_escalation": (FamilyTrajectoryWorkflow.acknowledge_escalation,
                               AcknowledgeEscalation),
    "resolve_escalation": (FamilyTrajectoryWorkflow.resolve_escalation, ResolveEscalation),
}
