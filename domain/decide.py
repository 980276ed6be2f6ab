"""The deciders of a trajectory: one function per command, `(command, state, context) ->
events`. `domain.command_table` maps each command type to its decider (and the
escalation deciders in `domain.escalation`); `domain.command_table.decide` dispatches.

Every refusal raises `DomainError` with a message that says what is wrong and how to fix
it, for the caseworker who gave the command. Pure: time, policy and the coordinator's
caseload come in through `DecisionContext`; nothing here reads a clock or makes an id.
"""

from __future__ import annotations

from datetime import date, datetime

from domain.closure import Big5Status, ClosureReason, ManagerReviewDecision
from domain.commands import (
    AddTeamMember,
    AdjustPlan,
    AdoptPlan,
    AppointCoordinator,
    AssignWaitingContact,
    CloseTrajectory,
    CompleteAgreement,
    DeclareNoFamilyGroupPlan,
    EvaluatePlan,
    GiveConsent,
    OfferFamilyGroupPlan,
    PartnerSignal,
    ProvideWrittenCopy,
    RecordCheckIn,
    RecordFamilyPreference,
    RecordIntake,
    RecordManagerReview,
    ReferFamily,
    RemoveTeamMember,
    ReportProgress,
    RequestWrittenCopy,
    ShareInformation,
    SignalKind,
    SkipFamilyGroupPlan,
    StartCare,
    SubmitFamilyGroupPlan,
    WithdrawConsent,
)
from domain.consent import Consent, ConsentPurpose
from domain.decision import (
    DecisionContext,
    require_member,
    require_open,
    require_phase,
)
from domain.errors import DomainError
from domain.events import (
    AgreementCompleted,
    CareStarted,
    CheckInRecorded,
    ConsentGiven,
    ConsentWithdrawn,
    ContactAttempted,
    CoordinatorAppointed,
    DomainAssessment,
    EventPayload,
    FamilyGroupPlanLapsed,
    FamilyGroupPlanOffered,
    FamilyGroupPlanSkipped,
    FamilyPreferenceRecorded,
    GoalNote,
    InformationShared,
    IntakeOutcome,
    IntakeRecorded,
    ManagerReviewRecorded,
    PartnerSignalRecorded,
    PlanAdopted,
    PlanEvaluated,
    ProgressReported,
    ReferralAdded,
    StagnationFound,
    TeamMemberAdded,
    TeamMemberRemoved,
    TrajectoryClosed,
    TrajectoryReferred,
    TrajectoryReopened,
    WaitingContactAssigned,
    WrittenCopyProvided,
    WrittenCopyRequested,
)
from domain.family import MemberRole, Referral, family_subject
from domain.local_time import DEFAULT_TIME_ZONE, local_date
from domain.personal import Erased
from domain.plan import FamilyPlan, GoalEvaluation, PlanSource
from domain.policy import RegionPolicy
from domain.stagnation import Reported
from domain.trajectory import CheckInStatus, FamilyGroupPlanStatus, Phase, TrajectoryState


def _family(state: TrajectoryState) -> str:
    """Whose key seals free text about the family as a whole (`AboutTheFamily`)."""
    assert state.case_id is not None, "a command about a family needs its trajectory"
    return family_subject(state.case_id)


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
            "give each family member one entry")
    roles = {m.role for m in referral.members}
    if MemberRole.PARENT not in roles or MemberRole.CHILD not in roles:
        raise DomainError(
            "1 Gezin 1 Plan is for families: a referral needs at least one parent and one "
            "child among its members")
    unknown = sorted({r.about for r in referral.reasons} - set(ids))
    if unknown:
        raise DomainError(
            f"reason(s) refer to {', '.join(unknown)}, who is not among the family members; "
            "add them as a member or correct the 'about' field")
    if not referral.reasons:
        raise DomainError("a referral needs at least one reason (life domain and description)")


def _validate_plan(plan: FamilyPlan, state: TrajectoryState, today: date) -> None:
    if not plan.goals:
        raise DomainError("a plan needs at least one family goal")
    for goal in plan.goals:
        require_member(state, goal.person_id, f"goal {goal.goal_id} is for")
    goal_ids = [g.goal_id for g in plan.goals]
    if len(set(goal_ids)) != len(goal_ids):
        raise DomainError("each goal needs its own goal_id")
    for agreement in plan.agreements:
        if agreement.owner is None:
            raise DomainError(f"agreement {agreement.agreement_id} needs an owner: who "
                              "does it?")
        if agreement.due is None:
            raise DomainError(f"agreement {agreement.agreement_id} needs a due date: by "
                              "when?")
        if state.team_member(agreement.owner) is None and state.member(agreement.owner) is None:
            raise DomainError(f"agreement {agreement.agreement_id}: owner {agreement.owner} is "
                              "neither a team member nor a family member; add them first")
    if plan.evaluation_date is None:
        raise DomainError("an active plan needs an evaluation date: when will you evaluate "
                          "it with the family?")
    if plan.evaluation_date <= today:
        raise DomainError(f"the evaluation date {plan.evaluation_date} must be in the future")


# -- referral and intake --------------------------------------------------------------


def refer_family(command: ReferFamily, state: TrajectoryState,
           ctx: DecisionContext) -> list[EventPayload]:
    _validate_referral(command.referral)
    if state.phase is None:
        return [TrajectoryReferred(case_id=command.case_id, referral=command.referral)]
    if state.case_id != command.case_id:
        raise DomainError(
            f"this trajectory is case {state.case_id}, the referral is for {command.case_id}")
    if any(r.referral_id == command.referral.referral_id for r in state.referrals):
        return []  # the same referral again: already recorded, nothing to do twice
    if state.phase is Phase.ENDED:
        raise DomainError(f"the trajectory of case {state.case_id} has ended; refer the "
                          "family under a new case id", code="ended")
    return [ReferralAdded(case_id=command.case_id, referral=command.referral)]


def decide_referral(command: ReferFamily, state: TrajectoryState) -> list[EventPayload]:
    """The referral rules alone, for callers that have no policy at hand (the gateway)."""
    return refer_family(command, state, DecisionContext(now=datetime.min, policy=RegionPolicy()))


def record_intake(command: RecordIntake, state: TrajectoryState,
            ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.REFERRED, doing="record the intake")
    if command.outcome is IntakeOutcome.DECLINED and not command.reason:
        raise DomainError("a declined intake needs a reason the family can be told")
    if command.outcome is IntakeOutcome.REDIRECTED and not command.redirected_to:
        raise DomainError("a redirected intake needs redirected_to: where does the family go?")
    if command.outcome is IntakeOutcome.ACCEPTED and not command.assessments:
        raise DomainError("an accepted intake needs the assessment: strengths and problems "
                          "per life domain for the whole family")
    domains = [a.life_domain for a in command.assessments]
    if len(set(domains)) != len(domains):
        raise DomainError("assess each life domain once")
    assert state.case_id is not None
    subject = family_subject(state.case_id)
    return [IntakeRecorded(
        subject=subject,
        outcome=command.outcome, reason=command.reason, redirected_to=command.redirected_to,
        assessments=tuple(DomainAssessment(subject=subject, life_domain=a.life_domain,
                                           strengths=a.strengths, problems=a.problems)
                          for a in command.assessments))]


# -- consent --------------------------------------------------------------------------


def required_consenters(state: TrajectoryState, subject_id: str, on: datetime,
                        time_zone: str = DEFAULT_TIME_ZONE) -> set[str]:
    """Who must consent for `subject_id` (Jeugdwet 7.3.4): under 12 the parents with
    authority; 12 to 15 the child and those parents; 16 and older the young person. The
    age is taken on the calendar day of `on` in the region's `time_zone`."""
    subject = state.member(subject_id)
    assert subject is not None
    age = subject.age_on(local_date(on, time_zone))
    parents = {m.person_id for m in state.members
               if m.has_parental_authority and m.person_id != subject_id}
    if subject.role is not MemberRole.CHILD or (age is not None and age >= 16):
        return {subject_id}
    if age is None:
        raise DomainError(f"the birth date of {subject_id} was erased; consent rules depend "
                          "on age, so record consent outside Regie")
    if not parents:
        raise DomainError(f"{subject_id} is {age}: consent needs the parents with parental "
                          "authority, and none is known; record who has authority first")
    return parents if age < 12 else parents | {subject_id}


def give_consent(command: GiveConsent, state: TrajectoryState,
                  ctx: DecisionContext) -> list[EventPayload]:
    require_open(state, "record consent")
    require_member(state, command.subject_id, "consent subject")
    for member_id in command.given_by:
        require_member(state, member_id, "consent given by")
    recorded = next((c for c in state.consents if c.consent_id == command.consent_id), None)
    if recorded is not None:
        if (recorded.subject_id, recorded.purpose, recorded.recipient,
                recorded.given_by) == (command.subject_id, command.purpose, command.recipient,
                                       tuple(sorted(set(command.given_by)))):
            return []  # the same consent again (a retry): nothing to do twice
        raise DomainError(f"consent {command.consent_id} is already recorded with other "
                          "details; record a new consent with its own consent_id")
    if command.purpose is ConsentPurpose.SHARE_INFORMATION and not command.recipient:
        raise DomainError("consent to share information needs the recipient organisation")
    needed = required_consenters(state, command.subject_id, ctx.now, ctx.policy.time_zone)
    missing = sorted(needed - set(command.given_by))
    if missing:
        age = state.member(command.subject_id)
        years = age.age_on(ctx.today) if age else None
        raise DomainError(
            f"consent for {command.subject_id} (age {years}) must be given by "
            f"{', '.join(sorted(needed))}; missing: {', '.join(missing)}", code="consent_rule")
    return [ConsentGiven(consent=Consent(
        consent_id=command.consent_id, subject_id=command.subject_id,
        purpose=command.purpose, recipient=command.recipient,
        given_by=tuple(sorted(set(command.given_by))), given_at=ctx.now))]


def withdraw_consent(command: WithdrawConsent, state: TrajectoryState,
                      ctx: DecisionContext) -> list[EventPayload]:
    consent = next((c for c in state.consents if c.consent_id == command.consent_id), None)
    if consent is None:
        raise DomainError(f"there is no consent {command.consent_id} to withdraw")
    if consent.withdrawn_at is not None:
        return []  # already withdrawn: nothing to do twice
    if command.withdrawn_by not in consent.given_by and command.withdrawn_by != consent.subject_id:
        raise DomainError(f"{command.withdrawn_by} did not give consent {command.consent_id} "
                          "and is not its subject, so cannot withdraw it")
    return [ConsentWithdrawn(consent_id=command.consent_id, withdrawn_by=command.withdrawn_by)]


def share_information(command: ShareInformation, state: TrajectoryState,
           ctx: DecisionContext) -> list[EventPayload]:
    require_open(state, "share information")
    for subject in command.subject_ids:
        require_member(state, subject, "information about")
    team_orgs = {t.organisation for t in state.team if t.is_professional and t.organisation}
    if command.recipient in team_orgs:
        return [InformationShared(recipient=command.recipient, subject_ids=command.subject_ids,
                                  inside_team=True)]
    covering: list[str] = []
    uncovered: list[str] = []
    for subject in command.subject_ids:
        consent = next((c for c in state.consents if c.covers(
            subject, ConsentPurpose.SHARE_INFORMATION, command.recipient)), None)
        if consent is None:
            uncovered.append(subject)
        else:
            covering.append(consent.consent_id)
    if uncovered:
        raise DomainError(
            f"{command.recipient} is outside the team and there is no consent to share "
            f"information about {', '.join(uncovered)} with them; record consent first "
            "(or add the organisation's professional to the team)", code="no_consent")
    return [InformationShared(recipient=command.recipient, subject_ids=command.subject_ids,
                              inside_team=False, consent_ids=tuple(covering))]


# -- waiting, team and coordinator ------------------------------------------------------


def assign_waiting_contact(command: AssignWaitingContact, state: TrajectoryState,
                     ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.REFERRED, Phase.ACCEPTED, doing="assign a waiting contact")
    return [WaitingContactAssigned(subject=_family(state), contact_id=command.contact_id,
                                   contact_name=command.contact_name)]


def start_care(command: StartCare, state: TrajectoryState,
                ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.ACCEPTED, doing="start care")
    if state.coordinator_id is None:
        raise DomainError("appoint a care coordinator before care starts")
    return [CareStarted()]


def add_team_member(command: AddTeamMember, state: TrajectoryState,
                     ctx: DecisionContext) -> list[EventPayload]:
    require_open(state, "add a team member")
    member = command.member
    existing = state.team_member(member.member_id)
    if existing == member:
        return []
    if existing is not None:
        raise DomainError(f"team member {member.member_id} is already in the team")
    if member.is_professional and not member.organisation:
        raise DomainError(f"professional {member.member_id} needs an organisation")
    if member.chosen_by is not None:
        require_member(state, member.chosen_by, "the mentor was chosen by")
    return [TeamMemberAdded(member=member)]


def remove_team_member(command: RemoveTeamMember, state: TrajectoryState,
                        ctx: DecisionContext) -> list[EventPayload]:
    if state.team_member(command.member_id) is None:
        return []
    if command.member_id == state.coordinator_id:
        raise DomainError(f"{command.member_id} is the care coordinator; hand over to a new "
                          "coordinator before removing them, so the family is never without one")
    return [TeamMemberRemoved(subject=_family(state), member_id=command.member_id,
                              reason=command.reason)]


def record_family_preference(command: RecordFamilyPreference, state: TrajectoryState,
                ctx: DecisionContext) -> list[EventPayload]:
    require_open(state, "record the family's preference")
    if command.preferred_member_id is None and not command.note:
        raise DomainError("record whom the family prefers, or a note on why it has no "
                          "preference")
    return [FamilyPreferenceRecorded(subject=_family(state),
                                     preferred_member_id=command.preferred_member_id,
                                     note=command.note)]


def appoint_coordinator(command: AppointCoordinator, state: TrajectoryState,
             ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.ACCEPTED, Phase.IN_CARE, doing="appoint a care coordinator")
    candidate = state.team_member(command.member_id)
    if candidate is None or not candidate.is_professional:
        raise DomainError(f"{command.member_id} must be a professional in the family's team "
                          "to become care coordinator; add them to the team first")
    if state.coordinator_id == command.member_id:
        return []
    if state.coordinator_id is not None and not command.handover_note:
        raise DomainError(f"{state.coordinator_id} is the care coordinator now: a handover "
                          "needs a handover note for the new coordinator")
    cap = ctx.policy.caseload_cap
    caseload = ctx.coordinator_caseload
    if caseload is not None and caseload >= cap and command.override is None:
        raise DomainError(
            f"{command.member_id} already coordinates {caseload} trajectories, the region's "
            f"cap is {cap}; choose another coordinator, or a manager may override with a "
            "reason", code="caseload_cap")
    return [CoordinatorAppointed(
        subject=_family(state), member_id=command.member_id, replaces=state.coordinator_id,
        handover_note=command.handover_note,
        family_preference_followed=(None if state.family_preference is None
                                    else state.family_preference == command.member_id),
        caseload_before=caseload or 0, caseload_cap=cap,
        override=command.override if caseload is not None and caseload >= cap else None)]


# -- family group plan and plan cycles -----------------------------------------------


def offer_family_group_plan(command: OfferFamilyGroupPlan, state: TrajectoryState,
               ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.ACCEPTED, Phase.IN_CARE, doing="offer a family group plan")
    if state.fgp_status is not FamilyGroupPlanStatus.NOT_OFFERED:
        if state.fgp_status is FamilyGroupPlanStatus.OFFERED:
            return []
        raise DomainError(f"the family group plan is already {state.fgp_status.value}")
    deadline = ctx.policy.family_group_plan_deadline(ctx.now)
    return [FamilyGroupPlanOffered(deadline=deadline)]


def skip_family_group_plan(command: SkipFamilyGroupPlan, state: TrajectoryState,
              ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.ACCEPTED, Phase.IN_CARE,
                   doing="skip the family group plan offer")
    if state.fgp_status not in (FamilyGroupPlanStatus.NOT_OFFERED, FamilyGroupPlanStatus.OFFERED):
        raise DomainError(f"the family group plan is already {state.fgp_status.value}")
    if len(command.reason.strip()) < 10:
        raise DomainError("skipping the family group plan offer needs a written reason "
                          "(Jeugdwet 4.1.2): explain in a sentence why this ground applies")
    return [FamilyGroupPlanSkipped(
        subject=_family(state), ground=command.ground, reason=command.reason.strip(),
        professional_plan_deadline=ctx.policy.professional_plan_deadline(ctx.now))]


def declare_no_family_group_plan(command: DeclareNoFamilyGroupPlan, state: TrajectoryState,
            ctx: DecisionContext) -> list[EventPayload]:
    if state.fgp_status is not FamilyGroupPlanStatus.OFFERED:
        raise DomainError("there is no open family group plan offer")
    return [FamilyGroupPlanLapsed(
        by_family=True, professional_plan_deadline=ctx.policy.professional_plan_deadline(ctx.now))]


def submit_family_group_plan(command: SubmitFamilyGroupPlan, state: TrajectoryState,
                ctx: DecisionContext) -> list[EventPayload]:
    if state.fgp_status is not FamilyGroupPlanStatus.OFFERED:
        raise DomainError("a family group plan can be submitted while the offer is open; "
                          f"it is {state.fgp_status.value}")
    _validate_plan(command.plan, state, ctx.today)
    return [PlanAdopted(plan_version=state.plan_version + 1,
                        source=PlanSource.FAMILY_GROUP_PLAN,
                        plan=command.plan.about_the_family(_family(state)),
                        young_person_took_part=command.young_person_took_part)]


def adopt_plan(command: AdoptPlan, state: TrajectoryState,
           ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.ACCEPTED, Phase.IN_CARE, doing="adopt a plan")
    if state.plan is not None:
        raise DomainError("there is a plan already; adjust it after an evaluation instead")
    if state.fgp_status is FamilyGroupPlanStatus.NOT_OFFERED:
        raise DomainError("offer the family a family group plan first (Jeugdwet 4.1.2), or "
                          "record a legal ground to skip the offer")
    if state.fgp_status is FamilyGroupPlanStatus.OFFERED:
        raise DomainError("the family's offer to make its own plan is still open; wait for "
                          "it, or record that the family will not make one")
    _validate_plan(command.plan, state, ctx.today)
    return [PlanAdopted(plan_version=state.plan_version + 1, source=PlanSource.PROFESSIONAL,
                        plan=command.plan.about_the_family(_family(state)),
                        young_person_took_part=command.young_person_took_part)]


def adjust_plan(command: AdjustPlan, state: TrajectoryState,
            ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.ACCEPTED, Phase.IN_CARE, doing="adjust the plan")
    if state.plan is None:
        raise DomainError("there is no plan to adjust yet")
    if state.last_evaluated_at is None or state.evaluated_dates == ():
        raise DomainError("a plan is adjusted after an evaluation; evaluate it first")
    _validate_plan(command.plan, state, ctx.today)
    return [PlanAdopted(plan_version=state.plan_version + 1, source=PlanSource.ADJUSTMENT,
                        plan=command.plan.about_the_family(_family(state)),
                        young_person_took_part=command.young_person_took_part)]


def _goal(state: TrajectoryState, goal_id: str) -> tuple[str, str]:
    if state.plan is None:
        raise DomainError("there is no active plan")
    goal = next((g for g in state.plan.goals if g.goal_id == goal_id), None)
    if goal is None:
        known = ", ".join(g.goal_id for g in state.plan.goals)
        raise DomainError(f"goal {goal_id} is not in plan version {state.plan_version} "
                          f"(goals: {known})")
    return goal.goal_id, goal.person_id


def report_progress(command: ReportProgress, state: TrajectoryState,
              ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.IN_CARE, doing="report progress")
    goal_id, person_id = _goal(state, command.goal_id)
    return [ProgressReported(goal_id=goal_id, reported_by=command.reported_by,
                             note=GoalNote(person_id=person_id, text=command.note))]


def complete_agreement(command: CompleteAgreement, state: TrajectoryState,
              ctx: DecisionContext) -> list[EventPayload]:
    if state.plan is None or not any(a.agreement_id == command.agreement_id
                                     for a in state.plan.agreements):
        raise DomainError(f"agreement {command.agreement_id} is not in the current plan")
    if command.agreement_id in state.completed_agreements:
        return []
    return [AgreementCompleted(agreement_id=command.agreement_id)]


def evaluate_plan(command: EvaluatePlan, state: TrajectoryState,
              ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.IN_CARE, doing="evaluate the plan")
    if state.plan is None:
        raise DomainError("there is no plan to evaluate")
    results: list[GoalEvaluation] = []
    evaluated = [r.goal_id for r in command.results]
    twice = sorted({g for g in evaluated if evaluated.count(g) > 1})
    if twice:
        raise DomainError(f"evaluate each goal once; more than once: {', '.join(twice)}")
    for result in command.results:
        goal_id, person_id = _goal(state, result.goal_id)
        results.append(GoalEvaluation(goal_id=goal_id, person_id=person_id,
                                      progress=result.progress, note=result.note))
    missing = sorted({g.goal_id for g in state.plan.goals} - {r.goal_id for r in results})
    if missing:
        raise DomainError(f"an evaluation covers every goal; missing: {', '.join(missing)}")
    if not command.final and command.next_evaluation_date is None:
        raise DomainError("set the next evaluation date: an active plan always has one "
                          "(or mark this evaluation as final)")
    if not command.final and command.next_evaluation_date is not None and (
            command.next_evaluation_date <= ctx.today):
        raise DomainError("the next evaluation date must be in the future")
    if not command.final and command.next_evaluation_date is not None and (
            command.next_evaluation_date == state.plan.evaluation_date
            or command.next_evaluation_date in state.evaluated_dates):
        raise DomainError(f"{command.next_evaluation_date} is the evaluation date being "
                          "held now; set the date of the next evaluation")
    return [PlanEvaluated(plan_version=state.plan_version, results=tuple(results),
                          final=command.final,
                          next_evaluation_date=None if command.final
                          else command.next_evaluation_date)]


def request_written_copy(command: RequestWrittenCopy, state: TrajectoryState,
                  ctx: DecisionContext) -> list[EventPayload]:
    if state.plan is None:
        raise DomainError("there is no plan to copy yet")
    if state.written_copy_due is not None:
        return []
    return [WrittenCopyRequested(requested_by=command.requested_by,
                                 due=ctx.policy.written_plan_copy_deadline(ctx.now))]


def provide_written_copy(command: ProvideWrittenCopy, state: TrajectoryState,
                  ctx: DecisionContext) -> list[EventPayload]:
    if state.written_copy_due is None:
        return []
    return [WrittenCopyProvided(plan_version=state.plan_version)]


# -- persistence, closure, aftercare ----------------------------------------------------


def record_manager_review(command: RecordManagerReview, state: TrajectoryState,
                    ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.ACCEPTED, Phase.IN_CARE, doing="record a manager's review")
    if command.manager_id == state.coordinator_id:
        raise DomainError("the review is by a manager, not by the family's own coordinator")
    return [ManagerReviewRecorded(subject=_family(state), manager_id=command.manager_id,
                                  decision=command.decision, note=command.note)]


def close_trajectory(command: CloseTrajectory, state: TrajectoryState,
           ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.IN_CARE, doing="close the trajectory")
    if not state.final_evaluation_done:
        raise DomainError("a trajectory closes only after a final evaluation with the family; "
                          "record the evaluation with final=true first", code="no_final_evaluation")
    if (command.reason is ClosureReason.FAMILY_WITHDREW
            and state.manager_review is not ManagerReviewDecision.AGREE_TO_CLOSE):
        raise DomainError("a family that stops cooperating is not simply let go (vasthoudend): "
                          "a manager must review the case and agree to close first",
                          code="needs_manager_review")
    if command.reason is ClosureReason.MOVED_AWAY and not command.new_municipality:
        raise DomainError("record the new municipality the trajectory is transferred to")
    checks = {c.person_id: c for c in command.big5}
    for person_id in checks:
        require_member(state, person_id, "Big 5 check for")
    for member in state.members:
        # The Big 5 is about young people growing up (18-/18+), not about their parents.
        if member.role is not MemberRole.CHILD:
            continue
        age = member.age_on(ctx.today)
        if age is None or age < ctx.policy.big5_min_age:
            continue
        check = checks.get(member.person_id)
        if check is None:
            raise DomainError(
                f"{member.person_id} is {age}: the Big 5 (support, housing, school & work, "
                "income, wellbeing) must be in order before closing; add a Big 5 check",
                code="big5")
        for name, item in check.items().items():
            if item.status is Big5Status.JUSTIFIED_EXCEPTION and not item.justification:
                raise DomainError(f"Big 5 for {member.person_id}: {name} is an exception and "
                                  "needs a justification")
        adults = check.supporting_adults
        if isinstance(adults, Erased) or not adults:
            raise DomainError(f"Big 5 for {member.person_id}: name at least one adult who is "
                              "always there for them (support)")
    gets_aftercare = command.reason in (ClosureReason.GOALS_ACHIEVED,
                                        ClosureReason.FAMILY_WITHDREW)
    ends = ctx.policy.aftercare_end(ctx.now) if gets_aftercare else ctx.now
    check_ins = tuple(ctx.policy.check_in_dates(ctx.now)) if gets_aftercare else ()
    return [TrajectoryClosed(reason=command.reason, big5=command.big5,
                             new_municipality=command.new_municipality,
                             aftercare_ends_at=ends, check_ins_due=check_ins)]


def record_check_in(command: RecordCheckIn, state: TrajectoryState,
              ctx: DecisionContext) -> list[EventPayload]:
    require_phase(state, Phase.AFTERCARE, doing="record an aftercare check-in")
    check_in = next((c for c in state.check_ins if c.index == command.check_in), None)
    if check_in is None:
        raise DomainError(f"there is no check-in {command.check_in}; the scheduled ones are "
                          f"0 to {len(state.check_ins) - 1}")
    if check_in.status is CheckInStatus.DONE:
        return []
    return [CheckInRecorded(subject=_family(state), check_in=command.check_in, by=command.by,
                            note=command.note)]


def partner_signal(command: PartnerSignal, state: TrajectoryState,
            ctx: DecisionContext) -> list[EventPayload]:
    if command.idempotency_key in state.signal_keys:
        return []  # a resent signal: already handled
    if state.phase is None:
        return []  # nothing to attach it to; the gateway refuses these before sending
    assert state.case_id is not None
    # The partner's description is free text about the family: sealed with its key.
    subject = family_subject(state.case_id)
    in_window = (state.phase is Phase.AFTERCARE and state.aftercare_ends_at is not None
                 and ctx.now < state.aftercare_ends_at)
    if command.kind is SignalKind.STAGNATION and state.is_open:
        return [StagnationFound(about=Reported.next_in(state),
                                evidence=f"reported by partner {command.organisation}",
                                due=ctx.now, subject=subject, details=command.description),
                PartnerSignalRecorded(idempotency_key=command.idempotency_key,
                                      organisation=command.organisation,
                                      kind=command.kind, subject=subject,
                                      description=command.description,
                                      acted_on=True, note="recorded as a stagnation finding")]
    if command.kind is SignalKind.CONTACT_FAILED and state.is_open:
        return [ContactAttempted(by=command.organisation, channel="partner", reached=False),
                PartnerSignalRecorded(idempotency_key=command.idempotency_key,
                                      organisation=command.organisation,
                                      kind=command.kind, subject=subject,
                                      description=command.description,
                                      acted_on=True, note="counted as a failed contact attempt")]
    if command.kind is SignalKind.RELAPSE and in_window:
        return [TrajectoryReopened(
            idempotency_key=command.idempotency_key, organisation=command.organisation,
            subject=subject, description=command.description,
            plan_version=state.plan_version or None,
            evaluation_date=ctx.policy.reopen_evaluation_date(ctx.now))]
    note = {
        Phase.AFTERCARE: "noted for the aftercare check-ins",
        Phase.ENDED: "the trajectory has ended; refer the family again if help is needed",
    }.get(state.phase, "noted for the care coordinator")
    return [PartnerSignalRecorded(idempotency_key=command.idempotency_key,
                                  organisation=command.organisation, kind=command.kind,
                                  subject=subject, description=command.description,
                                  acted_on=False, note=note)]

