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

from domain.escalation import episode_bookkeeping
from domain.events import (
    AftercareEnded,
    CheckInDue,
    CheckInMissed,
    EventPayload,
    FamilyGroupPlanLapsed,
    StagnationFound,
)
from domain.local_time import DEFAULT_TIME_ZONE, day_text, end_of_local_day, local_date
from domain.policy import RegionPolicy
from domain.stagnation import StagnationRule, firings
from domain.trajectory import CheckInStatus, FamilyGroupPlanStatus, Phase, TrajectoryState


@dataclass(frozen=True)
class Deadline:
    at: datetime
    event: EventPayload
    # A date-only deadline (an evaluation date) passes when its day is over, but people
    # know it by that day, not by the next midnight: keep it to say so.
    day: date | None = None

    def waits_for(self) -> str:
        """What the trajectory waits for here, in a few words for an operator (Temporal's
        Web UI): the kind of deadline only, never anything about the family."""
        event = self.event
        if isinstance(event, StagnationFound):
            return _RULE_WAITS_FOR[event.about.rule]
        if isinstance(event, FamilyGroupPlanLapsed):
            return "family group plan term ends"
        if isinstance(event, CheckInDue):
            return f"check-in {event.check_in} due"
        if isinstance(event, CheckInMissed):
            return f"check-in {event.check_in} missed unless recorded"
        if isinstance(event, AftercareEnded):
            return "aftercare ends"
        return type(event).__name__

    def local_day(self, time_zone: str) -> date:
        """The calendar day in the region that people know this deadline by."""
        return self.day if self.day is not None else local_date(self.at, time_zone)

    def summary(self, time_zone: str) -> str:
        """e.g. "evaluation due 21 Dec 2026"."""
        return f"{self.waits_for()} {day_text(self.local_day(time_zone))}"


# Clock rules by what passes at their deadline; event rules (no progress, unreachable,
# reported) hold at once and have no timer, but get words all the same.
_RULE_WAITS_FOR: dict[StagnationRule, str] = {
    StagnationRule.WAITING_NORM_INTAKE: "intake waiting norm ends",
    StagnationRule.WAITING_NORM_CARE_START: "care start waiting norm ends",
    StagnationRule.PLAN_NOT_ADOPTED: "plan due",
    StagnationRule.EVALUATION_OVERDUE: "evaluation due",
    StagnationRule.AGREEMENT_OVERDUE: "agreement due",
    StagnationRule.WRITTEN_COPY_OVERDUE: "written copy due",
    StagnationRule.NO_PROGRESS: "no progress",
    StagnationRule.FAMILY_UNREACHABLE: "family unreachable",
    StagnationRule.REPORTED: "stagnation reported",
}


def end_of_day(day: date, time_zone: str = DEFAULT_TIME_ZONE) -> datetime:
    """A date-only deadline (evaluation date, agreement due date) passes when that day is
    over for the people it is about: at local midnight in the region's zone (the policy's
    `time_zone`), returned in UTC. The same on every worker, whatever its own zone."""
    return end_of_local_day(day, time_zone)


def _findings(state: TrajectoryState, policy: RegionPolicy, *, clock: bool
              ) -> list[Deadline]:
    """The stagnation rules (domain.stagnation) that hold and are not recorded yet."""
    found: list[Deadline] = []
    for firing in firings(state, policy):
        if firing.clock is not clock or state.has_finding(firing.about):
            continue
        due = firing.due
        at = due if isinstance(due, datetime) else end_of_day(due, policy.time_zone)
        found.append(Deadline(at, StagnationFound(about=firing.about,
                                                  evidence=firing.evidence, due=at),
                              day=None if isinstance(due, datetime) else due))
    return found


def deadlines(state: TrajectoryState, policy: RegionPolicy) -> list[Deadline]:
    found = _findings(state, policy, clock=True)
    if (state.is_open and state.phase is not Phase.REFERRED
            and state.fgp_status is FamilyGroupPlanStatus.OFFERED
            and state.fgp_deadline is not None):
        found.append(Deadline(state.fgp_deadline, FamilyGroupPlanLapsed(
            by_family=False, professional_plan_deadline=policy.professional_plan_deadline(
                state.fgp_deadline))))
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
    return _findings(state, policy, clock=False)


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


def next_pending(state: TrajectoryState, policy: RegionPolicy) -> Deadline | None:
    """The earliest deadline the state implies (the run loop's next timer)."""
    return min(deadlines(state, policy), key=lambda d: d.at, default=None)


def next_deadline(state: TrajectoryState, policy: RegionPolicy) -> datetime | None:
    pending = next_pending(state, policy)
    return None if pending is None else pending.at
