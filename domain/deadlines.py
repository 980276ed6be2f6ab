"""The clocks of a trajectory, as pure functions of its state.

`deadlines(state, policy)` lists every deadline the state implies, each with the event it
produces when it passes unmet. The workflow sleeps until the earliest one (a durable
timer), then appends `due_events(state, now, policy)`. Each event changes the state so
that its deadline is no longer pending, so nothing fires twice, also after a restart or a
continue-as-new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from domain.escalation import episode_bookkeeping, unreachable_since
from domain.events import (
    AftercareEnded,
    CheckInDue,
    CheckInMissed,
    EventPayload,
    FamilyGroupPlanLapsed,
    IntakeOutcome,
    StagnationFound,
    StagnationRule,
)
from domain.local_time import DEFAULT_TIME_ZONE, end_of_local_day, local_date
from domain.policy import RegionPolicy
from domain.trajectory import CheckInStatus, FamilyGroupPlanStatus, Phase, TrajectoryState


@dataclass(frozen=True)
class Deadline:
    at: datetime
    event: EventPayload


def end_of_day(day: date, time_zone: str = DEFAULT_TIME_ZONE) -> datetime:
    """A date-only deadline (evaluation date, agreement due date) passes when that day is
    over for the people it is about: at local midnight in the region's zone (the policy's
    `time_zone`), returned in UTC. The same on every worker, whatever its own zone."""
    return end_of_local_day(day, time_zone)


def _finding(state: TrajectoryState, rule: StagnationRule, key: str, at: datetime,
             evidence: str) -> list[Deadline]:
    if state.has_finding(rule.value, key):
        return []
    return [Deadline(at, StagnationFound(rule=rule, key=key, evidence=evidence, due=at))]


def deadlines(state: TrajectoryState, policy: RegionPolicy) -> list[Deadline]:
    found: list[Deadline] = []
    # Texts show the region's days; finding keys keep the UTC dates they always had: a key
    # identifies a finding in streams already written, so a new key would repeat it.
    tz = policy.time_zone
    if state.phase in (Phase.REFERRED, Phase.ACCEPTED) and state.referred_at is not None:
        if state.intake_at is None:
            at = policy.intake_deadline(state.referred_at)
            found += _finding(state, StagnationRule.WAITING_NORM_INTAKE, "intake", at,
                              f"no intake within {policy.waiting_norm_intake_weeks} weeks of "
                              f"the referral on {local_date(state.referred_at, tz)}")
        elif state.intake_outcome is IntakeOutcome.ACCEPTED and state.care_started_at is None:
            at = policy.care_start_deadline(state.intake_at)
            found += _finding(state, StagnationRule.WAITING_NORM_CARE_START, "care_start", at,
                              f"care not started within {policy.waiting_norm_care_start_weeks} "
                              f"weeks of the intake on {local_date(state.intake_at, tz)}")
    if state.is_open and state.phase is not Phase.REFERRED:
        if state.fgp_status is FamilyGroupPlanStatus.OFFERED and state.fgp_deadline is not None:
            found.append(Deadline(state.fgp_deadline, FamilyGroupPlanLapsed(
                by_family=False, professional_plan_deadline=policy.professional_plan_deadline(
                    state.fgp_deadline))))
        if state.plan is None and state.professional_plan_deadline is not None:
            at = state.professional_plan_deadline
            found += _finding(state, StagnationRule.PLAN_NOT_ADOPTED, f"plan:{at:%Y-%m-%d}", at,
                              "no family group plan came and no professional plan was "
                              f"adopted by {local_date(at, tz)} (Jeugdwet 4.1.3)")
        plan = state.plan
        if plan is not None and plan.evaluation_date is not None and (
                plan.evaluation_date not in state.evaluated_dates):
            day = plan.evaluation_date
            found += _finding(state, StagnationRule.EVALUATION_OVERDUE,
                              f"evaluation:v{state.plan_version}:{day}", end_of_day(day, tz),
                              f"plan version {state.plan_version} was due for evaluation on "
                              f"{day} and has not been evaluated")
        for agreement in plan.agreements if plan is not None else ():
            if agreement.due is None or agreement.agreement_id in state.completed_agreements:
                continue
            found += _finding(state, StagnationRule.AGREEMENT_OVERDUE,
                              f"agreement:{agreement.agreement_id}:{agreement.due}",
                              end_of_day(agreement.due, tz),
                              f"agreement {agreement.agreement_id} ({agreement.action}) by "
                              f"{agreement.owner} was due on {agreement.due}")
        if state.written_copy_due is not None:
            at = state.written_copy_due
            found += _finding(state, StagnationRule.WRITTEN_COPY_OVERDUE,
                              f"copy:{at:%Y-%m-%d}", at,
                              f"a written copy of the plan was due by {local_date(at, tz)}")
    if state.phase is Phase.AFTERCARE and state.aftercare_ends_at is not None:
        for check_in in state.check_ins:
            if check_in.status is CheckInStatus.SCHEDULED:
                found.append(Deadline(check_in.due, CheckInDue(check_in=check_in.index)))
            elif check_in.status is CheckInStatus.DUE:
                missed_at = min(policy.check_in_missed_at(check_in.due), state.aftercare_ends_at)
                found.append(Deadline(missed_at, CheckInMissed(check_in=check_in.index)))
        if all(c.status in (CheckInStatus.DONE, CheckInStatus.MISSED) for c in state.check_ins):
            found.append(Deadline(state.aftercare_ends_at, AftercareEnded()))
    return found


def _event_rules(state: TrajectoryState, policy: RegionPolicy) -> list[Deadline]:
    """Stagnation rules that hold as soon as an event makes them true."""
    found: list[Deadline] = []
    if not state.is_open:
        return found
    streak = state.no_progress_streak
    if streak >= policy.no_progress_evaluations and state.last_evaluated_at is not None:
        first = state.evaluations - streak + 1
        found += _finding(state, StagnationRule.NO_PROGRESS, f"evaluations-from:{first}",
                          state.last_evaluated_at,
                          f"{streak} consecutive evaluations without progress on any goal "
                          f"(policy: {policy.no_progress_evaluations})")
    since = unreachable_since(state, policy.unreachable_attempts,
                              policy.unreachable_period_days)
    if since is not None:
        found += _finding(state, StagnationRule.FAMILY_UNREACHABLE,
                          f"unreachable-since:{since:%Y-%m-%dT%H:%M:%S}", state.failed_contacts[-1],
                          f"{len(state.failed_contacts)} failed contact attempts since "
                          f"{local_date(since, policy.time_zone)}; the family cannot be "
                          "reached (zorgmijding)")
    return found


def due_events(state: TrajectoryState, now: datetime, policy: RegionPolicy
               ) -> list[EventPayload]:
    """What is due by `now`: passed deadlines and rules that hold (earliest first), then
    the escalation bookkeeping for findings already recorded. The caller applies these
    and asks again until nothing is due."""
    due = sorted((d for d in [*deadlines(state, policy), *_event_rules(state, policy)]
                  if d.at <= now), key=lambda d: d.at)
    if due:
        return [d.event for d in due]
    return episode_bookkeeping(state)


def next_deadline(state: TrajectoryState, policy: RegionPolicy) -> datetime | None:
    pending = [d.at for d in deadlines(state, policy)]
    return min(pending) if pending else None
