"""Every message between a trajectory and its escalation episodes, in one module.

- The trajectory starts an episode with `EpisodeInput` and tells it that it ended with
  `EpisodeInbox.end` (`EpisodeEnded`).
- The episode tells the trajectory each step of its ladder with
  `TrajectoryInbox.escalation_step` (`LevelStep`) and each region alert with
  `TrajectoryInbox.escalation_alert` (`RegionAlert`); it returns `EpisodeOutcome`.

The two inboxes declare the signals as typed method references: the workflows inherit
them (Temporal checks that each override keeps the signal), and the sender signals
through them, so a renamed signal or a changed payload type is a type error, not a
message lost at run time.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # The ladder's steps are domain values: `domain.escalation.record_step` and
    # `record_alert` decide what the trajectory records for them.
    from domain.escalation import LevelStep, RegionAlert
    from domain.ladder import LadderTerms

__all__ = ["EpisodeEnded", "EpisodeInbox", "EpisodeInput", "EpisodeOutcome", "LevelStep",
           "RegionAlert", "TrajectoryInbox"]


class EpisodeInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str
    episode_id: str
    region_id: str
    parent_workflow_id: str
    coordinator_id: str | None = None
    concerned_professional_id: str | None = None
    opened_because: str
    # When the stagnation was due: the first deadline counts from here, each next one from
    # the deadline before it, so deadlines do not drift with timer or worker delays.
    stagnated_at: datetime
    # The terms the ladder counts with, the trajectory's, which checks each step with the
    # same ones. None: an episode started before they were passed reads the policy.
    terms: LadderTerms | None = None


class EpisodeEnded(BaseModel):
    model_config = ConfigDict(frozen=True)
    reason: str


class EpisodeOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)
    episode_id: str
    last_level: int
    reminders: int
    ended_because: str


class TrajectoryInbox:
    """The signals a trajectory receives from its escalation episodes."""

    @workflow.signal
    async def escalation_step(self, step: LevelStep) -> None:
        raise NotImplementedError

    @workflow.signal
    async def escalation_alert(self, alert: RegionAlert) -> None:
        raise NotImplementedError


class EpisodeInbox:
    """The signal an escalation episode receives from its trajectory."""

    @workflow.signal
    def end(self, ended: EpisodeEnded) -> None:
        raise NotImplementedError


def episode_workflow_id(case_id: str, episode_id: str) -> str:
    return f"escalation-{case_id}-{episode_id}"
