"""The case as the people on it read it: a view built for that reader from the case's
events, not the workflow's internal state.

The workflow's state carries bookkeeping a reader has no use for (partners' signal keys,
failed-contact moments, evaluation dates already held, counters) and may change shape as
the workflow does; this view is the stable contract of `GET /v1/trajectories/{case_id}`.
Names, birth dates and free text come from the store, read when the reader asks: an
erased person's fields read as erased.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from domain.closure import ClosureReason, ManagerReviewDecision
from domain.consent import Consent
from domain.events import IntakeOutcome
from domain.family import FamilyMember, Referral
from domain.plan import FamilyPlan, PlanSource
from domain.team import TeamMember
from domain.trajectory import (
    CheckIn,
    Episode,
    FamilyGroupPlanStatus,
    Finding,
    Phase,
    TrajectoryState,
)


class CaseView(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str
    phase: Phase | None
    version: int
    members: tuple[FamilyMember, ...]
    referrals: tuple[Referral, ...]
    referred_at: datetime | None
    intake_at: datetime | None
    intake_outcome: IntakeOutcome | None
    end_reason: str | None
    consents: tuple[Consent, ...]
    shared_with: tuple[str, ...]
    waiting_contact: str | None
    care_started_at: datetime | None
    team: tuple[TeamMember, ...]
    family_preference: str | None
    coordinator_id: str | None
    family_group_plan: FamilyGroupPlanStatus
    family_group_plan_deadline: datetime | None
    professional_plan_deadline: datetime | None
    plan: FamilyPlan | None
    plan_version: int
    plan_source: PlanSource | None
    completed_agreements: tuple[str, ...]
    evaluations: int
    last_evaluated_at: datetime | None
    next_evaluation_date: date | None
    final_evaluation_done: bool
    written_copy_due: datetime | None
    findings: tuple[Finding, ...]
    manager_review: ManagerReviewDecision | None
    closed_at: datetime | None
    closure_reason: ClosureReason | None
    aftercare_ends_at: datetime | None
    check_ins: tuple[CheckIn, ...]
    reopen_count: int
    episodes: tuple[Episode, ...]


def case_view(state: TrajectoryState) -> CaseView:
    assert state.case_id is not None, "a view is of a case that exists"
    return CaseView(
        case_id=state.case_id, phase=state.phase, version=state.version,
        members=state.members, referrals=state.referrals, referred_at=state.referred_at,
        intake_at=state.intake_at, intake_outcome=state.intake_outcome,
        end_reason=state.end_reason, consents=state.consents,
        shared_with=state.shared_with, waiting_contact=state.waiting_contact,
        care_started_at=state.care_started_at, team=state.team,
        family_preference=state.family_preference, coordinator_id=state.coordinator_id,
        family_group_plan=state.fgp_status, family_group_plan_deadline=state.fgp_deadline,
        professional_plan_deadline=state.professional_plan_deadline, plan=state.plan,
        plan_version=state.plan_version, plan_source=state.plan_source,
        completed_agreements=state.completed_agreements, evaluations=state.evaluations,
        last_evaluated_at=state.last_evaluated_at,
        next_evaluation_date=state.plan.evaluation_date if state.plan else None,
        final_evaluation_done=state.final_evaluation_done,
        written_copy_due=state.written_copy_due, findings=state.findings,
        manager_review=state.manager_review, closed_at=state.closed_at,
        closure_reason=state.closure_reason, aftercare_ends_at=state.aftercare_ends_at,
        check_ins=state.check_ins, reopen_count=state.reopen_count,
        episodes=state.episodes)
