"""Commands: what a caseworker or partner asks for, in the imperative.

Each command is the input of one workflow Update (signals: `PartnerSignal`). `actor`
says who asks (e.g. `coordinator:pro-7`); it is recorded in the events' metadata.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from domain.closure import Big5Check, ClosureReason, ManagerReviewDecision
from domain.consent import ConsentPurpose
from domain.events import IntakeOutcome
from domain.events import SignalKind as SignalKind  # where partners name a signal's kind
from domain.family import LifeDomain, Referral
from domain.model import Frozen, Id, Name, OptionalText, Text
from domain.plan import Agreement, FamilyPlan, GoalProgress, SkipGround
from domain.team import ManagerOverride, TeamMember


class Command(Frozen):
    """Every command: what someone asks a trajectory to do. Each command type has one row
    in `domain.command_table` (its decider, its update, its HTTP route and who may give
    it)."""

    def acting_person(self) -> str | None:
        """The professional the command says is acting (a `by`), if it names one. It must
        be the authenticated caller (`domain.access.check_command`)."""
        return None


class CaseworkerCommand(Command):
    actor: Name | None = Field(
        default=None,
        description="Who gives the command. Set by Regie from the caller's credentials; "
        "a request that names someone else is refused.")


class ReferFamily(Command):
    """A partner refers a family. The first referral opens the trajectory; a later one
    for the same family joins it (recorded as an extra referral, never a second case)."""

    case_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    referral: Referral


class AssessmentInput(Frozen):
    life_domain: LifeDomain
    strengths: Text
    problems: Text


class RecordIntake(CaseworkerCommand):
    outcome: IntakeOutcome
    assessments: tuple[AssessmentInput, ...] = ()
    reason: Text | None = None
    redirected_to: Name | None = None


class GiveConsent(CaseworkerCommand):
    consent_id: Id
    subject_id: Id
    purpose: ConsentPurpose
    recipient: Name | None = None
    given_by: tuple[Id, ...]


class WithdrawConsent(CaseworkerCommand):
    consent_id: Id
    withdrawn_by: Id


class ShareInformation(CaseworkerCommand):
    recipient: Name
    subject_ids: tuple[Id, ...]


class AssignWaitingContact(CaseworkerCommand):
    contact_id: Id
    contact_name: Name


class StartCare(CaseworkerCommand):
    pass


class AddTeamMember(CaseworkerCommand):
    member: TeamMember


class RemoveTeamMember(CaseworkerCommand):
    member_id: Id
    reason: Text


class RecordFamilyPreference(CaseworkerCommand):
    preferred_member_id: Id | None = None
    note: Text | None = None


class AppointCoordinator(CaseworkerCommand):
    member_id: Id
    handover_note: Text | None = None
    override: ManagerOverride | None = None

    def acting_person(self) -> str | None:
        return None if self.override is None else self.override.manager_id


class OfferFamilyGroupPlan(CaseworkerCommand):
    pass


class SkipFamilyGroupPlan(CaseworkerCommand):
    ground: SkipGround
    reason: OptionalText = ""


class PlanParticipation(Frozen):
    """Part of each command that records a plan version (the family's own, a professional
    one, or an adjustment): whether the young person took part in making it."""

    young_person_took_part: bool | None = Field(
        default=None,
        description="Whether the young person took part in making this plan (the region "
        "reports the share of plans they took part in). Leave it out when not known.")


class SubmitFamilyGroupPlan(CaseworkerCommand, PlanParticipation):
    """The family's own plan, made with its network."""

    plan: FamilyPlan


class DeclareNoFamilyGroupPlan(CaseworkerCommand):
    """The family says it will not make its own plan."""


class AdoptPlan(CaseworkerCommand, PlanParticipation):
    """A professional plan, when no family group plan came."""

    plan: FamilyPlan


class AdjustPlan(CaseworkerCommand, PlanParticipation):
    """A new plan version after an evaluation."""

    plan: FamilyPlan


class ReportProgress(CaseworkerCommand):
    goal_id: Id
    reported_by: Id
    note: Text


class CompleteAgreement(CaseworkerCommand):
    agreement_id: Id


class GoalResult(Frozen):
    goal_id: Id
    progress: GoalProgress
    note: Text | None = None


class EvaluatePlan(CaseworkerCommand):
    results: tuple[GoalResult, ...]
    final: bool = False
    next_evaluation_date: date | None = None


class RequestWrittenCopy(CaseworkerCommand):
    requested_by: Id


class ProvideWrittenCopy(CaseworkerCommand):
    pass


class RecordManagerReview(CaseworkerCommand):
    manager_id: Id
    decision: ManagerReviewDecision
    note: Text

    def acting_person(self) -> str | None:
        return self.manager_id


class CloseTrajectory(CaseworkerCommand):
    reason: ClosureReason
    big5: tuple[Big5Check, ...] = ()
    new_municipality: Name | None = None


class RecordCheckIn(CaseworkerCommand):
    check_in: int = Field(ge=0)
    by: Id
    note: Text

    def acting_person(self) -> str | None:
        return self.by


class RecordContactAttempt(CaseworkerCommand):
    """A team member tried to reach the family; repeated failures mean care avoidance."""

    by: Id
    channel: Name
    reached: bool

    def acting_person(self) -> str | None:
        return self.by


class ReportStagnation(CaseworkerCommand):
    """A team member reports that carrying out the plan is stuck."""

    reported_by: Id
    description: Text

    def acting_person(self) -> str | None:
        return self.reported_by


class AcknowledgeEscalation(CaseworkerCommand):
    episode_id: Id
    by: Id

    def acting_person(self) -> str | None:
        return self.by


class ResolveEscalation(CaseworkerCommand):
    """The current assignee resolves the episode with a decision and follow-up actions,
    which become plan agreements. At level 3 the decision is binding."""

    episode_id: Id
    by: Id
    decision: Text
    follow_ups: tuple[Agreement, ...] = ()
    # Required when the plan's evaluation date has passed: the decision sets the next one.
    next_evaluation_date: date | None = None

    def acting_person(self) -> str | None:
        return self.by


class PartnerSignal(Command):
    """A partner's signal. The idempotency key makes a resent signal a no-op."""

    idempotency_key: str = Field(min_length=1, max_length=200)
    organisation: Name
    kind: SignalKind
    description: Text
