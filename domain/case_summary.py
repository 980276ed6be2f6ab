"""A trajectory in a few facts, for the places that show many cases at once without
reading the store: Temporal's Web UI (the workflow's search attributes and memo).

Those places are outside the sealed event store, so this holds no personal data: no
names, birth dates or free text, only the phase, counts, the coordinator's directory id
and the next deadline with what it is for. The rule of what may show there is here, once.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from domain.deadlines import next_pending
from domain.policy import RegionPolicy
from domain.trajectory import Phase, TrajectoryState


class CaseSummary(BaseModel):
    """The workflow's memo: what an operator sees beside the case in the workflow list."""

    model_config = ConfigDict(frozen=True)
    phase: Phase | None
    region: str
    coordinator_id: str | None
    family_members: int
    team_members: int
    plan_version: int
    evaluations: int
    findings: int
    open_escalations: int
    # The highest level any open escalation episode has reached (0: none open, or none
    # past its start yet).
    escalation_level: int
    reopened: int
    # The run loop's next timer: when, and in words ("evaluation due 21 Dec 2026").
    next_deadline: datetime | None
    next_deadline_summary: str | None
    next_deadline_day: date | None


def case_summary(state: TrajectoryState, policy: RegionPolicy) -> CaseSummary:
    pending = next_pending(state, policy)
    open_episodes = state.open_episodes
    return CaseSummary(
        phase=state.phase,
        region=policy.region,
        coordinator_id=state.coordinator_id,
        family_members=len(state.members),
        team_members=len(state.team),
        plan_version=state.plan_version,
        evaluations=state.evaluations,
        findings=len(state.findings),
        open_escalations=len(open_episodes),
        escalation_level=max((e.level for e in open_episodes), default=0),
        reopened=state.reopen_count,
        next_deadline=None if pending is None else pending.at,
        next_deadline_summary=None if pending is None else pending.summary(policy.time_zone),
        next_deadline_day=None if pending is None else pending.local_day(policy.time_zone),
    )
