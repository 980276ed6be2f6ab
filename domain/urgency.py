"""How urgent a case is for the people on it: its next deadline, its open escalation and
the working days left until the first of them.

Pure, like the deciders: the caller passes the state, the policy, the working-day
calendar and the moment it asks for. Lists of cases (the workspace's "my cases" and
escalation board) sort by `urgency_key`: an overdue escalation first, then the fewest
working days left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.calendar import WorkingDayCalendar
from domain.deadlines import next_deadline
from domain.local_time import local_date
from domain.policy import RegionPolicy
from domain.trajectory import Episode, Phase, TrajectoryState


@dataclass(frozen=True)
class Countdown:
    deadline: datetime
    working_days_left: int  # negative: that many working days past it

    @property
    def overdue(self) -> bool:
        return self.working_days_left < 0


def countdown(deadline: datetime, now: datetime, calendar: WorkingDayCalendar,
              time_zone: str) -> Countdown:
    """Working days from today to the deadline's day, in the region's calendar days."""
    today, due = local_date(now, time_zone), local_date(deadline, time_zone)
    left = calendar.working_days_between(today, due)
    if deadline <= now and left >= 0:
        left = -1 if left == 0 else -left  # passed today, or a deadline on a non-working day
    return Countdown(deadline=deadline, working_days_left=left)


@dataclass(frozen=True)
class Urgency:
    phase: Phase | None
    next_deadline: Countdown | None
    escalation: Episode | None  # the open episode highest on the ladder
    escalation_countdown: Countdown | None

    @property
    def first(self) -> Countdown | None:
        counts = [c for c in (self.escalation_countdown, self.next_deadline) if c is not None]
        return min(counts, key=lambda c: c.deadline) if counts else None


def urgency(state: TrajectoryState, policy: RegionPolicy, calendar: WorkingDayCalendar,
            now: datetime) -> Urgency:
    upcoming = next_deadline(state, policy) if state.is_open else None
    episodes = sorted(state.open_episodes, key=lambda e: (-e.level, e.deadline or now))
    episode = episodes[0] if episodes else None
    return Urgency(
        phase=state.phase,
        next_deadline=None if upcoming is None else countdown(
            upcoming, now, calendar, policy.time_zone),
        escalation=episode,
        escalation_countdown=None if episode is None or episode.deadline is None
        else countdown(episode.deadline, now, calendar, policy.time_zone))


def urgency_key(item: Urgency) -> tuple[int, int, float]:
    """Most urgent first: an overdue escalation, then any escalation, then by working days
    left (no deadline last)."""
    first = item.first
    overdue_escalation = (item.escalation_countdown is not None
                          and item.escalation_countdown.overdue)
    return (0 if overdue_escalation else 1 if item.escalation is not None else 2,
            first.working_days_left if first is not None else 10**6,
            first.deadline.timestamp() if first is not None else 0.0)
