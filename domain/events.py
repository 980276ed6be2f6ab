"""Domain events: past-tense facts, frozen, a discriminated union on `type`.

Each event payload has a `SCHEMA_VERSION`. When a payload's shape changes, raise its
version and register an upcaster (`domain.upcasting`) from the old version, so events
written years ago still read as the current model.

The envelope (`NewEvent` / `RecordedEvent`) carries what every event has: its id, when
it happened, who caused it and, once stored, its stream, version and global position.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter, model_validator

from domain.closure import Big5Check, ClosureReason, ManagerReviewDecision
from domain.consent import Consent
from domain.family import (
    FamilyMember,
    LifeDomain,
    MemberRole,
    Referral,
    ReferralReason,
)
from domain.model import Frozen, Id, Name, Text
from domain.notifications import RecipientRole
from domain.personal import HasPersonalData, PersonalStr
from domain.plan import Agreement, FamilyPlan, GoalEvaluation, PlanSource, SkipGround
from domain.stagnation import StagnationAbout, StagnationRule
from domain.team import ManagerOverride, TeamMember
from domain.upcasting import UPCASTERS

__all__ = [
    "FamilyMember", "Frozen", "LifeDomain", "MemberRole", "Referral", "ReferralReason",
    "StagnationRule",
]


class EventPayload(Frozen):
    SCHEMA_VERSION: ClassVar[int] = 1


# -- referral and intake -------------------------------------------------------------


class AboutTheFamily(HasPersonalData):
    """An event with free text about the family (a reason, a note, a decision, a
    contact's name): sealed with the family's key (`subject`:
    domain.family.family_subject), which is destroyed when the family's last member is
    erased. Events recorded before such text was sealed have no subject; their text
    stays as it was written."""

    personal_subject_field: ClassVar[str] = "subject"
    subject: str | None = None


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


class IntakeOutcome(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REDIRECTED = "redirected"


class DomainAssessment(Frozen, HasPersonalData):
    """Strengths and problems of the whole family in one life domain."""

    personal_subject_field: ClassVar[str] = "subject"
    subject: str  # domain.family.family_subject(case_id)
    life_domain: LifeDomain
    strengths: PersonalStr
    problems: PersonalStr


class IntakeRecorded(EventPayload, AboutTheFamily):
    type: Literal["IntakeRecorded"] = "IntakeRecorded"
    outcome: IntakeOutcome
    assessments: tuple[DomainAssessment, ...] = ()
    reason: PersonalStr | None = None
    redirected_to: Name | None = None


# -- consent ---------------------------------------------------------------------------


class ConsentGiven(EventPayload):
    type: Literal["ConsentGiven"] = "ConsentGiven"
    consent: Consent


class ConsentWithdrawn(EventPayload):
    type: Literal["ConsentWithdrawn"] = "ConsentWithdrawn"
    consent_id: Id
    withdrawn_by: Id


class InformationShared(EventPayload):
    """Information went to a party; outside the team only with covering consent."""

    type: Literal["InformationShared"] = "InformationShared"
    recipient: Name
    subject_ids: tuple[Id, ...]
    inside_team: bool
    consent_ids: tuple[Id, ...] = ()


# -- waiting ---------------------------------------------------------------------------


class WaitingContactAssigned(EventPayload, AboutTheFamily):
    """A named contact supports the family while it waits."""

    type: Literal["WaitingContactAssigned"] = "WaitingContactAssigned"
    contact_id: Id
    contact_name: PersonalStr


class CareStarted(EventPayload):
    type: Literal["CareStarted"] = "CareStarted"


# -- team and coordinator ------------------------------------------------------------


class TeamMemberAdded(EventPayload):
    type: Literal["TeamMemberAdded"] = "TeamMemberAdded"
    member: TeamMember


class TeamMemberRemoved(EventPayload, AboutTheFamily):
    type: Literal["TeamMemberRemoved"] = "TeamMemberRemoved"
    member_id: Id
    reason: PersonalStr


class FamilyPreferenceRecorded(EventPayload, AboutTheFamily):
    """Whom the family would like as its care coordinator."""

    type: Literal["FamilyPreferenceRecorded"] = "FamilyPreferenceRecorded"
    preferred_member_id: Id | None
    note: PersonalStr | None = None


class CoordinatorAppointed(EventPayload, AboutTheFamily):
    """The one active care coordinator; `replaces` makes a handover explicit, with no
    moment without a coordinator."""

    type: Literal["CoordinatorAppointed"] = "CoordinatorAppointed"
    member_id: Id
    replaces: Id | None = None
    handover_note: PersonalStr | None = None
    family_preference_followed: bool | None = None
    caseload_before: int
    caseload_cap: int
    override: ManagerOverride | None = None


# -- family group plan and the plan ------------------------------------------------------


class FamilyGroupPlanOffered(EventPayload):
    type: Literal["FamilyGroupPlanOffered"] = "FamilyGroupPlanOffered"
    deadline: datetime


class FamilyGroupPlanSkipped(EventPayload, AboutTheFamily):
    type: Literal["FamilyGroupPlanSkipped"] = "FamilyGroupPlanSkipped"
    ground: SkipGround
    reason: PersonalStr
    professional_plan_deadline: datetime


class FamilyGroupPlanLapsed(EventPayload):
    """No family group plan will come (the family said so, or the term passed); a
    professional plan is now due (Jeugdwet 4.1.3)."""

    type: Literal["FamilyGroupPlanLapsed"] = "FamilyGroupPlanLapsed"
    by_family: bool
    professional_plan_deadline: datetime


class PlanAdopted(EventPayload):
    """A plan version was adopted. `young_person_took_part` says whether the young
    person took part in making it (None: not recorded; always so for v1 events and for
    versions an escalation decision made)."""

    SCHEMA_VERSION: ClassVar[int] = 2
    type: Literal["PlanAdopted"] = "PlanAdopted"
    plan_version: int
    source: PlanSource
    plan: FamilyPlan
    young_person_took_part: bool | None = None


class GoalNote(Frozen, HasPersonalData):
    personal_subject_field: ClassVar[str] = "person_id"
    person_id: Id
    text: PersonalStr


class ProgressReported(EventPayload):
    type: Literal["ProgressReported"] = "ProgressReported"
    goal_id: Id
    reported_by: Id
    note: GoalNote  # about the goal's family member


class AgreementCompleted(EventPayload):
    type: Literal["AgreementCompleted"] = "AgreementCompleted"
    agreement_id: Id


class PlanEvaluated(EventPayload):
    type: Literal["PlanEvaluated"] = "PlanEvaluated"
    plan_version: int
    results: tuple[GoalEvaluation, ...]
    final: bool
    next_evaluation_date: date | None = None


class WrittenCopyRequested(EventPayload):
    type: Literal["WrittenCopyRequested"] = "WrittenCopyRequested"
    requested_by: Id
    due: datetime


class WrittenCopyProvided(EventPayload):
    type: Literal["WrittenCopyProvided"] = "WrittenCopyProvided"
    plan_version: int


# -- stagnation (acted on by the escalation ladder) ------------------------------------


class StagnationFound(EventPayload, HasPersonalData):
    """A stagnation finding: about what (`about`, typed per rule, domain.stagnation), and
    the evidence. A reported stagnation's own words are `details`, sealed with the
    family's key (`subject`). v1 held the rule and a `key` string instead of `about`."""

    SCHEMA_VERSION: ClassVar[int] = 2
    personal_subject_field: ClassVar[str] = "subject"
    type: Literal["StagnationFound"] = "StagnationFound"
    about: StagnationAbout
    evidence: str
    due: datetime
    subject: str = ""
    details: PersonalStr | None = None

    @property
    def rule(self) -> StagnationRule:
        return self.about.rule

    @property
    def key(self) -> str:
        return self.about.key

    @model_validator(mode="before")
    @classmethod
    def _read_v1(cls, data: object) -> object:
        # The event store upcasts stored v1 rows, but Temporal replays histories whose
        # activity results hold v1 payloads, decoded with this model: same upcaster.
        if isinstance(data, dict) and "about" not in data and "key" in data:
            return UPCASTERS.upcast("StagnationFound", 1, cls.SCHEMA_VERSION, data)
        return data

    @model_validator(mode="after")
    def _details_have_a_subject(self) -> StagnationFound:
        if self.details is not None and not self.subject:
            raise ValueError("details about a family need the family's subject id")
        return self


# -- partner signals, closure, aftercare -------------------------------------------------


class SignalKind(StrEnum):
    RELAPSE = "relapse"
    CONCERN = "concern"
    STAGNATION = "stagnation"  # things are stuck: a stagnation finding
    CONTACT_FAILED = "contact_failed"  # the partner could not reach the family


class PartnerSignalRecorded(EventPayload, HasPersonalData):
    """A partner's signal. Its description is free text about the family, so it is
    sealed with the family's key (`subject`, domain.family.family_subject)."""

    personal_subject_field: ClassVar[str] = "subject"
    type: Literal["PartnerSignalRecorded"] = "PartnerSignalRecorded"
    idempotency_key: str
    organisation: Name
    kind: SignalKind
    subject: str
    description: PersonalStr
    acted_on: bool
    note: str


class ManagerReviewRecorded(EventPayload, AboutTheFamily):
    """A manager reviewed a family that stopped cooperating (vasthoudend)."""

    type: Literal["ManagerReviewRecorded"] = "ManagerReviewRecorded"
    manager_id: Id
    decision: ManagerReviewDecision
    note: PersonalStr


class TrajectoryClosed(EventPayload):
    type: Literal["TrajectoryClosed"] = "TrajectoryClosed"
    reason: ClosureReason
    big5: tuple[Big5Check, ...] = ()
    new_municipality: Name | None = None
    aftercare_ends_at: datetime
    check_ins_due: tuple[datetime, ...]


class CheckInDue(EventPayload):
    type: Literal["CheckInDue"] = "CheckInDue"
    check_in: int


class CheckInRecorded(EventPayload, AboutTheFamily):
    type: Literal["CheckInRecorded"] = "CheckInRecorded"
    check_in: int
    by: Id
    note: PersonalStr


class CheckInMissed(EventPayload):
    type: Literal["CheckInMissed"] = "CheckInMissed"
    check_in: int


class TrajectoryReopened(EventPayload, HasPersonalData):
    """A relapse inside the aftercare window reopened the same trajectory with its last
    plan: a revolving-door reopening (draaideur). The description is sealed."""

    personal_subject_field: ClassVar[str] = "subject"
    type: Literal["TrajectoryReopened"] = "TrajectoryReopened"
    idempotency_key: str
    organisation: Name
    subject: str
    description: PersonalStr
    plan_version: int | None
    evaluation_date: date


class AftercareEnded(EventPayload):
    type: Literal["AftercareEnded"] = "AftercareEnded"


# -- contact and escalation (opschaling) ---------------------------------------------


class ContactAttempted(EventPayload):
    """A team member or partner tried to reach the family."""

    type: Literal["ContactAttempted"] = "ContactAttempted"
    by: Name  # a team member's id, or a partner organisation's name
    channel: Name
    reached: bool


class EscalationOpened(EventPayload):
    """A stagnation finding opened an escalation episode (a child workflow)."""

    type: Literal["EscalationOpened"] = "EscalationOpened"
    episode_id: Id
    rule: StagnationRule
    finding_key: str
    concerned_professional_id: Id | None = None


class EscalationFindingAttached(EventPayload):
    """A finding with the same cause joined the open episode instead of opening one."""

    type: Literal["EscalationFindingAttached"] = "EscalationFindingAttached"
    episode_id: Id
    finding_key: str


class EscalationLevelAssigned(EventPayload):
    """The episode is at `level` (1 coordinator, 2 manager, 3 regional process
    director), with whom and until when, and why it is there."""

    type: Literal["EscalationLevelAssigned"] = "EscalationLevelAssigned"
    episode_id: Id
    level: int
    assignee_id: Id
    role: RecipientRole
    deadline: datetime
    reason: Text


class EscalationAcknowledged(EventPayload):
    type: Literal["EscalationAcknowledged"] = "EscalationAcknowledged"
    episode_id: Id
    level: int
    by: Id


class EscalationResolved(EventPayload, AboutTheFamily):
    """The assignee resolved the episode. At level 3 this is a binding decision
    (doorzettingsmacht) that binds every team member; it appears in the plan."""

    type: Literal["EscalationResolved"] = "EscalationResolved"
    episode_id: Id
    level: int
    by: Id
    decision: PersonalStr
    follow_ups: tuple[Agreement, ...] = ()
    binding: bool = False
    authority: PersonalStr | None = None


class EscalationClosed(EventPayload):
    """The episode closed without a decision: its cause cleared (or the case ended)."""

    type: Literal["EscalationClosed"] = "EscalationClosed"
    episode_id: Id
    reason: Text


class RegionAlerted(EventPayload):
    """Past the last deadline without resolution: the region is alerted, then reminded."""

    type: Literal["RegionAlerted"] = "RegionAlerted"
    episode_id: Id
    reminder: int
    region_id: Id
    next_reminder: datetime


Event = Annotated[
    TrajectoryReferred | ReferralAdded | IntakeRecorded | ConsentGiven | ConsentWithdrawn
    | InformationShared | WaitingContactAssigned | CareStarted | TeamMemberAdded
    | TeamMemberRemoved | FamilyPreferenceRecorded | CoordinatorAppointed
    | FamilyGroupPlanOffered | FamilyGroupPlanSkipped | FamilyGroupPlanLapsed | PlanAdopted
    | ProgressReported | AgreementCompleted | PlanEvaluated | WrittenCopyRequested
    | WrittenCopyProvided | StagnationFound | PartnerSignalRecorded | ManagerReviewRecorded
    | TrajectoryClosed | CheckInDue | CheckInRecorded | CheckInMissed | TrajectoryReopened
    | AftercareEnded | ContactAttempted | EscalationOpened | EscalationFindingAttached
    | EscalationLevelAssigned | EscalationAcknowledged | EscalationResolved
    | EscalationClosed | RegionAlerted,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def _event_types() -> dict[str, type[EventPayload]]:
    found: dict[str, type[EventPayload]] = {}
    for cls in EventPayload.__subclasses__():
        found[cls.model_fields["type"].default] = cls
    return found


EVENT_TYPES: dict[str, type[EventPayload]] = _event_types()


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
