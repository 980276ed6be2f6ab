"""The escalation ladder on the time-skipping test server, with the real directory and
event store: coordinator -> manager -> regional process director, in working days."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import dutch_calendar
from domain.commands import (
    AddTeamMember,
    AdoptPlan,
    AppointCoordinator,
    AssessmentInput,
    EvaluatePlan,
    GoalResult,
    PartnerSignal,
    RecordIntake,
    ResolveEscalation,
    SignalKind,
    SkipFamilyGroupPlan,
    StartCare,
)
from domain.deadlines import end_of_day
from domain.escalation import LevelStep, RegionAlert
from domain.events import EscalationLevelAssigned, IntakeOutcome
from domain.family import LifeDomain
from domain.notifications import RecipientRole
from domain.plan import Agreement, GoalProgress, PlanSource, SkipGround
from domain.policy import RegionPolicy
from domain.team import TeamMember, TeamMemberKind
from domain.trajectory import EpisodeStatus, fold
from infra.directory import import_directory, load_directory_file
from infra.event_store import PostgresEventStore
from tests.workflows.support import terminate_open_workflows
from tests.workflows.test_handler_seams import assert_consistent, until
from tests.workflows.test_lifecycle import ACTOR, Case, open_case, plan
from workers.worker import build_worker
from workflows.escalation import EscalationEpisodeWorkflow, episode_workflow_id
from workflows.trajectory import FamilyTrajectoryWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"
DIRECTORY = Path(__file__).parents[2] / "infra" / "directory.example.yaml"
POLICY = RegionPolicy(region="holland-noord")
# The shared test server's clock moves years ahead over a session.
CALENDAR = dutch_calendar(range(2025, 2100))


@pytest.fixture
async def worker(time_skipping_env: WorkflowEnvironment, pg_store: PostgresEventStore,
                 pool: asyncpg.Pool) -> AsyncIterator[Worker]:
    async with pool.acquire() as conn:
        await import_directory(conn, load_directory_file(DIRECTORY), source="test")
    async with build_worker(time_skipping_env.client, pg_store, f"tq-{uuid.uuid4()}",
                            POLICY) as w:
        yield w
        await terminate_open_workflows(time_skipping_env)


async def in_care_with_plan(case: Case, coordinator: str = "pro-1", *,
                            evaluate_in_days: int = 10,
                            agreements: tuple[Agreement, ...] | None = None) -> date:
    """Accepted, coordinator from the directory, plan adopted; returns its evaluation day."""
    await case.do(RecordIntake(
        actor=ACTOR, outcome=IntakeOutcome.ACCEPTED, assessments=(AssessmentInput(
            life_domain=LifeDomain.EDUCATION_WORK, strengths="betrokken",
            problems="verzuim"),)))
    await case.do(AddTeamMember(
        actor=ACTOR, member=TeamMember(member_id=coordinator, kind=TeamMemberKind.PROFESSIONAL,
                                       name="coordinator", organisation="wijkteam-alkmaar")))
    await case.do(AppointCoordinator(actor=ACTOR, member_id=coordinator))
    await case.do(StartCare(actor=ACTOR))
    await case.do(SkipFamilyGroupPlan(
        actor=ACTOR, ground=SkipGround.THREAT_TO_DEVELOPMENT,
        reason="Acute zorgen over de ontwikkeling van Sam; geen tijd voor een FGP."))
    today = await case.today()
    the_plan = plan(today, evaluate_in_days=evaluate_in_days, agreement_due_in_days=300)
    the_plan = the_plan.model_copy(update={"agreements": tuple(
        a.model_copy(update={"owner": coordinator}) for a in the_plan.agreements)})
    if agreements is not None:
        the_plan = the_plan.model_copy(update={"agreements": agreements})
    await case.do(AdoptPlan(actor=ACTOR, plan=the_plan))
    assert the_plan.evaluation_date is not None
    return the_plan.evaluation_date


async def levels(store: PostgresEventStore, case_id: str) -> list[EscalationLevelAssigned]:
    return [e.payload for e in await store.read_stream(f"trajectory-{case_id}")
            if isinstance(e.payload, EscalationLevelAssigned)]


async def test_overdue_evaluation_climbs_three_levels_to_a_binding_decision(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore,
    pool: asyncpg.Pool
) -> None:
    case = await open_case(time_skipping_env, worker, "esc-1")
    evaluation_day = await in_care_with_plan(case)
    found_at = end_of_day(evaluation_day)
    level1 = CALENDAR.add_working_days(found_at, 5)
    level2 = CALENDAR.add_working_days(level1, 5)
    level3 = CALENDAR.add_working_days(level2, 10)

    await case.sleep(found_at - await case.now() + timedelta(minutes=1))
    steps = await levels(pg_store, "esc-1")
    assert [(s.level, s.assignee_id, s.deadline) for s in steps] == [(1, "pro-1", level1)]
    assert steps[0].reason.startswith("opened: plan version 1 was due for evaluation")

    await case.sleep(level1 - await case.now() + timedelta(minutes=1))
    await case.sleep(level2 - await case.now() + timedelta(minutes=1))
    steps = await levels(pg_store, "esc-1")
    assert [(s.level, s.assignee_id, s.role, s.deadline) for s in steps] == [
        (1, "pro-1", "coordinator", level1), (2, "pro-2", "manager", level2),
        (3, "pro-4", "process_director", level3)]
    assert "did not resolve it within 5 working days" in steps[1].reason
    assert steps[2].reason.startswith("level 2 (manager pro-2) did not resolve it")

    refusal = await case.refused(ResolveEscalation(
        actor="manager:pro-2", episode_id="ep-1", by="pro-2", decision="te laat"))
    assert "only they can resolve it now" in refusal
    follow_up = Agreement(agreement_id="bd-1", action="evaluatie inplannen binnen 2 weken",
                          owner="pro-1", due=await case.today() + timedelta(days=14))
    episode_decision = ("De evaluatie vindt binnen twee weken plaats; alle partners "
                        "leveren aan.")
    await case.do(ResolveEscalation(
        actor="director:pro-4", episode_id="ep-1", by="pro-4",
        decision=episode_decision,
        follow_ups=(follow_up,), next_evaluation_date=await case.today() + timedelta(days=21)))

    state = await case.state()
    (episode,) = state.episodes
    assert episode.status is EpisodeStatus.RESOLVED
    assert state.plan is not None
    assert state.plan_source is PlanSource.ESCALATION
    # The decision binds: it is in the plan (its words sealed with the family's key, read
    # from the store; the workflow shows ids and dates).
    assert [(a.agreement_id, a.owner, a.due) for a in state.plan.agreements][-1] == (
        follow_up.agreement_id, follow_up.owner, follow_up.due)
    (decision,) = state.plan.decisions
    assert decision.binding and decision.decided_by == "pro-4"
    stored = fold(await pg_store.read_stream("trajectory-esc-1"))
    assert stored.plan is not None and stored.plan.agreements[-1].action == follow_up.action
    assert stored.plan.decisions[0].decision == episode_decision
    outcome = await time_skipping_env.client.get_workflow_handle_for(
        EscalationEpisodeWorkflow.run, episode_workflow_id("esc-1", "ep-1")).result()
    assert outcome.last_level == 3
    async with pool.acquire() as conn:
        notified = [tuple(r) for r in await conn.fetch(
            "SELECT recipient_id, role FROM outbox WHERE case_id = 'esc-1' ORDER BY id")]
    assert notified == [("pro-1", "coordinator"), ("pro-2", "manager"),
                        ("pro-4", "process_director")]
    if os.environ.get("REGIE_RECORD_HISTORIES"):
        for name, workflow_id in (("escalation_parent", "trajectory-esc-1"),
                                  ("escalation_episode", episode_workflow_id("esc-1", "ep-1"))):
            history = await time_skipping_env.client.get_workflow_handle(
                workflow_id).fetch_history()
            (HISTORIES / f"{name}.json").write_text(history.to_json())


async def test_episode_resolved_by_the_manager_at_level_two(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "esc-2")
    found_at = end_of_day(await in_care_with_plan(case))
    level1 = CALENDAR.add_working_days(found_at, 5)
    await case.sleep(level1 - await case.now() + timedelta(hours=1))
    await case.do(ResolveEscalation(
        actor="manager:pro-2", episode_id="ep-1", by="pro-2",
        decision="Evaluatie volgende week; coördinator krijgt ondersteuning.",
        next_evaluation_date=await case.today() + timedelta(days=7)))
    state = await case.state()
    assert state.episodes[0].status is EpisodeStatus.RESOLVED
    assert state.plan is not None
    assert state.plan.decisions[0].binding is False
    outcome = await time_skipping_env.client.get_workflow_handle_for(
        EscalationEpisodeWorkflow.run, episode_workflow_id("esc-2", "ep-1")).result()
    assert (outcome.last_level, outcome.ended_because) == (2, "resolved by pro-2 at level 2")


async def test_episode_closes_itself_when_the_evaluation_is_held(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "esc-3")
    found_at = end_of_day(await in_care_with_plan(case))
    await case.sleep(found_at - await case.now() + timedelta(hours=2))
    await case.do(EvaluatePlan(
        actor=ACTOR, results=(GoalResult(goal_id="g-school", progress=GoalProgress.PROGRESSING),),
        next_evaluation_date=await case.today() + timedelta(days=60)))
    outcome = await time_skipping_env.client.get_workflow_handle_for(
        EscalationEpisodeWorkflow.run, episode_workflow_id("esc-3", "ep-1")).result()
    assert outcome.ended_because == "the cause cleared: the evaluation was held"
    kinds = [e.type for e in await pg_store.read_stream("trajectory-esc-3")]
    assert kinds[-2:] == ["PlanEvaluated", "EscalationClosed"]


async def test_two_findings_with_the_same_cause_open_one_episode(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "esc-4")
    today = await case.today()
    await in_care_with_plan(case, evaluate_in_days=90, agreements=(
        Agreement(agreement_id="a-1", action="huisbezoek", owner="pro-1",
                  due=today + timedelta(days=3)),
        Agreement(agreement_id="a-2", action="schoolgesprek", owner="pro-1",
                  due=today + timedelta(days=5))))
    await case.sleep(timedelta(days=7))
    state = await case.state()
    assert [f.rule for f in state.findings] == ["agreement_overdue", "agreement_overdue"]
    (episode,) = state.episodes
    assert len(episode.finding_refs) == 2
    assert episode.concerned_professional_id == "pro-1"


async def test_a_coordinator_without_a_known_manager_goes_straight_to_level_three(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore
) -> None:
    case = await open_case(time_skipping_env, worker, "esc-5")
    found_at = end_of_day(await in_care_with_plan(case, coordinator="pro-3"))
    level1 = CALENDAR.add_working_days(found_at, 5)
    await case.sleep(level1 - await case.now() + timedelta(hours=1))
    steps = await levels(pg_store, "esc-5")
    assert [(s.level, s.assignee_id) for s in steps] == [(1, "pro-3"), (3, "pro-4")]
    assert "no manager known for pro-3" in steps[1].reason
    assert steps[1].deadline == CALENDAR.add_working_days(level1, 10)


async def test_past_the_last_deadline_the_region_is_alerted_and_reminded(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore,
    pool: asyncpg.Pool
) -> None:
    case = await open_case(time_skipping_env, worker, "esc-6")
    found_at = end_of_day(await in_care_with_plan(case))
    level3 = CALENDAR.add_working_days(CALENDAR.add_working_days(
        CALENDAR.add_working_days(found_at, 5), 5), 10)
    reminder2 = CALENDAR.add_working_days(level3, 5)
    await case.sleep(reminder2 - await case.now() + timedelta(hours=1))
    state = await case.state()
    assert state.episodes[0].reminders == 2
    alerts = [e.payload for e in await pg_store.read_stream("trajectory-esc-6")
              if e.type == "RegionAlerted"]
    assert [(a.reminder, a.next_reminder) for a in alerts] == [  # type: ignore[union-attr]
        (1, reminder2), (2, CALENDAR.add_working_days(reminder2, 5))]
    async with pool.acquire() as conn:
        roles = [r["role"] for r in await conn.fetch(
            "SELECT role FROM outbox WHERE case_id = 'esc-6' ORDER BY id")]
    assert roles == ["coordinator", "manager", "process_director", "region", "region"]
    handle = time_skipping_env.client.get_workflow_handle_for(
        EscalationEpisodeWorkflow.run, episode_workflow_id("esc-6", "ep-1"))
    assert await handle.query(EscalationEpisodeWorkflow.ended_because) is None


def not_recorded(caplog: pytest.LogCaptureFixture, case_id: str) -> list[logging.LogRecord]:
    """The trajectory's warnings about episode messages it did not record."""
    return [r for r in caplog.records
            if r.getMessage().startswith("escalation message not recorded")
            and getattr(r, "case_id", None) == case_id]


async def test_forged_episode_messages_are_not_recorded_and_the_ladder_goes_on(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore,
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="temporalio.workflow")
    case = await open_case(time_skipping_env, worker, "esc-7")
    found_at = end_of_day(await in_care_with_plan(case))
    level1 = CALENDAR.add_working_days(found_at, 5)
    level2 = CALENDAR.add_working_days(level1, 5)
    await case.sleep(found_at - await case.now() + timedelta(minutes=1))
    assert [(s.level, s.deadline) for s in await levels(pg_store, "esc-7")] == [(1, level1)]
    version = (await case.state()).version

    # Whoever reaches Temporal can signal a trajectory by hand, as its episode does.
    forged = [
        LevelStep(episode_id="ep-9", level=2, assignee_id="pro-9", role=RecipientRole.MANAGER,
                  deadline=level2, reason="forged: an episode this case does not have"),
        LevelStep(episode_id="ep-1", level=3, assignee_id="pro-9",
                  role=RecipientRole.PROCESS_DIRECTOR,
                  deadline=CALENDAR.add_working_days(level1, 10),
                  reason="forged: straight to the top while level 1 still runs"),
        LevelStep(episode_id="ep-1", level=2, assignee_id="pro-9", role=RecipientRole.MANAGER,
                  deadline=level2 + timedelta(days=1), reason="forged: another deadline"),
    ]
    for step in forged:
        await case.handle.signal(FamilyTrajectoryWorkflow.escalation_step, step)
    await case.handle.signal(FamilyTrajectoryWorkflow.escalation_alert, RegionAlert(
        episode_id="ep-1", reminder=1, region_id="holland-noord", recipient_id="pro-9",
        next_reminder=CALENDAR.add_working_days(level1, 5)))

    async def all_refused() -> bool:
        return len(not_recorded(caplog, "esc-7")) == 4
    await until(all_refused, "a warning for each forged message")
    warnings = not_recorded(caplog, "esc-7")
    assert [(getattr(w, "episode_id", None), getattr(w, "signal", None)) for w in warnings] == [
        ("ep-9", "escalation_step"), ("ep-1", "escalation_step"),
        ("ep-1", "escalation_step"), ("ep-1", "escalation_alert")]
    wrong_episode, skipped, wrong_deadline, alert = (str(getattr(w, "mismatch", ""))
                                                     for w in warnings)
    assert wrong_episode == "this trajectory has no such episode"
    assert "before the level-1 deadline" in skipped
    assert f"computed {level2.isoformat()}" in wrong_deadline
    assert "a region alert while the episode is at level 1" in alert
    assert all("pro-9" not in str(getattr(w, "mismatch", "")) for w in warnings)
    state = await assert_consistent(case, pg_store)  # running, nothing written
    assert state.version == version

    # The genuine ladder goes on as before.
    await case.sleep(level1 - await case.now() + timedelta(minutes=1))
    steps = await levels(pg_store, "esc-7")
    assert [(s.level, s.assignee_id, s.deadline) for s in steps] == [
        (1, "pro-1", level1), (2, "pro-2", level2)]
    events = await pg_store.read_stream("trajectory-esc-7")
    assert not [e for e in events if "pro-9" in e.payload.model_dump_json()]
    async with pool.acquire() as conn:
        notified = [r["recipient_id"] for r in await conn.fetch(
            "SELECT recipient_id FROM outbox WHERE case_id = 'esc-7' ORDER BY id")]
    assert notified == ["pro-1", "pro-2"]
    await assert_consistent(case, pg_store)
    if os.environ.get("REGIE_RECORD_HISTORIES"):
        history = await case.handle.fetch_history()
        (HISTORIES / "escalation_forged_messages.json").write_text(history.to_json())


@pytest.fixture
async def worker_without_directory(time_skipping_env: WorkflowEnvironment,
                                   pg_store: PostgresEventStore) -> AsyncIterator[Worker]:
    async with build_worker(time_skipping_env.client, pg_store, f"tq-{uuid.uuid4()}",
                            POLICY) as w:
        yield w
        await terminate_open_workflows(time_skipping_env)


async def test_with_nobody_in_the_directory_the_region_is_told_until_it_is_imported(
    time_skipping_env: WorkflowEnvironment, worker_without_directory: Worker,
    pg_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # Each look-up that finds nobody is a step to the region at the same level, due after
    # the reminder term; the trajectory counts those deadlines as the episode does.
    case = await open_case(time_skipping_env, worker_without_directory, "esc-8")
    await case.handle.signal(FamilyTrajectoryWorkflow.partner_signal, PartnerSignal(
        idempotency_key="ggd-1", organisation="GGD Hollands Noorden",
        kind=SignalKind.STAGNATION, description="het loopt vast"))

    async def first_step() -> bool:
        return len(await levels(pg_store, "esc-8")) == 1
    await until(first_step, "the first step to the region")
    (finding,) = (await case.state()).findings
    assert finding.due is not None
    retry1 = CALENDAR.add_working_days(finding.due, 5)
    retry2 = CALENDAR.add_working_days(retry1, 5)
    await case.sleep(retry1 - await case.now() + timedelta(minutes=1))
    async with pool.acquire() as conn:
        await import_directory(conn, load_directory_file(DIRECTORY), source="test")
    await case.sleep(retry2 - await case.now() + timedelta(minutes=1))
    steps = await levels(pg_store, "esc-8")
    # No coordinator appointed yet, so no manager either: the process director.
    assert [(s.level, s.role, s.assignee_id, s.deadline) for s in steps] == [
        (1, "region", "holland-noord", retry1), (1, "region", "holland-noord", retry2),
        (3, "process_director", "pro-4", CALENDAR.add_working_days(retry2, 10))]
