"""Domain events: past-tense facts, frozen, a discriminated union on `type`.

Each event payload has a `SCHEMA_VERSION`. When a payload's shape changes, raise its
version and register an upcaster (`domain.upcasting`) from the old version, so events
written years ago still read as the current model.

The envelope (`NewEvent` / `RecordedEvent`) carries what every event has: its id, when
it happened, who caused it and, once stored, its stream, version and global position.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from domain.personal import HasPersonalData, PersonalDate, PersonalStr


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LifeDomain(StrEnum):
    """Life domains (leefgebieden) used across the family plan."""

    HEALTH = "health"
    UPBRINGING = "upbringing"
    EDUCATION_WORK = "education_work"
    FINANCES = "finances"
    HOUSING = "housing"
    SOCIAL_NETWORK = "social_network"
    SAFETY = "safety"
    DAILY_LIFE = "daily_life"
    ADDICTION = "addiction"
    JUSTICE = "justice"


class MemberRole(StrEnum):
    PARENT = "parent"
    CHILD = "child"
    OTHER = "other"


class FamilyMember(Frozen, HasPersonalData):
    person_id: str = Field(min_length=1, max_length=100)
    role: MemberRole
    name: PersonalStr
    birth_date: PersonalDate
    has_parental_authority: bool = False


class ReferralReason(Frozen, HasPersonalData):
    """Why the partner refers the family, about one member, in one life domain."""

    personal_subject_field: ClassVar[str] = "about"
    about: str = Field(min_length=1, max_length=100)
    life_domain: LifeDomain
    description: PersonalStr


class Referral(Frozen):
    referral_id: str = Field(min_length=1, max_length=200)
    organisation: str = Field(min_length=1, max_length=200)
    referrer: str = Field(min_length=1, max_length=200)
    members: tuple[FamilyMember, ...]
    reasons: tuple[ReferralReason, ...]


class EventPayload(Frozen):
    SCHEMA_VERSION: ClassVar[int] = 1


class TrajectoryReferred(EventPayload):
    """A partner referred a family; this opened its trajectory (traject)."""

    type: Literal["TrajectoryReferred"] = "TrajectoryReferred"
    case_id: str
    referral: Referral


class ReferralAdded(EventPayload):
    """Another referral for a family whose trajectory was already open."""

    type: Literal["ReferralAdded"] = "ReferralAdded"
    case_id: str
    referral: Referral


Event = Annotated[TrajectoryReferred | ReferralAdded, Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.model_fields["type"].default: cls for cls in (TrajectoryReferred, ReferralAdded)
}


class EventMetadata(Frozen):
    actor: str = Field(min_length=1, description="Who caused it: user, partner or system.")
    causation_id: str | None = None
    correlation_id: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None


class NewEvent(Frozen):
    """An event about to be appended; the store adds stream, version and position."""

    event_id: UUID
    occurred_at: AwareDatetime
    metadata: EventMetadata
    payload: Event

    @property
    def type(self) -> str:
        return self.payload.type

    @property
    def schema_version(self) -> int:
        return self.payload.SCHEMA_VERSION


class RecordedEvent(NewEvent):
    stream_id: str
    version: int
    position: int
    recorded_at: datetime
