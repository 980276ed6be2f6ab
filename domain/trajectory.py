"""The trajectory (traject) of one family: its state, `decide` and `evolve`.

`decide(command, state, ...)` returns the events a command leads to, or raises
`DomainError`. `evolve(state, event)` applies one event. The state is exactly the fold of
the stream, so a trajectory can be rebuilt from the event store alone. Time and ids are
arguments: these functions run inside Temporal workflows and must be deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.commands import ReferFamily
from domain.errors import DomainError
from domain.events import (
    EventMetadata,
    EventPayload,
    FamilyMember,
    MemberRole,
    NewEvent,
    Referral,
    ReferralAdded,
    TrajectoryReferred,
)
from domain.personal import Erased


class TrajectoryStatus(StrEnum):
    REFERRED = "referred"


class TrajectoryState(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str | None = None
    status: TrajectoryStatus | None = None
    version: int = 0
    members: tuple[FamilyMember, ...] = ()
    referrals: tuple[Referral, ...] = ()


def stream_id_for(case_id: str) -> str:
    return f"trajectory-{case_id}"


def _validate_referral(referral: Referral) -> None:
    for m in referral.members:
        if isinstance(m.name, Erased) or isinstance(m.birth_date, Erased):
            raise DomainError(f"family member {m.person_id} needs a name and a birth date")
    for r in referral.reasons:
        if isinstance(r.description, Erased):
            raise DomainError(f"the reason about {r.about} needs a description")
    ids = [m.person_id for m in referral.members]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DomainError(
            f"family member id(s) {', '.join(duplicates)} appear more than once; "
            "give each family member one entry"
        )
    roles = {m.role for m in referral.members}
    if MemberRole.PARENT not in roles or MemberRole.CHILD not in roles:
        raise DomainError(
            "1 Gezin 1 Plan is for families: a referral needs at least one parent and one "
            "child among its members"
        )
    unknown = sorted({r.about for r in referral.reasons} - set(ids))
    if unknown:
        raise DomainError(
            f"reason(s) refer to {', '.join(unknown)}, who is not among the family members; "
            "add them as a member or correct the 'about' field"
        )
    if not referral.reasons:
        raise DomainError("a referral needs at least one reason (life domain and description)")


def decide_referral(
    command: ReferFamily, state: TrajectoryState
) -> list[EventPayload]:
    _validate_referral(command.referral)
    if state.status is None:
        return [TrajectoryReferred(case_id=command.case_id, referral=command.referral)]
    if state.case_id != command.case_id:
        raise DomainError(
            f"this trajectory is case {state.case_id}, the referral is for {command.case_id}"
        )
    if any(r.referral_id == command.referral.referral_id for r in state.referrals):
        return []  # the same referral again: already recorded, nothing to do twice
    return [ReferralAdded(case_id=command.case_id, referral=command.referral)]


def evolve(state: TrajectoryState, event: EventPayload) -> TrajectoryState:
    version = state.version + 1
    if isinstance(event, TrajectoryReferred):
        return state.model_copy(update={
            "case_id": event.case_id,
            "status": TrajectoryStatus.REFERRED,
            "version": version,
            "members": event.referral.members,
            "referrals": (event.referral,),
        })
    if isinstance(event, ReferralAdded):
        known = {m.person_id for m in state.members}
        new_members = tuple(m for m in event.referral.members if m.person_id not in known)
        return state.model_copy(update={
            "version": version,
            "members": state.members + new_members,
            "referrals": (*state.referrals, event.referral),
        })
    raise TypeError(f"evolve does not know {type(event).__name__}")


def fold(events: Iterable[EventPayload], state: TrajectoryState | None = None) -> TrajectoryState:
    state = state or TrajectoryState()
    for event in events:
        state = evolve(state, event)
    return state


def new_event(
    payload: EventPayload, *, event_id: UUID, now: datetime, metadata: EventMetadata
) -> NewEvent:
    return NewEvent.model_validate({
        "event_id": event_id, "occurred_at": now, "metadata": metadata, "payload": payload,
    })
