"""The trajectory (traject) of one family: its state and `evolve`.

The state is exactly the fold of the trajectory's stream: `evolve(state, event, at)`
applies one event that happened at `at`. A trajectory can therefore be rebuilt from the
event store alone. `decide` lives in `domain.decide`, the clocks in `domain.deadlines`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.closure import ClosureReason, ManagerReviewDecision
from domain.consent import Consent
from domain.events import (
    AftercareEnded,
    AgreementCompleted,
    CareStarted,
    CheckInDue,
    CheckInMissed,
    CheckInRecorded,
    ConsentGiven,
    ConsentWithdrawn,
    ContactAttempted,
    CoordinatorAppointed,
    EscalationAcknowledged,
    EscalationClosed,
    EscalationFindingAttached,
    EscalationLevelAssigned,
    EscalationOpened,
    EscalationResolved,
    EventMetadata,
    EventPayload,
    FamilyGroupPlanLapsed,
    FamilyGroupPlanOffered,
    FamilyGroupPlanSkipped,
    FamilyPreferenceRecorded,
    InformationShared,
    IntakeOutcome,
    IntakeRecorded,
    ManagerReviewRecorded,
    NewEvent,
    PartnerSignalRecorded,
    PlanAdopted,
    PlanEvaluated,
    ProgressReported,
    RecordedEvent,
    ReferralAdded,
    RegionAlerted,
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
from domain.family import FamilyMember, Referral
from domain.notifications import RecipientRole
from domain.personal import HasPersonalData, PersonalStr
from domain.plan import FamilyPlan, GoalProgress, PlanSource
from domain.stagnation import StagnationAbout, StagnationRule
from domain.team import TeamMember


class Phase(StrEnum):
    REFERRED = "referred"  # waiting for intake
    ACCEPTED = "accepted"  # intake accepted; waiting for care to start
    IN_CARE = "in_care"
    AFTERCARE = "aftercare"  # closed; light follow-up, a relapse reopens
    ENDED = "ended"  # declined, redirected, or aftercare over: the workflow completes


def next_phase(current: Phase | None, event: EventPayload) -> Phase | None:
    """The phase after `event`, given the phase before it: the one definition of the phase
    machine, used by `evolve` and by the read models, so the two cannot drift apart.
    Events not named here leave the phase as it is. Which events are allowed in which
    phase is for `decide`; this only says where each one leads."""
    match event:
        case TrajectoryReferred():
            return Phase.REFERRED
        case IntakeRecorded():
            return Phase.ACCEPTED if event.outcome is IntakeOutcome.ACCEPTED else Phase.ENDED
        case CareStarted() | TrajectoryReopened():
            return Phase.IN_CARE
        case TrajectoryClosed():
            return Phase.AFTERCARE
        case AftercareEnded():
            return Phase.ENDED
    return current


class FamilyGroupPlanStatus(StrEnum):
    NOT_OFFERED = "not_offered"
    OFFERED = "offered"
    SKIPPED = "skipped"
    LAPSED = "lapsed"
    SUBMITTED = "submitted"


class CheckInStatus(StrEnum):
    SCHEDULED = "scheduled"
    DUE = "due"
    DONE = "done"
    MISSED = "missed"


class CheckIn(BaseModel):
    model_config = ConfigDict(frozen=True)
    index: int
    due: datetime
    status: CheckInStatus = CheckInStatus.SCHEDULED


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)
    about: StagnationAbout
    found_at: datetime
    evidence: str
    due: datetime | None = None  # when the rule started to hold (the passed deadline)

    @property
    def rule(self) -> StagnationRule:
        return self.about.rule

    @property
    def ref(self) -> str:
        """Its identity, as in `Episode.finding_refs` (domain.stagnation)."""
        return self.about.ref


class EpisodeStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"  # its cause cleared, or the trajectory left care


class Episode(HasPersonalData):
    """An escalation episode as the trajectory knows it (the ladder runs in a child
    workflow; every step it takes is an event in this trajectory's stream)."""

    model_config = ConfigDict(frozen=True)
    # The decision's words are about the family (`EscalationResolved` seals them).
    personal_subject_field: ClassVar[str] = "subject"
    subject: str | None = None
    episode_id: str
    rule: StagnationRule
    finding_refs: tuple[str, ...]
    concerned_professional_id: str | None = None
    opened_at: datetime
    status: EpisodeStatus = EpisodeStatus.OPEN
    level: int = 0
    assignee_id: str | None = None
    role: RecipientRole | None = None
    deadline: datetime | None = None
    acknowledged_by: tuple[str, ...] = ()
    reminders: int = 0
    next_reminder: datetime | None = None  # of the last region alert
    decision: PersonalStr | None = None


class TrajectoryState(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str | None = None
    phase: Phase | None = None
    version: int = 0
    members: tuple[FamilyMember, ...] = ()
    referrals: tuple[Referral, ...] = ()
    referred_at: datetime | None = None
    intake_at: datetime | None = None
    intake_outcome: IntakeOutcome | None = None
    end_reason: str | None = None
    consents: tuple[Consent, ...] = ()
    shared_with: tuple[str, ...] = ()
    waiting_contact: str | None = None
    care_started_at: datetime | None = None
    team: tuple[TeamMember, ...] = ()
    family_preference: str | None = None
    coordinator_id: str | None = None
    coordinator_history: tuple[str, ...] = ()
    fgp_status: FamilyGroupPlanStatus = FamilyGroupPlanStatus.NOT_OFFERED
    fgp_deadline: datetime | None = None
    professional_plan_deadline: datetime | None = None
    plan: FamilyPlan | None = None
    plan_version: int = 0
    plan_source: PlanSource | None = None
    first_plan_at: datetime | None = None
    completed_agreements: tuple[str, ...] = ()
    evaluations: int = 0
    last_evaluated_at: datetime | None = None
    evaluated_dates: tuple[date, ...] = ()  # evaluation dates of the current plan held
    no_progress_streak: int = 0
    final_evaluation_done: bool = False
    progress_reports: int = 0
    written_copy_due: datetime | None = None
    findings: tuple[Finding, ...] = ()
    signal_keys: tuple[str, ...] = ()
    manager_review: ManagerReviewDecision | None = None
    closed_at: datetime | None = None
    closure_reason: ClosureReason | None = None
    aftercare_ends_at: datetime | None = None
    check_ins: tuple[CheckIn, ...] = ()
    reopen_count: int = 0
    failed_contacts: tuple[datetime, ...] = ()  # since the family was last reached
    episodes: tuple[Episode, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.phase in (Phase.REFERRED, Phase.ACCEPTED, Phase.IN_CARE)

    def member(self, person_id: str) -> FamilyMember | None:
        return next((m for m in self.members if m.person_id == person_id), None)

    def team_member(self, member_id: str) -> TeamMember | None:
        return next((t for t in self.team if t.member_id == member_id), None)

    def has_finding(self, about: StagnationAbout) -> bool:
        # By identity, not by equality: a finding upcast from schema v1 knows some
        # moments only to the second, and it is still the same finding.
        return any(f.ref == about.ref for f in self.findings)

    def episode(self, episode_id: str) -> Episode | None:
        return next((e for e in self.episodes if e.episode_id == episode_id), None)

    @property
    def open_episodes(self) -> tuple[Episode, ...]:
        return tuple(e for e in self.episodes if e.status is EpisodeStatus.OPEN)


_STREAM_PREFIX = "trajectory-"


def stream_id_for(case_id: str) -> str:
    return f"{_STREAM_PREFIX}{case_id}"


def case_id_of_stream(stream_id: str) -> str:
    """The case id of a trajectory's stream: the inverse of `stream_id_for`."""
    return stream_id.removeprefix(_STREAM_PREFIX)


def _with_check_in(state: TrajectoryState, index: int,
                   status: CheckInStatus) -> tuple[CheckIn, ...]:
    return tuple(c.model_copy(update={"status": status}) if c.index == index else c
                 for c in state.check_ins)


def _with_episode(state: TrajectoryState, episode_id: str, **changes: object
                  ) -> tuple[Episode, ...]:
    return tuple(e.model_copy(update=changes) if e.episode_id == episode_id else e
                 for e in state.episodes)


def evolve(state: TrajectoryState, event: EventPayload, at: datetime) -> TrajectoryState:
    """Apply one event. Pure: `at` is when the event happened."""
    s = state.model_copy(update={"version": state.version + 1,
                                 "phase": next_phase(state.phase, event)})
    match event:
        case TrajectoryReferred():
            return s.model_copy(update={
                "case_id": event.case_id, "referred_at": at,
                "members": event.referral.members, "referrals": (event.referral,)})
        case ReferralAdded():
            known = {m.person_id for m in s.members}
            new = tuple(m for m in event.referral.members if m.person_id not in known)
            return s.model_copy(update={"members": s.members + new,
                                        "referrals": (*s.referrals, event.referral)})
        case IntakeRecorded():
            accepted = event.outcome is IntakeOutcome.ACCEPTED
            return s.model_copy(update={
                "intake_at": at, "intake_outcome": event.outcome,
                "end_reason": None if accepted else f"intake {event.outcome.value}"})
        case ConsentGiven():
            return s.model_copy(update={"consents": (*s.consents, event.consent)})
        case ConsentWithdrawn():
            return s.model_copy(update={"consents": tuple(
                c.model_copy(update={"withdrawn_at": at})
                if c.consent_id == event.consent_id else c for c in s.consents)})
        case InformationShared():
            return s.model_copy(update={"shared_with": (*s.shared_with, event.recipient)})
        case WaitingContactAssigned():
            return s.model_copy(update={"waiting_contact": event.contact_id})
        case CareStarted():
            return s.model_copy(update={"care_started_at": at})
        case TeamMemberAdded():
            return s.model_copy(update={"team": (*s.team, event.member)})
        case TeamMemberRemoved():
            return s.model_copy(update={
                "team": tuple(t for t in s.team if t.member_id != event.member_id)})
        case FamilyPreferenceRecorded():
            return s.model_copy(update={"family_preference": event.preferred_member_id})
        case CoordinatorAppointed():
            return s.model_copy(update={
                "coordinator_id": event.member_id,
                "coordinator_history": (*s.coordinator_history, event.member_id)})
        case FamilyGroupPlanOffered():
            return s.model_copy(update={"fgp_status": FamilyGroupPlanStatus.OFFERED,
                                        "fgp_deadline": event.deadline})
        case FamilyGroupPlanSkipped():
            return s.model_copy(update={
                "fgp_status": FamilyGroupPlanStatus.SKIPPED,
                "professional_plan_deadline": event.professional_plan_deadline})
        case FamilyGroupPlanLapsed():
            return s.model_copy(update={
                "fgp_status": FamilyGroupPlanStatus.LAPSED,
                "professional_plan_deadline": event.professional_plan_deadline})
        case PlanAdopted():
            update: dict[str, object] = {
                "plan": event.plan, "plan_version": event.plan_version,
                "plan_source": event.source, "evaluated_dates": (),
                "final_evaluation_done": False,
                "first_plan_at": s.first_plan_at or at}
            if event.source is PlanSource.FAMILY_GROUP_PLAN:
                update["fgp_status"] = FamilyGroupPlanStatus.SUBMITTED
            return s.model_copy(update=update)
        case ProgressReported():
            return s.model_copy(update={"progress_reports": s.progress_reports + 1})
        case AgreementCompleted():
            return s.model_copy(update={
                "completed_agreements": (*s.completed_agreements, event.agreement_id)})
        case PlanEvaluated():
            stalled = all(r.progress is GoalProgress.NO_PROGRESS for r in event.results)
            plan = s.plan
            held = s.evaluated_dates
            if plan is not None and plan.evaluation_date is not None:
                held = (*held, plan.evaluation_date)
                if event.next_evaluation_date is not None:
                    plan = plan.model_copy(
                        update={"evaluation_date": event.next_evaluation_date})
            return s.model_copy(update={
                "evaluations": s.evaluations + 1, "last_evaluated_at": at, "plan": plan,
                "evaluated_dates": held,
                "no_progress_streak": s.no_progress_streak + 1 if stalled else 0,
                # Only the latest evaluation counts: a later, non-final one reopens
                # the cycle, and a new plan version needs its own final evaluation.
                "final_evaluation_done": event.final})
        case WrittenCopyRequested():
            return s.model_copy(update={"written_copy_due": event.due})
        case WrittenCopyProvided():
            return s.model_copy(update={"written_copy_due": None})
        case StagnationFound():
            finding = Finding(about=event.about, found_at=at, evidence=event.evidence,
                              due=event.due)
            return s.model_copy(update={"findings": (*s.findings, finding)})
        case PartnerSignalRecorded():
            return s.model_copy(update={"signal_keys": (*s.signal_keys,
                                                        event.idempotency_key)})
        case ManagerReviewRecorded():
            return s.model_copy(update={"manager_review": event.decision})
        case TrajectoryClosed():
            return s.model_copy(update={
                "closed_at": at, "closure_reason": event.reason,
                "aftercare_ends_at": event.aftercare_ends_at,
                "check_ins": tuple(CheckIn(index=i, due=d)
                                   for i, d in enumerate(event.check_ins_due))})
        case CheckInDue():
            return s.model_copy(update={
                "check_ins": _with_check_in(s, event.check_in, CheckInStatus.DUE)})
        case CheckInRecorded():
            return s.model_copy(update={
                "check_ins": _with_check_in(s, event.check_in, CheckInStatus.DONE)})
        case CheckInMissed():
            return s.model_copy(update={
                "check_ins": _with_check_in(s, event.check_in, CheckInStatus.MISSED)})
        case TrajectoryReopened():
            plan = s.plan
            if plan is not None:
                plan = plan.model_copy(update={"evaluation_date": event.evaluation_date})
            return s.model_copy(update={
                "reopen_count": s.reopen_count + 1,
                "signal_keys": (*s.signal_keys, event.idempotency_key),
                "plan": plan, "evaluated_dates": (),
                "final_evaluation_done": False, "manager_review": None,
                "closed_at": None, "closure_reason": None, "aftercare_ends_at": None,
                "check_ins": ()})
        case ContactAttempted():
            contacts = () if event.reached else (*s.failed_contacts, at)
            return s.model_copy(update={"failed_contacts": contacts})
        case EscalationOpened():
            episode = Episode(episode_id=event.episode_id, rule=event.rule,
                              finding_refs=(event.finding_key,), opened_at=at,
                              concerned_professional_id=event.concerned_professional_id)
            return s.model_copy(update={"episodes": (*s.episodes, episode)})
        case EscalationFindingAttached():
            current = s.episode(event.episode_id)
            assert current is not None
            return s.model_copy(update={"episodes": _with_episode(
                s, event.episode_id, finding_refs=(*current.finding_refs, event.finding_key))})
        case EscalationLevelAssigned():
            return s.model_copy(update={"episodes": _with_episode(
                s, event.episode_id, level=event.level, assignee_id=event.assignee_id,
                role=event.role, deadline=event.deadline, acknowledged_by=())})
        case EscalationAcknowledged():
            current = s.episode(event.episode_id)
            assert current is not None
            return s.model_copy(update={"episodes": _with_episode(
                s, event.episode_id, acknowledged_by=(*current.acknowledged_by, event.by))})
        case EscalationResolved():
            return s.model_copy(update={"episodes": _with_episode(
                s, event.episode_id, status=EpisodeStatus.RESOLVED, decision=event.decision,
                subject=event.subject)})
        case EscalationClosed():
            return s.model_copy(update={"episodes": _with_episode(
                s, event.episode_id, status=EpisodeStatus.CLOSED)})
        case RegionAlerted():
            return s.model_copy(update={"episodes": _with_episode(
                s, event.episode_id, reminders=event.reminder,
                next_reminder=event.next_reminder)})
        case AftercareEnded():
            return s.model_copy(update={"end_reason": "aftercare ended"})
    raise TypeError(f"evolve does not know {type(event).__name__}")


def fold(events: Iterable[RecordedEvent], state: TrajectoryState | None = None
         ) -> TrajectoryState:
    """Rebuild a trajectory's state from its stored events."""
    state = state or TrajectoryState()
    for event in events:
        state = evolve(state, event.payload, event.occurred_at)
    return state


def new_event(
    payload: EventPayload, *, event_id: UUID, now: datetime, metadata: EventMetadata
) -> NewEvent:
    return NewEvent.model_validate({
        "event_id": event_id, "occurred_at": now, "metadata": metadata, "payload": payload,
    })
