"""The whole trajectory lifecycle on the time-skipping test server and real PostgreSQL."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.closure import Big5Check, Big5Item, Big5Status, ClosureReason
from domain.commands import (
    AddTeamMember,
    AdjustPlan,
    AdoptPlan,
    AppointCoordinator,
    AssessmentInput,
    AssignWaitingContact,
    CaseworkerCommand,
    CloseTrajectory,
    CompleteAgreement,
    EvaluatePlan,
    GiveConsent,
    GoalResult,
    OfferFamilyGroupPlan,
    PartnerSignal,
    RecordCheckIn,
    RecordFamilyPreference,
    RecordIntake,
    ReferFamily,
    SignalKind,
    SkipFamilyGroupPlan,
    StartCare,
    SubmitFamilyGroupPlan,
)
from domain.consent import ConsentPurpose
from domain.events import IntakeOutcome
from domain.family import FamilyMember, LifeDomain, MemberRole
from domain.personal import without_personal_text
from domain.plan import Agreement, FamilyPlan, Goal, GoalProgress, SkipGround
from domain.stagnation import WaitingNormIntake
from domain.team import TeamMember, TeamMemberKind
from domain.trajectory import CheckInStatus, FamilyGroupPlanStatus, Phase, TrajectoryState, fold
from infra.event_store import PostgresEventStore
from tests.factories import refer_family
from workflows.client import send_command
from workflows.trajectory import (
    CommandResult,
    FamilyTrajectoryWorkflow,
    ReferInput,
    StartTrajectoryInput,
    workflow_id_for,
)

HISTORIES = Path(__file__).parent.parent / "histories"
Handle = WorkflowHandle[FamilyTrajectoryWorkflow, TrajectoryState]
ACTOR = "coordinator:pro-1"


class Case:
    """Drives one trajectory through its updates, as a caseworker would."""

    def __init__(self, env: WorkflowEnvironment, handle: Handle, case_id: str) -> None:
        self.env = env
        self.handle = handle
        self.case_id = case_id

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def today(self) -> date:
        return (await self.now()).date()

    async def do(self, command: CaseworkerCommand) -> CommandResult:
        return await send_command(self.handle, command)

    async def refused(self, command: CaseworkerCommand) -> str:
        """The caseworker's message of a refused command."""
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await send_command(self.handle, command)
        return str(info.value.cause)

    async def state(self) -> TrajectoryState:
        return await self.handle.query(FamilyTrajectoryWorkflow.state)

    async def sleep(self, duration: timedelta) -> None:
        await self.env.sleep(duration)


async def open_case(env: WorkflowEnvironment, worker: Worker, case_id: str,
                    command: ReferFamily | None = None, **start: Any) -> Case:
    handle = await env.client.start_workflow(
        FamilyTrajectoryWorkflow.run, StartTrajectoryInput(case_id=case_id, **start),
        id=workflow_id_for(case_id), task_queue=worker.task_queue)
    await handle.execute_update(FamilyTrajectoryWorkflow.refer, ReferInput(
        command=command or refer_family(case_id), actor="partner:school"))
    return Case(env, handle, case_id)


def family_with_young_adult(case_id: str, today: date) -> ReferFamily:
    """Parent, a child of 12 and a young person of 16 who is 17 or older by closure (the
    Big 5 applies). Ages count from the test server's clock, which moves on over a
    session, so the birth dates do too."""
    base = refer_family(case_id)
    parent, child = base.referral.members
    year = timedelta(days=365.25)
    members = (
        parent.model_copy(update={"birth_date": today - 41 * year}),
        child.model_copy(update={"birth_date": today - 12 * year}),
        FamilyMember(person_id="y-1", role=MemberRole.CHILD, name="Lotte de Vries",
                     birth_date=today - 16 * year - timedelta(days=200)),
    )
    return base.model_copy(update={"referral": base.referral.model_copy(
        update={"members": members})})


def plan(today: date, *, evaluate_in_days: int = 42, agreement_due_in_days: int = 14
         ) -> FamilyPlan:
    return FamilyPlan(
        goals=(
            Goal(goal_id="g-school", person_id="c-1", life_domain=LifeDomain.EDUCATION_WORK,
                 description="Sam gaat elke dag naar school",
                 criterion="minder dan 2 dagen verzuim per maand"),
        ),
        agreements=(
            Agreement(agreement_id="a-1", action="gesprek met mentor plannen", owner="pro-1",
                      due=today + timedelta(days=agreement_due_in_days)),
        ),
        evaluation_date=today + timedelta(days=evaluate_in_days),
    )


async def accept_and_staff(case: Case) -> None:
    """Intake accepted, team with coordinator and a JIM mentor, care started."""
    await case.do(RecordIntake(
        actor=ACTOR, outcome=IntakeOutcome.ACCEPTED, assessments=(AssessmentInput(
            life_domain=LifeDomain.EDUCATION_WORK, strengths="betrokken moeder",
            problems="schoolverzuim"),)))
    await case.do(AddTeamMember(
        actor=ACTOR, member=TeamMember(member_id="pro-1", kind=TeamMemberKind.PROFESSIONAL,
                                       name="Ilse Bakker", organisation="Wijkteam Noord")))
    await case.do(AddTeamMember(
        actor=ACTOR, member=TeamMember(member_id="jim-1", kind=TeamMemberKind.MENTOR,
                                       name="Tante Mar", chosen_by="c-1")))
    await case.do(RecordFamilyPreference(actor=ACTOR, preferred_member_id="pro-1"))
    await case.do(AppointCoordinator(actor="manager:m-1", member_id="pro-1"))
    await case.do(AssignWaitingContact(actor=ACTOR, contact_id="pro-1",
                                       contact_name="Ilse Bakker"))
    await case.do(StartCare(actor=ACTOR))


def big5(person_id: str) -> Big5Check:
    ok = Big5Item(status=Big5Status.ARRANGED)
    return Big5Check(person_id=person_id, support=ok, housing=ok,
                     school_work=Big5Item(status=Big5Status.ON_TRACK), income=ok,
                     wellbeing=Big5Item(status=Big5Status.JUSTIFIED_EXCEPTION,
                                        justification="GGZ-traject loopt al"),
                     supporting_adults=("Tante Mar",))


async def types_in_store(store: PostgresEventStore, case_id: str) -> list[str]:
    return [e.type for e in await store.read_stream(f"trajectory-{case_id}")]


async def test_full_trajectory_over_years_with_relapse_and_aftercare(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    env = time_skipping_env
    today = (await env.get_current_time()).date()
    case = await open_case(env, worker, "life-1", family_with_young_adult("life-1", today))
    await accept_and_staff(case)
    await case.do(GiveConsent(
        actor=ACTOR, consent_id="cons-1", subject_id="c-1", purpose=ConsentPurpose.HELP,
        given_by=("p-1", "c-1")))

    # The family makes its own plan first (Jeugdwet 4.1.2); it becomes the plan.
    await case.do(OfferFamilyGroupPlan(actor=ACTOR))
    await case.do(SubmitFamilyGroupPlan(actor="family", plan=plan(today)))
    state = await case.state()
    assert state.fgp_status is FamilyGroupPlanStatus.SUBMITTED
    assert state.plan_version == 1

    # Cycle 1: the agreement slips past its due date, a timer records the stagnation.
    await case.sleep(timedelta(days=16))
    state = await case.state()
    assert [f.rule for f in state.findings] == ["agreement_overdue"]
    await case.do(CompleteAgreement(actor=ACTOR, agreement_id="a-1"))
    today = await case.today()
    await case.do(EvaluatePlan(
        actor=ACTOR, results=(GoalResult(goal_id="g-school", progress=GoalProgress.PROGRESSING),),
        next_evaluation_date=today + timedelta(days=90)))
    await case.do(AdjustPlan(
        actor=ACTOR, plan=plan(today, evaluate_in_days=500, agreement_due_in_days=30)))
    await case.do(CompleteAgreement(actor=ACTOR, agreement_id="a-1"))

    # Cycle 2 runs well over a year, then closure with the Big 5 for the young person.
    await case.sleep(timedelta(days=490))
    assert "final evaluation" in await case.refused(CloseTrajectory(
            actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED, big5=(big5("y-1"),)))
    await case.do(EvaluatePlan(
        actor=ACTOR, results=(GoalResult(goal_id="g-school", progress=GoalProgress.ACHIEVED),),
        final=True))
    assert "y-1 is 17" in await case.refused(CloseTrajectory(
            actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED))
    await case.do(CloseTrajectory(
        actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED, big5=(big5("y-1"),)))
    state = await case.state()
    assert state.phase is Phase.AFTERCARE
    assert len(state.check_ins) == 4  # every 6 weeks within 6 months

    # Aftercare: the first check-in falls due and is done.
    await case.sleep(timedelta(weeks=6, days=1))
    assert (await case.state()).check_ins[0].status is CheckInStatus.DUE
    await case.do(RecordCheckIn(actor=ACTOR, check_in=0, by="pro-1", note="gaat goed"))

    # A relapse inside the window reopens the same trajectory, once, with its last plan.
    relapse = PartnerSignal(idempotency_key="ggd-77", organisation="GGD", kind=SignalKind.RELAPSE,
                            description="opnieuw veel verzuim")
    await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal, relapse)
    await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal, relapse)
    await case.sleep(timedelta(hours=1))
    state = await case.state()
    assert state.phase is Phase.IN_CARE
    assert state.reopen_count == 1
    assert state.plan_version == 2

    # Second closure after a new final evaluation, then aftercare runs out.
    await case.do(EvaluatePlan(
        actor=ACTOR, results=(GoalResult(goal_id="g-school", progress=GoalProgress.ACHIEVED),),
        final=True))
    await case.do(CloseTrajectory(
        actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED, big5=(big5("y-1"),)))
    final = await case.handle.result()  # time skips through the whole aftercare period

    assert final.phase is Phase.ENDED
    assert all(c.status is CheckInStatus.MISSED for c in final.check_ins)
    stored = await pg_store.read_stream("trajectory-life-1")
    assert without_personal_text(fold(stored)) == final
    assert [e.version for e in stored] == list(range(1, len(stored) + 1))
    kinds = [e.type for e in stored]
    assert kinds.count("TrajectoryReopened") == 1
    assert kinds.count("TrajectoryClosed") == 2
    assert kinds[-1] == "AftercareEnded"
    assert "PartnerSignalRecorded" not in kinds  # the resent relapse signal changed nothing
    if os.environ.get("REGIE_RECORD_HISTORIES"):
        history = await case.handle.fetch_history()
        (HISTORIES / "full_lifecycle.json").write_text(history.to_json())


async def test_family_group_plan_that_never_comes_leads_to_a_stagnation(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "fgp-lapse")
    await accept_and_staff(case)
    await case.do(OfferFamilyGroupPlan(actor=ACTOR))
    today = await case.today()
    refusal = await case.refused(AdoptPlan(actor=ACTOR, plan=plan(today)))
    assert "still open" in refusal
    await case.sleep(timedelta(weeks=6, hours=1))
    assert (await case.state()).fgp_status is FamilyGroupPlanStatus.LAPSED
    await case.sleep(timedelta(weeks=6))
    state = await case.state()
    assert [f.rule for f in state.findings] == ["plan_not_adopted"]
    await case.do(AdoptPlan(actor=ACTOR, plan=plan(await case.today())))
    await case.sleep(timedelta(seconds=5))  # the run loop closes the episode
    kinds = await types_in_store(pg_store, "fgp-lapse")
    assert [k for k in kinds if not k.startswith("Escalation")] == [
        "TrajectoryReferred", "IntakeRecorded", "TeamMemberAdded", "TeamMemberAdded",
        "FamilyPreferenceRecorded", "CoordinatorAppointed", "WaitingContactAssigned",
        "CareStarted", "FamilyGroupPlanOffered", "FamilyGroupPlanLapsed", "StagnationFound",
        "PlanAdopted"]
    # The stagnation opened an episode; the adopted plan cleared its cause and closed it.
    assert [k for k in kinds if k in ("EscalationOpened", "EscalationClosed")] == [
        "EscalationOpened", "EscalationClosed"]


async def test_skipping_the_family_group_plan_needs_a_ground_and_reason(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "fgp-skip")
    await accept_and_staff(case)
    refusal = await case.refused(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
                                                     reason=""))
    assert "written reason" in refusal
    await case.do(SkipFamilyGroupPlan(
        actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
        reason="Ouders willen geen familiegroepsplan; besproken op 3 november."))
    result = await case.do(AdoptPlan(actor=ACTOR, plan=plan(await case.today())))
    assert result.recorded
    state = await case.state()
    assert state.fgp_status is FamilyGroupPlanStatus.SKIPPED
    assert state.plan_source == "professional"


async def test_waiting_norm_exceeded_is_recorded_once(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "wait-1")
    await case.sleep(timedelta(weeks=4, hours=1))
    await case.sleep(timedelta(weeks=2))
    state = await case.state()
    assert [f.about for f in state.findings] == [WaitingNormIntake()]


async def test_declined_intake_ends_the_trajectory(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "declined-1")
    assert "needs a reason" in await case.refused(
        RecordIntake(actor=ACTOR, outcome=IntakeOutcome.DECLINED))
    await case.do(RecordIntake(
        actor=ACTOR, outcome=IntakeOutcome.DECLINED, reason="geen multiprobleemgezin"))
    final = await case.handle.result()
    assert final.phase is Phase.ENDED
    assert final.end_reason == "intake declined"


async def test_continue_as_new_keeps_state_and_seen_signal_keys(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "can-1", max_history_events=50)
    first_run = case.handle.result_run_id
    signal = PartnerSignal(idempotency_key="school-1", organisation="School",
                           kind=SignalKind.CONCERN, description="zorgen over thuissituatie")
    await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal, signal)
    await accept_and_staff(case)  # enough events to pass the history threshold
    await case.sleep(timedelta(minutes=5))

    describe = await case.handle.describe()
    assert describe.run_id != first_run  # it continued as new
    await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal, signal)  # resent
    await case.sleep(timedelta(minutes=5))
    state = await case.state()
    assert state.phase is Phase.IN_CARE
    assert state.signal_keys == ("school-1",)
    assert without_personal_text(fold(await pg_store.read_stream("trajectory-can-1"))) == state


async def test_trajectory_rebuilt_from_the_store_alone_equals_the_live_one(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "rebuild-1")
    await accept_and_staff(case)
    live = await case.state()
    await case.handle.terminate("simulate a lost workflow")

    rebuilt = await time_skipping_env.client.start_workflow(
        FamilyTrajectoryWorkflow.run, StartTrajectoryInput(case_id="rebuild-1", resume=True),
        id=workflow_id_for("rebuild-1"), task_queue=worker.task_queue)
    for _ in range(100):
        state = await rebuilt.query(FamilyTrajectoryWorkflow.state)
        if state.version == live.version:
            break
        await time_skipping_env.sleep(timedelta(seconds=1))
    assert state == live
    await rebuilt.terminate("test done")
