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
from domain.local_time import DEFAULT_TIME_ZONE, end_of_local_day
from domain.policy import RegionPolicy
from domain.stagnation import firings
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
                                                  evidence=firing.evidence, due=at)))
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


def next_deadline(state: TrajectoryState, policy: RegionPolicy) -> datetime | None:
    pending = [d.at for d in deadlines(state, policy)]
    return min(pending) if pending else None
