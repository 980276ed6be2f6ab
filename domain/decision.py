"""What every decider shares: the context of a decision, the decider's type, and the
guards that refuse a command with a caseworker's message. The deciders themselves are
listed in `domain.command_table`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypeVar

from domain.errors import DomainError
from domain.events import EventPayload
from domain.local_time import local_date
from domain.policy import RegionPolicy
from domain.trajectory import Phase, TrajectoryState


@dataclass(frozen=True)
class DecisionContext:
    now: datetime
    policy: RegionPolicy
    # Active trajectories of the proposed coordinator, from the read model. None while
    # validating (the validator cannot look it up); the handler decides with the number.
    coordinator_caseload: int | None = None

    @property
    def today(self) -> date:
        """The region's calendar day at `now`, not the UTC day: what date-only rules (an
        evaluation date in the future, an age on a day) compare with."""
        return local_date(self.now, self.policy.time_zone)


C_contra = TypeVar("C_contra", contravariant=True)


class Decider(Protocol[C_contra]):
    """`(command, state, context) -> events`, or a `DomainError` that refuses it."""

    def __call__(self, command: C_contra, state: TrajectoryState, ctx: DecisionContext,
                 /) -> list[EventPayload]: ...


def require_phase(state: TrajectoryState, *phases: Phase, doing: str) -> None:
    if state.phase not in phases:
        wanted = " or ".join(p.value for p in phases)
        raise DomainError(
            f"cannot {doing} now: the trajectory is {state.phase}, this needs it to be "
            f"{wanted}", code="wrong_phase")


def require_open(state: TrajectoryState, doing: str) -> None:
    require_phase(state, Phase.REFERRED, Phase.ACCEPTED, Phase.IN_CARE, doing=doing)


def require_member(state: TrajectoryState, person_id: str, what: str) -> None:
    if state.member(person_id) is None:
        known = ", ".join(m.person_id for m in state.members)
        raise DomainError(f"{what} {person_id} is not a member of this family "
                          f"(members: {known})", code="unknown_member")
