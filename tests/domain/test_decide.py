"""The decider, rule by rule: each refusal with its message, the accepted path, and the
idempotent no-ops. States are built the way a trajectory is: by running commands through
`decide` and folding their events with `evolve`, at fixed moments (never the real clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.closure import (
    Big5Check,
    Big5Item,
    Big5Status,
    ClosureReason,
    ManagerReviewDecision,
)
from domain.command_table import decide
from domain.commands import (
    AddTeamMember,
    AdjustPlan,
    AdoptPlan,
    AppointCoordinator,
    AssessmentInput,
    AssignWaitingContact,
    CloseTrajectory,
    Command,
    CompleteAgreement,
    DeclareNoFamilyGroupPlan,
    EvaluatePlan,
    GiveConsent,
    GoalResult,
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
from domain.consent import ConsentPurpose
from domain.decision import DecisionContext
from domain.errors import DomainError
from domain.events import (
    AgreementCompleted,
    CareStarted,
    CheckInRecorded,
    ConsentGiven,
    ConsentWithdrawn,
    CoordinatorAppointed,
    EventPayload,
    FamilyGroupPlanLapsed,
    FamilyGroupPlanOffered,
    FamilyGroupPlanSkipped,
    FamilyPreferenceRecorded,
    InformationShared,
    IntakeOutcome,
    IntakeRecorded,
    ManagerReviewRecorded,
    PartnerSignalRecorded,
    PlanAdopted,
    PlanEvaluated,
    ProgressReported,
    ReferralAdded,
    TeamMemberAdded,
    TeamMemberRemoved,
    TrajectoryClosed,
    TrajectoryReferred,
    TrajectoryReopened,
    WaitingContactAssigned,
    WrittenCopyProvided,
    WrittenCopyRequested,
)
from domain.family import (
    FamilyMember,
    LifeDomain,
    MemberRole,
    Referral,
    ReferralReason,
    family_subject,
)
from domain.personal import Erased
from domain.plan import Agreement, FamilyPlan, Goal, GoalProgress, PlanSource, SkipGround
from domain.policy import RegionPolicy, add_months
from domain.team import ManagerOverride, TeamMember, TeamMemberKind
from domain.trajectory import (
    CheckInStatus,
    FamilyGroupPlanStatus,
    Phase,
    TrajectoryState,
    evolve,
)
from tests.factories import member, refer_family, referral

POLICY = RegionPolicy()
ACTOR = "coordinator:pro-1"

# The story's calendar (UTC). The referral is on a Monday morning.
REFERRED_AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
INTAKE_AT = REFERRED_AT + timedelta(days=7)
CARE_AT = REFERRED_AT + timedelta(days=14)
PLAN_AT = REFERRED_AT + timedelta(days=21)
EVALUATION_DAY = date(2025, 5, 1)
EVALUATED_AT = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
CLOSED_AT = datetime(2025, 5, 2, 10, 0, tzinfo=UTC)


# -- the story helper ------------------------------------------------------------------

# Free text about the family is sealed with its key (domain.events.AboutTheFamily).
FAMILY = family_subject("case-1")


def apply(state: TrajectoryState, commands: list[Command], now: datetime, *,
          policy: RegionPolicy = POLICY, caseload: int | None = None) -> TrajectoryState:
    """Run `commands` through `decide` at `now` and fold each event into the state."""
    ctx = DecisionContext(now=now, policy=policy, coordinator_caseload=caseload)
    for command in commands:
        for event in decide(command, state, ctx):
            state = evolve(state, event, now)
    return state


@dataclass
class Story:
    """One family's trajectory, told command by command at a moving `now`."""

    state: TrajectoryState = field(default_factory=TrajectoryState)
    now: datetime = REFERRED_AT
    policy: RegionPolicy = POLICY

    def do(self, command: Command, *, at: datetime | None = None,
           caseload: int | None = None) -> list[EventPayload]:
        """Decide at `at` (or the current `now`), fold the events, return them."""
        self.now = at or self.now
        events = decide(command, self.state, DecisionContext(self.now, self.policy, caseload))
        for event in events:
            self.state = evolve(self.state, event, self.now)
        return events

    def refuses(self, command: Command, match: str, *, at: datetime | None = None,
                caseload: int | None = None) -> DomainError:
        """The command is refused with a message containing `match`; nothing changes."""
        before = self.state
        with pytest.raises(DomainError, match=match) as refused:
            self.do(command, at=at, caseload=caseload)
        assert self.state == before
        return refused.value


# -- building blocks -------------------------------------------------------------------


def family(*members: FamilyMember, referral_id: str = "ref-1",
           about: str | None = None) -> Referral:
    return Referral(
        referral_id=referral_id, organisation="Basisschool De Linde",
        referrer="intern begeleider", members=members,
        reasons=(ReferralReason(about=about or members[-1].person_id,
                                life_domain=LifeDomain.EDUCATION_WORK,
                                description="verzuimt veel (frequent absence)"),))


def parent(person_id: str = "p-1", *, authority: bool = True) -> FamilyMember:
    return FamilyMember(person_id=person_id, role=MemberRole.PARENT, name="Anna de Vries",
                        birth_date=date(1985, 3, 14), has_parental_authority=authority)


def child(person_id: str = "c-1", born: date = date(2014, 9, 2)) -> FamilyMember:
    return member(person_id, MemberRole.CHILD, "Sam de Vries", born)


def professional(member_id: str = "pro-1", organisation: str = "Wijkteam Noord"
                 ) -> TeamMember:
    return TeamMember(member_id=member_id, kind=TeamMemberKind.PROFESSIONAL,
                      name="Fatima El Amrani", organisation=organisation)


def relative(member_id: str = "rel-1") -> TeamMember:
    return TeamMember(member_id=member_id, kind=TeamMemberKind.RELATIVE, name="Oma Jansen")


def goal(goal_id: str = "g-1", person_id: str = "c-1") -> Goal:
    return Goal(goal_id=goal_id, person_id=person_id, life_domain=LifeDomain.EDUCATION_WORK,
                description="Sam gaat elke dag naar school", criterion="verzuim < 2 dagen/maand")


def agreement(agreement_id: str = "a-1", owner: str | None = "pro-1",
              due: date | None = date(2025, 4, 15)) -> Agreement:
    return Agreement(agreement_id=agreement_id, action="gesprek met school plannen",
                     owner=owner, due=due)


def plan(*goals: Goal, agreements: tuple[Agreement, ...] = (),
         evaluation_date: date | None = EVALUATION_DAY) -> FamilyPlan:
    return FamilyPlan(goals=goals or (goal(),), agreements=agreements,
                      evaluation_date=evaluation_date)


def intake_accepted() -> RecordIntake:
    return RecordIntake(actor=ACTOR, outcome=IntakeOutcome.ACCEPTED, assessments=(
        AssessmentInput(life_domain=LifeDomain.EDUCATION_WORK, strengths="betrokken ouder",
                        problems="schoolverzuim"),))


def all_arranged(person_id: str, *adults: str, **items: Big5Item) -> Big5Check:
    arranged = Big5Item(status=Big5Status.ARRANGED)
    fields: dict[str, Any] = {name: items.get(name, arranged) for name in
                              ("support", "housing", "school_work", "income", "wellbeing")}
    return Big5Check(person_id=person_id, supporting_adults=adults, **fields)


def referred(ref: Referral | None = None) -> Story:
    story = Story()
    story.do(ReferFamily(case_id="case-1", referral=ref or referral()))
    return story


def accepted(ref: Referral | None = None) -> Story:
    story = referred(ref)
    story.do(intake_accepted(), at=INTAKE_AT)
    return story


def with_coordinator(ref: Referral | None = None) -> Story:
    story = accepted(ref)
    story.do(AddTeamMember(actor=ACTOR, member=professional()))
    story.do(AppointCoordinator(actor=ACTOR, member_id="pro-1"), caseload=3)
    return story


def in_care(ref: Referral | None = None) -> Story:
    story = with_coordinator(ref)
    story.do(StartCare(actor=ACTOR), at=CARE_AT)
    return story


def skipped(ref: Referral | None = None) -> Story:
    story = in_care(ref)
    story.do(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
                                 reason="De ouders willen geen eigen plan maken."))
    return story


def planned(the_plan: FamilyPlan | None = None, ref: Referral | None = None) -> Story:
    story = skipped(ref)
    story.do(AdoptPlan(actor=ACTOR, plan=the_plan or plan()), at=PLAN_AT)
    return story


def finally_evaluated(ref: Referral | None = None) -> Story:
    story = planned(ref=ref)
    story.do(EvaluatePlan(actor=ACTOR, final=True, results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.ACHIEVED),)), at=EVALUATED_AT)
    return story


def closed(reason: ClosureReason = ClosureReason.GOALS_ACHIEVED) -> Story:
    story = finally_evaluated()
    story.do(CloseTrajectory(actor=ACTOR, reason=reason), at=CLOSED_AT)
    return story


def ended_by_declined_intake() -> Story:
    story = referred()
    story.do(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.DECLINED,
                          reason="geen multiprobleemgezin"), at=INTAKE_AT)
    return story


def test_apply_folds_a_list_of_commands() -> None:
    state = apply(TrajectoryState(), [refer_family(), intake_accepted()], REFERRED_AT)
    assert state.phase is Phase.ACCEPTED
    assert state.version == 2
    assert state.referred_at == state.intake_at == REFERRED_AT


# -- before any referral ---------------------------------------------------------------


def test_a_command_before_the_referral_is_refused() -> None:
    Story().refuses(intake_accepted(), "there is no trajectory yet")


def test_a_partner_signal_before_the_referral_is_a_no_op() -> None:
    signal = PartnerSignal(idempotency_key="sig-1", organisation="GGD",
                           kind=SignalKind.CONCERN, description="zorgen")
    assert Story().do(signal) == []


# -- referral --------------------------------------------------------------------------


def test_the_first_referral_opens_the_trajectory() -> None:
    story = Story()
    events = story.do(refer_family())
    assert events == [TrajectoryReferred(case_id="case-1", referral=referral())]
    assert story.state.phase is Phase.REFERRED
    assert story.state.case_id == "case-1"
    assert story.state.referred_at == REFERRED_AT
    assert [m.person_id for m in story.state.members] == ["p-1", "c-1"]


def test_the_same_referral_twice_is_a_no_op() -> None:
    story = referred()
    assert story.do(refer_family(), at=REFERRED_AT + timedelta(hours=1)) == []
    assert len(story.state.referrals) == 1


def test_another_referral_joins_the_open_trajectory() -> None:
    story = referred()
    second = ReferFamily(case_id="case-1", referral=family(
        parent("p-1"), child("c-1"), child("c-2", date(2016, 1, 1)), referral_id="ref-2"))
    events = story.do(second)
    assert events == [ReferralAdded(case_id="case-1", referral=second.referral)]
    assert [m.person_id for m in story.state.members] == ["p-1", "c-1", "c-2"]
    assert len(story.state.referrals) == 2


@pytest.mark.parametrize("members", [
    (parent("p-1"), parent("p-2")),
    (child("c-1"), child("c-2")),
    (member("o-1", MemberRole.OTHER), child("c-1")),
])
def test_a_referral_needs_a_parent_and_a_child(members: tuple[FamilyMember, ...]) -> None:
    Story().refuses(ReferFamily(case_id="case-1", referral=family(*members)),
                    "at least one parent and one child")


def test_member_ids_must_be_unique() -> None:
    ref = family(parent("p-1"), child("c-1"), child("c-1", date(2016, 1, 1)))
    Story().refuses(ReferFamily(case_id="case-1", referral=ref),
                    "family member id\\(s\\) c-1 appear more than once")


def test_a_reason_about_someone_outside_the_family_is_refused() -> None:
    ref = family(parent(), child(), about="c-9")
    Story().refuses(ReferFamily(case_id="case-1", referral=ref),
                    "reason\\(s\\) refer to c-9, who is not among the family members")


def test_a_referral_needs_a_reason() -> None:
    ref = referral().model_copy(update={"reasons": ()})
    Story().refuses(ReferFamily(case_id="case-1", referral=ref),
                    "a referral needs at least one reason")


@pytest.mark.parametrize(("patch", "match"), [
    ({"members": [{"person_id": "p-1", "role": "parent", "name": {"erased": True},
                   "birth_date": "1985-03-14"}]}, "family member p-1 needs a name"),
    ({"members": [{"person_id": "p-1", "role": "parent", "name": "Anna",
                   "birth_date": {"erased": True}}]}, "family member p-1 needs a name and a birth"),
    ({"reasons": [{"about": "c-1", "life_domain": "education_work",
                   "description": {"erased": True}}]}, "the reason about c-1 needs a description"),
])
def test_erased_looking_values_in_a_referral_are_refused(patch: dict[str, Any],
                                                         match: str) -> None:
    raw = referral().model_dump(mode="json")
    if "members" in patch:
        raw["members"] = [*patch["members"], raw["members"][1]]
    else:
        raw.update(patch)
    ref = Referral.model_validate(raw)
    Story().refuses(ReferFamily(case_id="case-1", referral=ref), match)


def test_a_referral_for_another_case_is_refused() -> None:
    story = referred()
    story.refuses(refer_family("case-2", referral_id="ref-2"),
                  "this trajectory is case case-1, the referral is for case-2")


def test_a_referral_after_the_trajectory_ended_is_refused() -> None:
    story = ended_by_declined_intake()
    error = story.refuses(refer_family(referral_id="ref-2"), "has ended; refer the family "
                          "under a new case id")
    assert error.code == "ended"
    # The referral that opened it, resent, is still a harmless no-op.
    assert story.do(refer_family()) == []


# -- intake ----------------------------------------------------------------------------


def test_an_accepted_intake_records_the_family_assessment() -> None:
    story = referred()
    [event] = story.do(intake_accepted(), at=INTAKE_AT)
    assert isinstance(event, IntakeRecorded)
    assert event.outcome is IntakeOutcome.ACCEPTED
    assert [(a.subject, a.life_domain) for a in event.assessments] == [
        ("family:case-1", LifeDomain.EDUCATION_WORK)]
    assert story.state.phase is Phase.ACCEPTED
    assert story.state.intake_at == INTAKE_AT


def test_a_declined_intake_needs_a_reason() -> None:
    story = referred()
    story.refuses(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.DECLINED),
                  "a declined intake needs a reason")
    story.do(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.DECLINED, reason="geen match"))
    assert story.state.phase is Phase.ENDED
    assert story.state.end_reason == "intake declined"


def test_a_redirected_intake_needs_a_target() -> None:
    story = referred()
    story.refuses(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.REDIRECTED),
                  "a redirected intake needs redirected_to")
    [event] = story.do(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.REDIRECTED,
                                    redirected_to="Veilig Thuis"))
    assert isinstance(event, IntakeRecorded) and event.redirected_to == "Veilig Thuis"
    assert story.state.phase is Phase.ENDED


def test_an_accepted_intake_needs_the_assessment() -> None:
    referred().refuses(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.ACCEPTED),
                       "an accepted intake needs the assessment")


def test_each_life_domain_is_assessed_once() -> None:
    twice = AssessmentInput(life_domain=LifeDomain.HOUSING, strengths="s", problems="p")
    referred().refuses(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.ACCEPTED,
                                    assessments=(twice, twice)),
                       "assess each life domain once")


def test_the_intake_is_recorded_once() -> None:
    error = accepted().refuses(intake_accepted(), "cannot record the intake now: the "
                               "trajectory is accepted, this needs it to be referred")
    assert error.code == "wrong_phase"


# -- consent ---------------------------------------------------------------------------


def consent(subject: str, *given_by: str, consent_id: str = "cs-1",
            purpose: ConsentPurpose = ConsentPurpose.HELP,
            recipient: str | None = None) -> GiveConsent:
    return GiveConsent(actor=ACTOR, consent_id=consent_id, subject_id=subject,
                       purpose=purpose, recipient=recipient, given_by=given_by)


def share_consent(subject: str, *given_by: str, consent_id: str = "cs-share",
                  recipient: str = "Jeugd GGZ") -> GiveConsent:
    return consent(subject, *given_by, consent_id=consent_id,
                   purpose=ConsentPurpose.SHARE_INFORMATION, recipient=recipient)


def family_with_child_born(born: date, *parents: FamilyMember) -> Story:
    return accepted(family(*(parents or (parent("p-1"), parent("p-2"))), child("c-1", born)))


def test_under_12_the_parents_with_authority_consent() -> None:
    story = family_with_child_born(date(2014, 9, 2))  # 10 at intake
    error = story.refuses(consent("c-1", "c-1", "p-1"),
                          "consent for c-1 \\(age 10\\) must be given by p-1, p-2; missing: p-2")
    assert error.code == "consent_rule"
    [event] = story.do(consent("c-1", "p-2", "p-1"))
    assert isinstance(event, ConsentGiven)
    assert event.consent.given_by == ("p-1", "p-2")
    assert event.consent.given_at == INTAKE_AT


def test_a_parent_without_authority_need_not_consent() -> None:
    story = family_with_child_born(date(2014, 9, 2), parent("p-1"),
                                   parent("p-2", authority=False))
    assert len(story.do(consent("c-1", "p-1"))) == 1


def test_from_12_to_15_the_child_and_the_parents_consent() -> None:
    twelve_today = date(INTAKE_AT.year - 12, INTAKE_AT.month, INTAKE_AT.day)
    story = family_with_child_born(twelve_today, parent("p-1"))
    story.refuses(consent("c-1", "p-1"), "\\(age 12\\) must be given by c-1, p-1; missing: c-1")
    story.refuses(consent("c-1", "c-1"), "missing: p-1")
    assert len(story.do(consent("c-1", "c-1", "p-1"))) == 1


def test_at_15_the_parents_still_consent() -> None:
    sixteen_tomorrow = date(INTAKE_AT.year - 16, INTAKE_AT.month, INTAKE_AT.day + 1)
    story = family_with_child_born(sixteen_tomorrow, parent("p-1"))
    story.refuses(consent("c-1", "c-1"), "\\(age 15\\) .*missing: p-1")


def test_from_16_the_young_person_consents_alone() -> None:
    sixteen_today = date(INTAKE_AT.year - 16, INTAKE_AT.month, INTAKE_AT.day)
    story = family_with_child_born(sixteen_today, parent("p-1"))
    story.refuses(consent("c-1", "p-1"), "\\(age 16\\) must be given by c-1; missing: c-1")
    [event] = story.do(consent("c-1", "c-1"))
    assert isinstance(event, ConsentGiven) and event.consent.given_by == ("c-1",)


def test_a_parent_consents_for_themselves() -> None:
    story = accepted()
    story.refuses(consent("p-1", "c-1"), "must be given by p-1; missing: p-1")
    assert len(story.do(consent("p-1", "p-1"))) == 1


def test_consent_for_a_child_needs_a_known_parent_with_authority() -> None:
    story = family_with_child_born(date(2014, 9, 2), parent("p-1", authority=False))
    story.refuses(consent("c-1", "p-1"), "c-1 is 10: consent needs the parents with parental "
                  "authority, and none is known")


def test_consent_for_a_child_whose_birth_date_was_erased_is_refused() -> None:
    ref = Referral.model_validate({**referral().model_dump(mode="json"), "members": [
        parent().model_dump(mode="json"),
        {"person_id": "c-1", "role": "child", "name": "Sam", "birth_date": {"erased": True}}]})
    story = Story()
    story.state = evolve(TrajectoryState(), TrajectoryReferred(case_id="case-1", referral=ref),
                         REFERRED_AT)
    story.refuses(consent("c-1", "p-1"), "the birth date of c-1 was erased")


def test_consent_is_about_a_family_member() -> None:
    accepted().refuses(consent("c-9", "p-1"), "consent subject c-9 is not a member of this "
                       "family \\(members: p-1, c-1\\)")


def test_a_consent_id_is_recorded_once() -> None:
    story = accepted()
    story.do(consent("c-1", "p-1"))
    assert story.do(consent("c-1", "p-1")) == []  # a retry: nothing twice
    story.refuses(consent("c-1", "p-1", purpose=ConsentPurpose.SHARE_INFORMATION,
                          recipient="GGD"),
                  "consent cs-1 is already recorded with other details")


def test_consent_is_given_by_family_members() -> None:
    accepted().refuses(consent("c-1", "p-1", "buurman"),
                       "consent given by buurman is not a member of this family")


def test_each_goal_is_evaluated_once() -> None:
    story = planned()
    story.refuses(EvaluatePlan(actor=ACTOR, final=True, results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.ACHIEVED),
        GoalResult(goal_id="g-1", progress=GoalProgress.PROGRESSING))),
        "evaluate each goal once; more than once: g-1")


def test_consent_to_share_names_the_recipient() -> None:
    accepted().refuses(consent("c-1", "p-1", purpose=ConsentPurpose.SHARE_INFORMATION),
                       "needs the recipient organisation")


def test_consent_is_not_recorded_after_closure() -> None:
    closed().refuses(consent("c-1", "p-1", consent_id="cs-9"),
                     "cannot record consent now: the trajectory is aftercare")


def test_consent_can_be_withdrawn_once_by_who_gave_it() -> None:
    story = accepted()
    story.do(consent("c-1", "p-1"))
    later = INTAKE_AT + timedelta(days=3)
    assert story.do(WithdrawConsent(actor=ACTOR, consent_id="cs-1", withdrawn_by="p-1"),
                    at=later) == [ConsentWithdrawn(consent_id="cs-1", withdrawn_by="p-1")]
    assert story.state.consents[0].withdrawn_at == later
    assert story.do(WithdrawConsent(actor=ACTOR, consent_id="cs-1", withdrawn_by="p-1")) == []


def test_the_subject_may_withdraw_consent_others_gave() -> None:
    story = accepted()
    story.do(consent("c-1", "p-1"))
    assert len(story.do(WithdrawConsent(actor=ACTOR, consent_id="cs-1",
                                        withdrawn_by="c-1"))) == 1


def test_someone_who_did_not_give_consent_cannot_withdraw_it() -> None:
    story = accepted(family(parent("p-1"), parent("p-2", authority=False), child()))
    story.do(consent("c-1", "p-1"))
    story.refuses(WithdrawConsent(actor=ACTOR, consent_id="cs-1", withdrawn_by="p-2"),
                  "p-2 did not give consent cs-1 and is not its subject")


def test_withdrawing_an_unknown_consent_is_refused() -> None:
    accepted().refuses(WithdrawConsent(actor=ACTOR, consent_id="cs-9", withdrawn_by="p-1"),
                       "there is no consent cs-9 to withdraw")


def test_nothing_is_shared_outside_the_team_without_consent() -> None:
    story = accepted()
    error = story.refuses(ShareInformation(actor=ACTOR, recipient="Jeugd GGZ",
                                           subject_ids=("c-1",)),
                          "Jeugd GGZ is outside the team and there is no consent to share "
                          "information about c-1")
    assert error.code == "no_consent"


def test_sharing_inside_the_team_needs_no_consent() -> None:
    story = accepted()
    story.do(AddTeamMember(actor=ACTOR, member=professional("pro-2", "Jeugd GGZ")))
    [event] = story.do(ShareInformation(actor=ACTOR, recipient="Jeugd GGZ",
                                        subject_ids=("c-1", "p-1")))
    assert event == InformationShared(recipient="Jeugd GGZ", subject_ids=("c-1", "p-1"),
                                      inside_team=True)
    assert story.state.shared_with == ("Jeugd GGZ",)


def test_sharing_outside_the_team_with_consent_then_refused_after_withdrawal() -> None:
    story = accepted()
    story.do(share_consent("c-1", "p-1"))
    share = ShareInformation(actor=ACTOR, recipient="Jeugd GGZ", subject_ids=("c-1",))
    assert story.do(share) == [InformationShared(
        recipient="Jeugd GGZ", subject_ids=("c-1",), inside_team=False,
        consent_ids=("cs-share",))]
    story.do(WithdrawConsent(actor=ACTOR, consent_id="cs-share", withdrawn_by="p-1"))
    story.refuses(share, "no consent to share information about c-1")


@pytest.mark.parametrize("given", [
    share_consent("c-1", "p-1", recipient="Veilig Thuis"),  # another recipient
    consent("c-1", "p-1"),  # consent for help, not for sharing
    share_consent("p-1", "p-1"),  # about someone else
])
def test_consent_covers_one_subject_purpose_and_recipient(given: GiveConsent) -> None:
    story = accepted()
    story.do(given)
    story.refuses(ShareInformation(actor=ACTOR, recipient="Jeugd GGZ", subject_ids=("c-1",)),
                  "no consent to share information about c-1")


def test_sharing_names_each_subject_without_consent() -> None:
    story = accepted()
    story.do(share_consent("p-1", "p-1"))
    story.refuses(ShareInformation(actor=ACTOR, recipient="Jeugd GGZ",
                                   subject_ids=("p-1", "c-1")),
                  "information about c-1 with them")


def test_sharing_is_about_family_members() -> None:
    accepted().refuses(ShareInformation(actor=ACTOR, recipient="GGD", subject_ids=("x-1",)),
                       "information about x-1 is not a member of this family")


# -- waiting ---------------------------------------------------------------------------


def test_a_waiting_family_gets_a_named_contact() -> None:
    story = referred()
    assert story.do(AssignWaitingContact(actor=ACTOR, contact_id="pro-9",
                                         contact_name="Kim")) == [
        WaitingContactAssigned(subject=FAMILY, contact_id="pro-9", contact_name="Kim")]
    assert story.state.waiting_contact == "pro-9"


def test_a_waiting_contact_is_for_families_that_wait() -> None:
    in_care().refuses(AssignWaitingContact(actor=ACTOR, contact_id="pro-9", contact_name="Kim"),
                      "cannot assign a waiting contact now: the trajectory is in_care")


# -- team ------------------------------------------------------------------------------


def test_adding_the_same_team_member_twice_is_a_no_op() -> None:
    story = accepted()
    assert story.do(AddTeamMember(actor=ACTOR, member=relative())) == [
        TeamMemberAdded(member=relative())]
    assert story.do(AddTeamMember(actor=ACTOR, member=relative())) == []
    assert len(story.state.team) == 1


def test_a_team_member_id_is_taken_once() -> None:
    story = accepted()
    story.do(AddTeamMember(actor=ACTOR, member=relative("m-1")))
    story.refuses(AddTeamMember(actor=ACTOR, member=professional("m-1")),
                  "team member m-1 is already in the team")


def test_a_professional_needs_an_organisation() -> None:
    pro = TeamMember(member_id="pro-1", kind=TeamMemberKind.PROFESSIONAL, name="Fatima")
    accepted().refuses(AddTeamMember(actor=ACTOR, member=pro),
                       "professional pro-1 needs an organisation")


def test_a_mentor_is_chosen_by_a_family_member() -> None:
    def mentor(chosen_by: str) -> TeamMember:
        return TeamMember(member_id="jim-1", kind=TeamMemberKind.MENTOR, name="Dex",
                          chosen_by=chosen_by)
    story = accepted()
    story.refuses(AddTeamMember(actor=ACTOR, member=mentor("c-9")),
                  "the mentor was chosen by c-9 is not a member of this family")
    assert len(story.do(AddTeamMember(actor=ACTOR, member=mentor("c-1")))) == 1


def test_a_team_member_is_added_while_the_trajectory_is_open() -> None:
    ended_by_declined_intake().refuses(AddTeamMember(actor=ACTOR, member=relative()),
                                       "cannot add a team member now: the trajectory is ended")


def test_removing_a_team_member() -> None:
    story = with_coordinator()
    story.do(AddTeamMember(actor=ACTOR, member=relative()))
    assert story.do(RemoveTeamMember(actor=ACTOR, member_id="rel-1", reason="verhuisd")) == [
        TeamMemberRemoved(subject=FAMILY, member_id="rel-1", reason="verhuisd")]
    assert story.do(RemoveTeamMember(actor=ACTOR, member_id="rel-1", reason="verhuisd")) == []
    assert [t.member_id for t in story.state.team] == ["pro-1"]


def test_the_coordinator_cannot_be_removed() -> None:
    with_coordinator().refuses(RemoveTeamMember(actor=ACTOR, member_id="pro-1", reason="weg"),
                               "pro-1 is the care coordinator; hand over to a new coordinator")


def test_the_family_preference_names_someone_or_explains() -> None:
    story = accepted()
    story.refuses(RecordFamilyPreference(actor=ACTOR), "record whom the family prefers")
    assert story.do(RecordFamilyPreference(actor=ACTOR, note="geen voorkeur")) == [
        FamilyPreferenceRecorded(subject=FAMILY, preferred_member_id=None, note="geen voorkeur")]
    story.do(RecordFamilyPreference(actor=ACTOR, preferred_member_id="pro-1"))
    assert story.state.family_preference == "pro-1"


# -- coordinator -----------------------------------------------------------------------


def test_the_coordinator_is_a_professional_in_the_team() -> None:
    story = accepted()
    story.do(AddTeamMember(actor=ACTOR, member=relative()))
    for member_id in ("rel-1", "pro-9"):
        story.refuses(AppointCoordinator(actor=ACTOR, member_id=member_id),
                      f"{member_id} must be a professional in the family's team")


def test_a_coordinator_is_appointed_after_an_accepted_intake() -> None:
    story = referred()
    story.do(AddTeamMember(actor=ACTOR, member=professional()))
    story.refuses(AppointCoordinator(actor=ACTOR, member_id="pro-1"),
                  "cannot appoint a care coordinator now: the trajectory is referred")


def test_appointing_a_coordinator() -> None:
    story = accepted()
    story.do(AddTeamMember(actor=ACTOR, member=professional()))
    appoint = AppointCoordinator(actor=ACTOR, member_id="pro-1")
    assert story.do(appoint, caseload=14) == [CoordinatorAppointed(
        subject=FAMILY,
        member_id="pro-1", caseload_before=14, caseload_cap=15)]
    assert story.state.coordinator_id == "pro-1"
    assert story.do(appoint, caseload=15) == []  # already the coordinator


def test_a_handover_needs_a_note() -> None:
    story = with_coordinator()
    story.do(AddTeamMember(actor=ACTOR, member=professional("pro-2")))
    story.refuses(AppointCoordinator(actor=ACTOR, member_id="pro-2"),
                  "pro-1 is the care coordinator now: a handover needs a handover note")
    [event] = story.do(AppointCoordinator(actor=ACTOR, member_id="pro-2",
                                          handover_note="dossier besproken"))
    assert isinstance(event, CoordinatorAppointed)
    assert event.replaces == "pro-1" and event.handover_note == "dossier besproken"
    assert story.state.coordinator_history == ("pro-1", "pro-2")


def test_the_caseload_cap_is_enforced() -> None:
    story = accepted()
    story.do(AddTeamMember(actor=ACTOR, member=professional()))
    error = story.refuses(AppointCoordinator(actor=ACTOR, member_id="pro-1"),
                          "pro-1 already coordinates 15 trajectories, the region's cap is 15",
                          caseload=15)
    assert error.code == "caseload_cap"


def test_the_caseload_cap_comes_from_the_region_policy() -> None:
    story = accepted()
    story.policy = RegionPolicy(caseload_cap=3)
    story.do(AddTeamMember(actor=ACTOR, member=professional()))
    story.refuses(AppointCoordinator(actor=ACTOR, member_id="pro-1"), "cap is 3", caseload=3)


def test_a_manager_may_override_the_cap_and_that_is_recorded() -> None:
    story = accepted()
    story.do(AddTeamMember(actor=ACTOR, member=professional()))
    override = ManagerOverride(manager_id="mgr-1", reason="tijdelijk, collega met verlof")
    [event] = story.do(AppointCoordinator(actor=ACTOR, member_id="pro-1", override=override),
                       caseload=16)
    assert isinstance(event, CoordinatorAppointed)
    assert event.override == override
    assert (event.caseload_before, event.caseload_cap) == (16, 15)


def test_an_override_below_the_cap_is_not_recorded() -> None:
    story = accepted()
    story.do(AddTeamMember(actor=ACTOR, member=professional()))
    [event] = story.do(AppointCoordinator(
        actor=ACTOR, member_id="pro-1",
        override=ManagerOverride(manager_id="mgr-1", reason="niet nodig")), caseload=2)
    assert isinstance(event, CoordinatorAppointed) and event.override is None


@pytest.mark.parametrize(("preferred", "followed"), [(None, None), ("pro-1", True),
                                                     ("pro-2", False)])
def test_whether_the_family_preference_was_followed_is_recorded(
        preferred: str | None, followed: bool | None) -> None:
    story = accepted()
    story.do(AddTeamMember(actor=ACTOR, member=professional()))
    if preferred is not None:
        story.do(RecordFamilyPreference(actor=ACTOR, preferred_member_id=preferred))
    [event] = story.do(AppointCoordinator(actor=ACTOR, member_id="pro-1"), caseload=1)
    assert isinstance(event, CoordinatorAppointed)
    assert event.family_preference_followed is followed


# -- care start ------------------------------------------------------------------------


def test_care_starts_with_a_coordinator() -> None:
    story = accepted()
    story.refuses(StartCare(actor=ACTOR), "appoint a care coordinator before care starts")
    story = with_coordinator()
    assert story.do(StartCare(actor=ACTOR), at=CARE_AT) == [CareStarted()]
    assert story.state.phase is Phase.IN_CARE
    assert story.state.care_started_at == CARE_AT


def test_care_starts_after_an_accepted_intake() -> None:
    referred().refuses(StartCare(actor=ACTOR), "cannot start care now")
    in_care().refuses(StartCare(actor=ACTOR), "the trajectory is in_care")


# -- family group plan -----------------------------------------------------------------


def test_a_professional_plan_waits_for_the_family_group_plan_offer() -> None:
    story = in_care()
    story.refuses(AdoptPlan(actor=ACTOR, plan=plan()),
                  "offer the family a family group plan first \\(Jeugdwet 4.1.2\\)")
    story.do(OfferFamilyGroupPlan(actor=ACTOR))
    story.refuses(AdoptPlan(actor=ACTOR, plan=plan()),
                  "the family's offer to make its own plan is still open")


def test_the_offer_sets_the_term_and_is_made_once() -> None:
    story = in_care()
    assert story.do(OfferFamilyGroupPlan(actor=ACTOR)) == [
        FamilyGroupPlanOffered(deadline=CARE_AT + timedelta(weeks=6))]
    assert story.state.fgp_status is FamilyGroupPlanStatus.OFFERED
    assert story.do(OfferFamilyGroupPlan(actor=ACTOR)) == []


def test_the_offer_is_made_after_an_accepted_intake() -> None:
    referred().refuses(OfferFamilyGroupPlan(actor=ACTOR),
                       "cannot offer a family group plan now")


def test_no_offer_after_a_skip() -> None:
    skipped().refuses(OfferFamilyGroupPlan(actor=ACTOR),
                      "the family group plan is already skipped")


@pytest.mark.parametrize("reason", ["", "nee", "    kort     "])
def test_a_skip_needs_a_written_reason(reason: str) -> None:
    in_care().refuses(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
                                          reason=reason),
                      "skipping the family group plan offer needs a written reason")


def test_a_skip_starts_the_professional_plan_term() -> None:
    story = in_care()
    reason = "  Er zijn concrete bedreigingen voor de ontwikkeling.  "
    assert story.do(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.THREAT_TO_DEVELOPMENT,
                                        reason=reason)) == [FamilyGroupPlanSkipped(
        subject=FAMILY,
        ground=SkipGround.THREAT_TO_DEVELOPMENT, reason=reason.strip(),
        professional_plan_deadline=CARE_AT + timedelta(weeks=6))]
    assert story.state.fgp_status is FamilyGroupPlanStatus.SKIPPED
    story.refuses(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
                                      reason=reason), "already skipped")


def test_an_open_offer_may_still_be_skipped() -> None:
    story = in_care()
    story.do(OfferFamilyGroupPlan(actor=ACTOR))
    story.do(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.CHILD_INTEREST_HARMED,
                                 reason="Het belang van het kind komt in het gedrang."))
    assert story.state.fgp_status is FamilyGroupPlanStatus.SKIPPED


def test_a_skip_needs_an_accepted_intake() -> None:
    referred().refuses(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
                                           reason="De ouders willen het niet."),
                       "cannot skip the family group plan offer now")


def test_a_family_group_plan_is_submitted_while_the_offer_is_open() -> None:
    story = in_care()
    story.refuses(SubmitFamilyGroupPlan(actor=ACTOR, plan=plan()),
                  "a family group plan can be submitted while the offer is open; it is "
                  "not_offered")
    story.do(OfferFamilyGroupPlan(actor=ACTOR))
    [event] = story.do(SubmitFamilyGroupPlan(actor=ACTOR, plan=plan()), at=PLAN_AT)
    assert event == PlanAdopted(plan_version=1, source=PlanSource.FAMILY_GROUP_PLAN,
                                plan=plan())
    assert story.state.fgp_status is FamilyGroupPlanStatus.SUBMITTED
    assert story.state.first_plan_at == PLAN_AT
    story.refuses(SubmitFamilyGroupPlan(actor=ACTOR, plan=plan()), "it is submitted")


def test_a_submitted_family_group_plan_is_validated() -> None:
    story = in_care()
    story.do(OfferFamilyGroupPlan(actor=ACTOR))
    story.refuses(SubmitFamilyGroupPlan(actor=ACTOR, plan=plan(evaluation_date=None)),
                  "an active plan needs an evaluation date")


def test_the_family_declaring_no_plan_starts_the_professional_term() -> None:
    story = in_care()
    story.refuses(DeclareNoFamilyGroupPlan(actor=ACTOR),
                  "there is no open family group plan offer")
    story.do(OfferFamilyGroupPlan(actor=ACTOR))
    declared_at = CARE_AT + timedelta(days=10)
    assert story.do(DeclareNoFamilyGroupPlan(actor=ACTOR), at=declared_at) == [
        FamilyGroupPlanLapsed(by_family=True,
                              professional_plan_deadline=declared_at + timedelta(weeks=6))]
    assert story.state.fgp_status is FamilyGroupPlanStatus.LAPSED
    assert story.state.professional_plan_deadline == declared_at + timedelta(weeks=6)
    [adopted] = story.do(AdoptPlan(actor=ACTOR, plan=plan()))
    assert isinstance(adopted, PlanAdopted) and adopted.source is PlanSource.PROFESSIONAL


def test_a_professional_plan_is_adopted_once() -> None:
    story = planned()
    assert story.state.plan == plan() and story.state.plan_version == 1
    story.refuses(AdoptPlan(actor=ACTOR, plan=plan()), "there is a plan already; adjust it")


def test_a_plan_is_adopted_after_an_accepted_intake() -> None:
    referred().refuses(AdoptPlan(actor=ACTOR, plan=plan()), "cannot adopt a plan now")


# -- plan validation -------------------------------------------------------------------


@pytest.mark.parametrize(("bad", "match"), [
    (FamilyPlan(goals=(), evaluation_date=EVALUATION_DAY), "a plan needs at least one family goal"),
    (plan(goal("g-1", "x-1")), "goal g-1 is for x-1 is not a member of this family"),
    (plan(goal("g-1"), goal("g-1", "p-1")), "each goal needs its own goal_id"),
    (plan(agreements=(agreement(owner=None),)), "agreement a-1 needs an owner: who does it"),
    (plan(agreements=(agreement(due=None),)), "agreement a-1 needs a due date: by when"),
    (plan(agreements=(agreement(owner="x-9"),)),
     "owner x-9 is neither a team member nor a family member"),
    (plan(evaluation_date=None), "an active plan needs an evaluation date"),
    (plan(evaluation_date=PLAN_AT.date()), f"the evaluation date {PLAN_AT.date()} must be in "
     "the future"),
    (plan(evaluation_date=date(2025, 1, 1)), "must be in the future"),
])
def test_a_plan_is_refused_when(bad: FamilyPlan, match: str) -> None:
    skipped().refuses(AdoptPlan(actor=ACTOR, plan=bad), match, at=PLAN_AT)


def test_an_agreement_may_be_owned_by_a_team_or_family_member() -> None:
    ok = plan(agreements=(agreement("a-1", "pro-1"), agreement("a-2", "p-1")),
              evaluation_date=(PLAN_AT + timedelta(days=1)).date())
    assert len(skipped().do(AdoptPlan(actor=ACTOR, plan=ok), at=PLAN_AT)) == 1


# -- carrying out the plan -------------------------------------------------------------


def test_progress_is_reported_on_a_goal_in_the_plan() -> None:
    story = planned()
    [event] = story.do(ReportProgress(actor=ACTOR, goal_id="g-1", reported_by="pro-1",
                                      note="3 dagen op school"))
    assert isinstance(event, ProgressReported)
    assert event.note.person_id == "c-1"
    story.refuses(ReportProgress(actor=ACTOR, goal_id="g-9", reported_by="pro-1", note="x"),
                  "goal g-9 is not in plan version 1 \\(goals: g-1\\)")


def test_progress_is_reported_during_care() -> None:
    accepted().refuses(ReportProgress(actor=ACTOR, goal_id="g-1", reported_by="pro-1",
                                      note="x"), "cannot report progress now")
    story = in_care()
    story.refuses(ReportProgress(actor=ACTOR, goal_id="g-1", reported_by="pro-1", note="x"),
                  "there is no active plan")


def test_completing_an_agreement_once() -> None:
    story = planned(plan(agreements=(agreement(),)))
    story.refuses(CompleteAgreement(actor=ACTOR, agreement_id="a-9"),
                  "agreement a-9 is not in the current plan")
    assert story.do(CompleteAgreement(actor=ACTOR, agreement_id="a-1")) == [
        AgreementCompleted(agreement_id="a-1")]
    assert story.do(CompleteAgreement(actor=ACTOR, agreement_id="a-1")) == []


# -- evaluation and adjustment ---------------------------------------------------------


def two_goal_plan() -> FamilyPlan:
    return plan(goal("g-1"), goal("g-2", "p-1"))


def test_an_evaluation_covers_every_goal() -> None:
    story = planned(two_goal_plan())
    story.refuses(EvaluatePlan(actor=ACTOR, next_evaluation_date=date(2025, 7, 1), results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.PROGRESSING),)),
        "an evaluation covers every goal; missing: g-2", at=EVALUATED_AT)


def test_an_evaluation_is_about_goals_in_the_plan() -> None:
    planned().refuses(EvaluatePlan(actor=ACTOR, final=True, results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.ACHIEVED),
        GoalResult(goal_id="g-7", progress=GoalProgress.ACHIEVED))), "goal g-7 is not in plan")


def test_an_evaluation_sets_the_next_date_unless_final() -> None:
    story = planned()
    results = (GoalResult(goal_id="g-1", progress=GoalProgress.NO_PROGRESS),)
    story.refuses(EvaluatePlan(actor=ACTOR, results=results),
                  "set the next evaluation date", at=EVALUATED_AT)
    story.refuses(EvaluatePlan(actor=ACTOR, results=results,
                               next_evaluation_date=EVALUATED_AT.date()),
                  "the next evaluation date must be in the future")
    [event] = story.do(EvaluatePlan(actor=ACTOR, results=results,
                                    next_evaluation_date=date(2025, 7, 1)))
    assert isinstance(event, PlanEvaluated)
    assert event.plan_version == 1 and not event.final
    assert event.results[0].person_id == "c-1"
    assert story.state.plan is not None
    assert story.state.plan.evaluation_date == date(2025, 7, 1)
    assert story.state.evaluated_dates == (EVALUATION_DAY,)
    assert story.state.no_progress_streak == 1
    assert not story.state.final_evaluation_done


def test_a_final_evaluation_needs_no_next_date() -> None:
    story = planned()
    [event] = story.do(EvaluatePlan(actor=ACTOR, final=True, next_evaluation_date=date(
        2025, 7, 1), results=(GoalResult(goal_id="g-1", progress=GoalProgress.ACHIEVED),)),
        at=EVALUATED_AT)
    assert isinstance(event, PlanEvaluated)
    assert event.final and event.next_evaluation_date is None
    assert story.state.final_evaluation_done


def test_an_evaluation_is_during_care() -> None:
    story = accepted()
    story.do(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
                                 reason="De ouders willen geen eigen plan."))
    story.do(AdoptPlan(actor=ACTOR, plan=plan()))
    story.refuses(EvaluatePlan(actor=ACTOR, final=True, results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.ACHIEVED),)),
        "cannot evaluate the plan now: the trajectory is accepted")
    in_care().refuses(EvaluatePlan(actor=ACTOR, final=True, results=()),
                      "there is no plan to evaluate")


def test_a_plan_is_adjusted_only_after_an_evaluation() -> None:
    in_care().refuses(AdjustPlan(actor=ACTOR, plan=plan()), "there is no plan to adjust yet")
    story = planned()
    story.refuses(AdjustPlan(actor=ACTOR, plan=two_goal_plan()),
                  "a plan is adjusted after an evaluation; evaluate it first")
    story.do(EvaluatePlan(actor=ACTOR, next_evaluation_date=date(2025, 7, 1), results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.PROGRESSING),)), at=EVALUATED_AT)
    adjusted = plan(goal("g-1"), goal("g-2", "p-1"), evaluation_date=date(2025, 8, 1))
    story.refuses(AdjustPlan(actor=ACTOR, plan=FamilyPlan(goals=())),
                  "a plan needs at least one family goal")
    assert story.do(AdjustPlan(actor=ACTOR, plan=adjusted)) == [
        PlanAdopted(plan_version=2, source=PlanSource.ADJUSTMENT, plan=adjusted)]
    assert story.state.first_plan_at == PLAN_AT
    # The new version is evaluated before it is adjusted again.
    story.refuses(AdjustPlan(actor=ACTOR, plan=adjusted), "evaluate it first")


# -- written copy ----------------------------------------------------------------------


def test_a_written_copy_is_requested_and_provided() -> None:
    in_care().refuses(RequestWrittenCopy(actor=ACTOR, requested_by="p-1"),
                      "there is no plan to copy yet")
    story = planned()
    requested_at = PLAN_AT + timedelta(days=1)
    assert story.do(RequestWrittenCopy(actor=ACTOR, requested_by="p-1"), at=requested_at) == [
        WrittenCopyRequested(requested_by="p-1", due=requested_at + timedelta(days=14))]
    assert story.do(RequestWrittenCopy(actor=ACTOR, requested_by="p-1")) == []
    assert story.do(ProvideWrittenCopy(actor=ACTOR)) == [WrittenCopyProvided(plan_version=1)]
    assert story.state.written_copy_due is None
    assert story.do(ProvideWrittenCopy(actor=ACTOR)) == []


# -- manager review and closure --------------------------------------------------------


def test_a_manager_review_is_not_by_the_coordinator() -> None:
    story = in_care()
    story.refuses(RecordManagerReview(actor=ACTOR, manager_id="pro-1",
                                      decision=ManagerReviewDecision.AGREE_TO_CLOSE, note="ok"),
                  "the review is by a manager, not by the family's own coordinator")
    assert story.do(RecordManagerReview(actor=ACTOR, manager_id="mgr-1",
                                        decision=ManagerReviewDecision.CONTINUE,
                                        note="blijf proberen")) == [ManagerReviewRecorded(
        subject=FAMILY,
        manager_id="mgr-1", decision=ManagerReviewDecision.CONTINUE, note="blijf proberen")]
    assert story.state.manager_review is ManagerReviewDecision.CONTINUE


def test_a_manager_review_is_of_an_open_case() -> None:
    referred().refuses(RecordManagerReview(actor=ACTOR, manager_id="mgr-1",
                                           decision=ManagerReviewDecision.CONTINUE, note="x"),
                       "cannot record a manager's review now")


def test_closure_needs_a_final_evaluation() -> None:
    error = planned().refuses(CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED),
                              "closes only after a final evaluation")
    assert error.code == "no_final_evaluation"


def test_closure_is_from_care() -> None:
    accepted().refuses(CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED),
                       "cannot close the trajectory now: the trajectory is accepted")


def test_closing_with_goals_achieved_starts_aftercare() -> None:
    story = finally_evaluated()
    [event] = story.do(CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED),
                       at=CLOSED_AT)
    assert isinstance(event, TrajectoryClosed)
    assert event.aftercare_ends_at == add_months(CLOSED_AT, 6)
    assert event.check_ins_due == tuple(CLOSED_AT + timedelta(weeks=6 * i) for i in (1, 2, 3, 4))
    assert story.state.phase is Phase.AFTERCARE
    assert story.state.closed_at == CLOSED_AT
    assert [c.status for c in story.state.check_ins] == [CheckInStatus.SCHEDULED] * 4


@pytest.mark.parametrize("decision", [None, ManagerReviewDecision.CONTINUE,
                                      ManagerReviewDecision.TRANSFER_TO_CHILD_PROTECTION])
def test_a_family_that_withdrew_is_not_simply_let_go(
        decision: ManagerReviewDecision | None) -> None:
    story = finally_evaluated()
    if decision is not None:
        story.do(RecordManagerReview(actor=ACTOR, manager_id="mgr-1", decision=decision,
                                     note="besproken"))
    error = story.refuses(CloseTrajectory(actor=ACTOR, reason=ClosureReason.FAMILY_WITHDREW),
                          "a manager must review the case and agree to close first")
    assert error.code == "needs_manager_review"


def test_a_family_that_withdrew_closes_once_a_manager_agrees() -> None:
    story = finally_evaluated()
    story.do(RecordManagerReview(actor=ACTOR, manager_id="mgr-1",
                                 decision=ManagerReviewDecision.AGREE_TO_CLOSE,
                                 note="alle pogingen gedaan"))
    [event] = story.do(CloseTrajectory(actor=ACTOR, reason=ClosureReason.FAMILY_WITHDREW),
                       at=CLOSED_AT)
    assert isinstance(event, TrajectoryClosed) and event.check_ins_due


def test_moving_away_names_the_new_municipality_and_has_no_aftercare() -> None:
    story = finally_evaluated()
    story.refuses(CloseTrajectory(actor=ACTOR, reason=ClosureReason.MOVED_AWAY),
                  "record the new municipality")
    [event] = story.do(CloseTrajectory(actor=ACTOR, reason=ClosureReason.MOVED_AWAY,
                                       new_municipality="Schagen"), at=CLOSED_AT)
    assert isinstance(event, TrajectoryClosed)
    assert event.new_municipality == "Schagen"
    assert event.aftercare_ends_at == CLOSED_AT and event.check_ins_due == ()


def test_a_transfer_to_child_protection_has_no_aftercare() -> None:
    [event] = finally_evaluated().do(CloseTrajectory(
        actor=ACTOR, reason=ClosureReason.CHILD_PROTECTION), at=CLOSED_AT)
    assert isinstance(event, TrajectoryClosed)
    assert event.aftercare_ends_at == CLOSED_AT and event.check_ins_due == ()


# -- the Big 5 -------------------------------------------------------------------------

SEVENTEEN = date(2008, 1, 10)  # 17 on the closing day
SIXTEEN = date(2008, 6, 10)  # 16 on the closing day


def young_family(born: date = SEVENTEEN) -> Story:
    return finally_evaluated(family(parent(), child("c-1", born)))


def close_with(*checks: Big5Check) -> CloseTrajectory:
    return CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED, big5=checks)


def test_a_young_person_of_17_needs_the_big5_before_closing() -> None:
    error = young_family().refuses(close_with(), "c-1 is 17: the Big 5 .* must be in order",
                                   at=CLOSED_AT)
    assert error.code == "big5"


def test_the_big5_in_order_allows_closing() -> None:
    story = young_family()
    check = all_arranged("c-1", "Oma Jansen",
                         income=Big5Item(status=Big5Status.ON_TRACK),
                         housing=Big5Item(status=Big5Status.JUSTIFIED_EXCEPTION,
                                          justification="woont nog thuis, bewust gekozen"))
    [event] = story.do(close_with(check), at=CLOSED_AT)
    assert isinstance(event, TrajectoryClosed) and event.big5 == (check,)


@pytest.mark.parametrize("item", ["support", "housing", "school_work", "income", "wellbeing"])
def test_a_big5_exception_needs_a_justification(item: str) -> None:
    exception = {item: Big5Item(status=Big5Status.JUSTIFIED_EXCEPTION)}
    young_family().refuses(close_with(all_arranged("c-1", "Oma Jansen", **exception)),
                           f"Big 5 for c-1: {item} is an exception and needs a justification",
                           at=CLOSED_AT)


def test_the_big5_names_a_supporting_adult() -> None:
    story = young_family()
    story.refuses(close_with(all_arranged("c-1")), "name at least one adult who is always "
                  "there", at=CLOSED_AT)
    erased = all_arranged("c-1").model_copy(update={"supporting_adults": Erased()})
    story.refuses(close_with(erased), "name at least one adult", at=CLOSED_AT)


def test_the_big5_is_about_family_members() -> None:
    young_family().refuses(close_with(all_arranged("c-1", "Oma"), all_arranged("x-1", "Oma")),
                           "Big 5 check for x-1 is not a member", at=CLOSED_AT)


def test_the_big5_is_not_asked_for_parents_or_younger_children() -> None:
    story = young_family(SIXTEEN)  # the parent is 40, the child 16
    assert len(story.do(close_with(), at=CLOSED_AT)) == 1


def test_the_big5_age_is_policy() -> None:
    story = young_family()
    story.policy = RegionPolicy(big5_min_age=18)
    assert len(story.do(close_with(), at=CLOSED_AT)) == 1


# -- aftercare -------------------------------------------------------------------------


def test_aftercare_check_ins_are_recorded_once() -> None:
    story = closed()
    check_in = RecordCheckIn(actor=ACTOR, check_in=0, by="pro-1", note="gaat goed")
    assert story.do(check_in, at=CLOSED_AT + timedelta(weeks=6)) == [
        CheckInRecorded(subject=FAMILY, check_in=0, by="pro-1", note="gaat goed")]
    assert story.state.check_ins[0].status is CheckInStatus.DONE
    assert story.do(check_in) == []
    story.refuses(RecordCheckIn(actor=ACTOR, check_in=9, by="pro-1", note="x"),
                  "there is no check-in 9; the scheduled ones are 0 to 3")


def test_check_ins_are_for_aftercare() -> None:
    in_care().refuses(RecordCheckIn(actor=ACTOR, check_in=0, by="pro-1", note="x"),
                      "cannot record an aftercare check-in now")


# -- partner signals -------------------------------------------------------------------


def signal(key: str = "sig-1", kind: SignalKind = SignalKind.RELAPSE) -> PartnerSignal:
    return PartnerSignal(idempotency_key=key, organisation="Basisschool De Linde", kind=kind,
                         description="Sam verzuimt weer")


def test_a_relapse_inside_aftercare_reopens_the_trajectory_with_its_last_plan() -> None:
    story = closed()
    at = CLOSED_AT + timedelta(days=60)
    [event] = story.do(signal(), at=at)
    assert event == TrajectoryReopened(
        idempotency_key="sig-1", organisation="Basisschool De Linde",
        subject="family:case-1", description="Sam verzuimt weer", plan_version=1,
        evaluation_date=(at + timedelta(weeks=6)).date())
    state = story.state
    assert state.phase is Phase.IN_CARE and state.reopen_count == 1
    assert state.plan is not None and state.plan.goals == plan().goals
    assert state.plan.evaluation_date == (at + timedelta(weeks=6)).date()
    assert not state.final_evaluation_done and state.check_ins == ()
    # Resent: a no-op. Closing again needs a new final evaluation.
    assert story.do(signal()) == []
    story.refuses(CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED),
                  "final evaluation")


def test_a_relapse_after_the_aftercare_window_is_only_recorded() -> None:
    story = closed()
    ends = story.state.aftercare_ends_at
    assert ends is not None
    [event] = story.do(signal(), at=ends)
    assert isinstance(event, PartnerSignalRecorded) and not event.acted_on
    assert story.state.phase is Phase.AFTERCARE


def test_a_relapse_during_care_is_only_recorded() -> None:
    story = planned()
    [event] = story.do(signal())
    assert event == PartnerSignalRecorded(
        idempotency_key="sig-1", organisation="Basisschool De Linde", kind="relapse",
        subject="family:case-1", description="Sam verzuimt weer", acted_on=False,
        note="noted for the care coordinator")
    assert story.state.phase is Phase.IN_CARE and story.state.reopen_count == 0
    assert story.do(signal()) == []


def test_a_concern_in_aftercare_is_noted_for_the_check_ins() -> None:
    [event] = closed().do(signal(kind=SignalKind.CONCERN), at=CLOSED_AT + timedelta(days=1))
    assert isinstance(event, PartnerSignalRecorded)
    assert event.note == "noted for the aftercare check-ins"


def test_a_signal_after_the_trajectory_ended_points_to_a_new_referral() -> None:
    [event] = ended_by_declined_intake().do(signal())
    assert isinstance(event, PartnerSignalRecorded)
    assert "refer the family again" in event.note
