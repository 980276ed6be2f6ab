"""The escalation ladder's arithmetic, shared by the episode that climbs it and the
trajectory that records it: which step may come next, and when its deadline falls.

An episode's workflow (`workflows/escalation.py`) keeps the ladder's clock and signals
each step to its trajectory. A signal is only a message, and anyone who can reach the
Temporal frontend can send one, so the trajectory records a step only when it is a step
the ladder could have taken (`step_mismatch`, `alert_mismatch`):

- the episode is an open episode of this trajectory;
- the level is the next one: level 1 first, then one up, or higher when the directory
  knows nobody at a level (a coordinator who is not in it goes to the manager, one
  without a known manager to the regional process director). A step to the region
  (nobody known at all) stays at the level it was looking for, which is looked up again;
- a step up comes only once the current deadline has passed: the ladder waits for it;
- the deadline is the one the trajectory computes itself with the same rule, in Dutch
  working days from when the stagnation began, then from each previous deadline;
- a region alert is the next reminder, to the policy's region, due one reminder term
  after the last deadline or reminder.

What the trajectory cannot know is left to the episode: who the directory names at a
level, and so whether skipping a level was right. The door in front (mutual TLS, see
`infra/deploy/README.md`) keeps strangers from sending messages at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.calendar import WorkingDayCalendar
from domain.escalation import TOP_LEVEL, LevelStep, RegionAlert, is_stale
from domain.model import Frozen
from domain.notifications import RecipientRole
from domain.policy import EscalationDeadlines, RegionPolicy
from domain.trajectory import Episode, EpisodeStatus, TrajectoryState

LEVEL_ROLES = {1: RecipientRole.COORDINATOR, 2: RecipientRole.MANAGER,
               3: RecipientRole.PROCESS_DIRECTOR}
# The episode sends a step when its timer fires at a deadline; the trajectory's clock may
# read a moment earlier (another host of the Temporal cluster), never minutes.
CLOCK_TOLERANCE = timedelta(minutes=1)


class LadderTerms(Frozen):
    """The numbers an episode's ladder counts with. The trajectory fixes them when it
    starts the episode, gives them to the episode's workflow, and checks the episode's
    messages with the same ones, so a policy change halfway does not split the two."""

    deadlines: EscalationDeadlines
    reminder_working_days: int
    region_id: str  # the policy's `region`
    time_zone: str

    @classmethod
    def of(cls, policy: RegionPolicy) -> LadderTerms:
        return cls(deadlines=policy.escalation_deadlines_working_days,
                   reminder_working_days=policy.escalation_reminder_working_days,
                   region_id=policy.region, time_zone=policy.time_zone)

    def working_days(self, role: RecipientRole) -> int:
        """The response term of a step to `role`. A step to the region means nobody is
        known at the level; it is looked up again after the reminder term."""
        match role:
            case RecipientRole.COORDINATOR:
                return self.deadlines.coordinator
            case RecipientRole.MANAGER:
                return self.deadlines.manager
            case RecipientRole.PROCESS_DIRECTOR:
                return self.deadlines.process_director
            case RecipientRole.REGION:
                return self.reminder_working_days


def stagnation_start(state: TrajectoryState, episode: Episode) -> datetime:
    """When the stagnation that opened `episode` began: its first deadline counts from
    here (the finding's passed deadline, or when it was found)."""
    opening = episode.finding_refs[0]
    finding = next(f for f in reversed(state.findings) if f.ref == opening)
    return finding.due or finding.found_at


def _open(state: TrajectoryState, episode_id: str) -> tuple[Episode | None, str | None]:
    episode = state.episode(episode_id)
    if episode is None:
        return None, "this trajectory has no such episode"
    if episode.status is not EpisodeStatus.OPEN:
        return None, f"the episode is {episode.status.value}"
    return episode, None


def step_mismatch(state: TrajectoryState, step: LevelStep, *, now: datetime,
                  terms: LadderTerms, calendar: WorkingDayCalendar) -> str | None:
    """What in `step` does not match the episode's ladder, or None when it matches (or
    is stale, which `record_step` ignores). The text names levels, roles and instants,
    never who was named or why: it goes to the log."""
    episode, closed = _open(state, step.episode_id)
    if episode is None:
        return closed
    if is_stale(episode, step):
        return None
    first = episode.level == 0
    # After a step to the region the same level is looked up again.
    lowest = (1 if first else episode.level if episode.role is RecipientRole.REGION
              else episode.level + 1)
    if lowest > TOP_LEVEL:
        return (f"level {step.level} after the top level: only region alerts follow "
                f"the level-{TOP_LEVEL} deadline")
    problems: list[str] = []
    if not lowest <= step.level <= TOP_LEVEL:
        problems.append(f"level {step.level} where {_levels(lowest)} comes next")
    elif step.role is RecipientRole.REGION:
        if step.level != lowest:
            problems.append(f"a step to the region at level {step.level}, where the "
                            f"ladder looks for level {lowest}")
    elif step.role is not LEVEL_ROLES[step.level]:
        problems.append(f"role {step.role.value} at level {step.level}")
    if not first and episode.deadline is not None:
        problems += _early(now, episode.deadline, f"the level-{episode.level} deadline")
        base = episode.deadline
    else:
        base = stagnation_start(state, episode)
    expected = calendar.add_working_days(base, terms.working_days(step.role))
    if step.deadline != expected:
        problems.append(f"deadline {step.deadline.isoformat()}, computed "
                        f"{expected.isoformat()}")
    return "; ".join(problems) or None


def alert_mismatch(state: TrajectoryState, alert: RegionAlert, *, now: datetime,
                   terms: LadderTerms, calendar: WorkingDayCalendar) -> str | None:
    """What in `alert` does not match the episode's ladder, or None when it matches (or
    is a reminder recorded already, which `record_alert` ignores)."""
    episode, closed = _open(state, alert.episode_id)
    if episode is None:
        return closed
    if episode.reminders >= alert.reminder:
        return None
    if (episode.level != TOP_LEVEL or episode.role is not RecipientRole.PROCESS_DIRECTOR
            or episode.deadline is None):
        return (f"a region alert while the episode is at level {episode.level}, before "
                f"the level-{TOP_LEVEL} deadline")
    problems: list[str] = []
    if alert.reminder != episode.reminders + 1:
        problems.append(f"reminder {alert.reminder} where {episode.reminders + 1} comes next")
    if alert.region_id != terms.region_id:
        # Not the region it names: that came from the message, not from the trajectory.
        problems.append(f"not the policy's region {terms.region_id}")
    base = (episode.next_reminder if episode.reminders and episode.next_reminder
            else episode.deadline)
    problems += _early(now, base, "the last deadline" if base == episode.deadline
                       else f"reminder {episode.reminders}'s next reminder")
    expected = calendar.add_working_days(base, terms.reminder_working_days)
    if alert.next_reminder != expected:
        problems.append(f"next reminder {alert.next_reminder.isoformat()}, computed "
                        f"{expected.isoformat()}")
    return "; ".join(problems) or None


def _levels(lowest: int) -> str:
    return f"level {lowest}" if lowest == TOP_LEVEL else f"level {lowest} to {TOP_LEVEL}"


def _early(now: datetime, deadline: datetime, what: str) -> list[str]:
    if now + CLOCK_TOLERANCE < deadline:
        return [f"sent at {now.isoformat()}, before {what} {deadline.isoformat()} passed"]
    return []
