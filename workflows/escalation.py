"""EscalationEpisodeWorkflow: the ladder of one escalation episode, as a child workflow.

The trajectory (the parent) is the only writer of its stream, so this workflow does not
append: each step it takes goes to the parent as a signal, and the parent records it as
an event (with the notification for the new assignee, in the same transaction). The
parent signals back when the episode ends: resolved, or its cause cleared.

Per level: look the assignee up in the organisation directory (so a directory change
applies to the next step), set the response deadline in Dutch working days (with the
terms the trajectory gave the episode, `domain.ladder.LadderTerms`: the trajectory
records a step only when it computes the same deadline), wait. A
deadline passing without resolution moves the episode up one level, with the reason.
Past the regional process director's deadline, the region is alerted, then reminded at
the policy's cadence until the episode ends.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.case_context import HolidaysRequest, PolicyRequest
    from activities.directory import Assignee, ResolveAssigneeInput
    from domain.calendar import WorkingDayCalendar
    from domain.escalation import TOP_LEVEL, LevelStep, RegionAlert
    from domain.ladder import LadderTerms
    from domain.local_time import DEFAULT_TIME_ZONE, day_text, local_date, local_text
    from domain.notifications import RecipientRole
    from domain.policy import RegionPolicy

from workflows.failures import application_failure, failure_type
from workflows.messages import (
    EpisodeEnded,
    EpisodeInbox,
    EpisodeInput,
    EpisodeOutcome,
    TrajectoryInbox,
    episode_workflow_id,
)

__all__ = ["EscalationEpisodeWorkflow", "episode_workflow_id"]

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=5))
# Episodes started before this patch looked the assignee up with a (regular) activity.
LOCAL_LOOKUP_PATCH = "local-directory-lookup"
# Episodes started before this patch read the policy themselves; since, they count with
# the terms their trajectory gives them (and checks their steps with).
TRAJECTORY_TERMS_PATCH = "ladder-terms-from-trajectory"
# Episodes started before this patch wait on timers without a summary; since, the Web UI
# says what each waits for ("level 1 (coordinator) response due 5 Dec 2026").
TIMER_SUMMARIES_PATCH = "episode-timer-summaries"
# How far ahead the working-day calendar reaches; refreshed when a deadline needs more.
CALENDAR_YEARS = 3


def _cause_message(error: FailureError) -> str:
    failure = application_failure(error)
    return failure.message if failure is not None else str(error)


@workflow.defn
class EscalationEpisodeWorkflow(EpisodeInbox):
    def __init__(self) -> None:
        self._ended: str | None = None
        self._calendar: WorkingDayCalendar | None = None
        self._time_zone = DEFAULT_TIME_ZONE  # the region's, once the policy is read
        self._summaries = False

    @workflow.signal
    def end(self, ended: EpisodeEnded) -> None:
        self._ended = self._ended or ended.reason

    @workflow.query
    def ended_because(self) -> str | None:
        return self._ended

    @workflow.run
    async def run(self, input: EpisodeInput) -> EpisodeOutcome:
        local_lookup = workflow.patched(LOCAL_LOOKUP_PATCH)
        self._summaries = workflow.patched(TIMER_SUMMARIES_PATCH)
        terms = await self._terms(input)
        self._time_zone = terms.time_zone
        parent = workflow.get_external_workflow_handle(input.parent_workflow_id)
        level, reason = 1, f"opened: {input.opened_because}"
        start = input.stagnated_at
        while True:
            try:
                # A short read-only lookup: a local activity (no round trip through the
                # server's task queue) for episodes started since the patch.
                lookup = (workflow.execute_local_activity if local_lookup
                          else workflow.execute_activity)
                assignee: Assignee = await lookup(
                    "resolve_escalation_assignee",
                    ResolveAssigneeInput(
                        case_id=input.case_id, region_id=input.region_id, level=level,
                        coordinator_id=input.coordinator_id,
                        concerned_professional_id=input.concerned_professional_id),
                    result_type=Assignee, start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY)
            except FailureError as error:
                if failure_type(error) != "DirectoryIncomplete":
                    raise
                # Nobody to reach at this level: say so in the case, and look again after
                # the reminder cadence (the operator may import the directory meanwhile).
                retry_at = await self._add_working_days(start, terms.reminder_working_days)
                await parent.signal(TrajectoryInbox.escalation_step, LevelStep(
                    episode_id=input.episode_id, level=level, assignee_id=input.region_id,
                    role=RecipientRole.REGION, deadline=retry_at,
                    reason=f"{reason}; {_cause_message(error)}"))
                if await self._ended_before(retry_at, f"level {level}: directory looked up again"):
                    break
                start = retry_at
                continue
            if self._ended:
                break
            level = assignee.level
            days = terms.working_days(assignee.role)
            deadline = await self._add_working_days(start, days)
            note = f"; {assignee.note}" if assignee.note else ""
            await parent.signal(TrajectoryInbox.escalation_step, LevelStep(
                episode_id=input.episode_id, level=level, assignee_id=assignee.assignee_id,
                role=assignee.role, organisation_id=assignee.organisation_id,
                deadline=deadline, reason=reason + note))
            if await self._ended_before(
                    deadline, f"level {level} ({assignee.role.value}) response due"):
                break
            start = deadline
            if level >= TOP_LEVEL:
                break
            reason = (f"level {level} ({assignee.role.value} {assignee.assignee_id}) did not "
                      f"resolve it within {days} working days (deadline "
                      f"{local_text(deadline, terms.time_zone)})")
            level += 1
        reminders = 0
        while not self._ended:
            reminders += 1
            next_reminder = await self._add_working_days(start, terms.reminder_working_days)
            await parent.signal(TrajectoryInbox.escalation_alert, RegionAlert(
                episode_id=input.episode_id, reminder=reminders, region_id=input.region_id,
                recipient_id=assignee.assignee_id, organisation_id=assignee.organisation_id,
                next_reminder=next_reminder))
            await self._ended_before(next_reminder, f"region reminder {reminders + 1} due")
            start = next_reminder
        return EpisodeOutcome(episode_id=input.episode_id, last_level=level,
                              reminders=reminders, ended_because=self._ended or "")

    async def _terms(self, input: EpisodeInput) -> LadderTerms:
        if input.terms is not None and workflow.patched(TRAJECTORY_TERMS_PATCH):
            return input.terms
        policy = await workflow.execute_activity(
            "current_policy", PolicyRequest(case_id=input.case_id), result_type=RegionPolicy,
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY)
        return LadderTerms.of(policy)

    async def _ended_before(self, deadline: datetime, waits_for: str) -> bool:
        """Wait until the episode ends or `deadline` passes; True if it ended. The timer's
        summary is `waits_for` and the deadline's day in the region (roles and levels
        only: the Web UI shows it to whoever can see the workflow)."""
        remaining = deadline - workflow.now()
        summary = (f"{waits_for} {day_text(local_date(deadline, self._time_zone))}"
                   if self._summaries else None)
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._ended is not None,
                                              timeout=remaining, timeout_summary=summary)
        return self._ended is not None

    async def _add_working_days(self, start: datetime, days: int) -> datetime:
        first = start.year
        calendar = self._calendar
        if calendar is None or calendar.years is None or (
                start.year + 1 not in calendar.years):
            holidays: list[date] = await workflow.execute_activity(
                "dutch_holidays",
                HolidaysRequest(first_year=first, last_year=first + CALENDAR_YEARS - 1),
                result_type=list[date], start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY)
            calendar = WorkingDayCalendar(holidays,
                                          years=range(first, first + CALENDAR_YEARS),
                                          time_zone=self._time_zone)
            self._calendar = calendar
        return calendar.add_working_days(start, days)
