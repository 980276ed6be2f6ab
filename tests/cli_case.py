"""A made-up case for the operator CLI's tests, written straight to the store with the
moments chosen (the tests say what the operator reads at those moments)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime

from domain.events import (
    CareStarted,
    CoordinatorAppointed,
    EscalationLevelAssigned,
    EscalationOpened,
    EventMetadata,
    EventPayload,
    IntakeOutcome,
    IntakeRecorded,
    NewEvent,
    PlanAdopted,
    StagnationFound,
    TeamMemberAdded,
    TrajectoryReferred,
)
from domain.family import LifeDomain, family_subject
from domain.notifications import RecipientRole
from domain.plan import Agreement, FamilyPlan, Goal, PlanSource
from domain.stagnation import EvaluationOverdue, StagnationRule
from domain.team import TeamMember, TeamMemberKind
from infra.event_store import PostgresEventStore
from tests.factories import referral

COORDINATOR = "pro-coord"
COORDINATOR_NAME = "Fatima El Amrani"
# A name typed with an escape sequence, rich markup and a bidi override: a terminal must
# show it, not obey it.
HOSTILE_NAME = "Jan \x1b[2J[bold red]Jansen[/]\u202e"
PARENT = "p-1"
PARENT_NAME = "Anna de Vries"


def event(payload: EventPayload, at: datetime, actor: str = "professional:pro-coord"
          ) -> NewEvent:
    return NewEvent(event_id=uuid.uuid4(), occurred_at=at,
                    metadata=EventMetadata(actor=actor), payload=payload)


def story(case_id: str) -> list[NewEvent]:
    """Referred in November 2026, in care with a plan due for evaluation on Monday 21
    December; the evaluation did not happen, so on 22 December (00:00 in Amsterdam,
    23:00 UTC the day before) stagnation was found and an episode opened, due Wednesday
    30 December."""
    plan = FamilyPlan(
        goals=(Goal(goal_id="g-1", person_id="c-1", life_domain=LifeDomain.EDUCATION_WORK,
                    description="Sam gaat elke dag naar school",
                    criterion="geen ongeoorloofd verzuim in 6 weken"),),
        agreements=(Agreement(agreement_id="a-1", action="dagelijks contact met school",
                              owner=COORDINATOR, due=date(2026, 12, 18)),),
        evaluation_date=date(2026, 12, 21)).about_the_family(family_subject(case_id))
    found_at = datetime(2026, 12, 21, 23, 0, tzinfo=UTC)
    return [
        event(TrajectoryReferred(case_id=case_id, referral=referral(parent=PARENT,
                                                                    parent_name=PARENT_NAME)),
              datetime(2026, 11, 2, 9, 15, tzinfo=UTC), actor="partner:school"),
        event(IntakeRecorded(outcome=IntakeOutcome.ACCEPTED, subject=family_subject(case_id)),
              datetime(2026, 11, 9, 10, 0, tzinfo=UTC)),
        event(TeamMemberAdded(member=TeamMember(
            member_id=COORDINATOR, kind=TeamMemberKind.PROFESSIONAL, name=COORDINATOR_NAME,
            organisation="Wijkteam Noord")), datetime(2026, 11, 9, 10, 5, tzinfo=UTC)),
        event(TeamMemberAdded(member=TeamMember(
            member_id="jim-1", kind=TeamMemberKind.MENTOR, name=HOSTILE_NAME,
            chosen_by="c-1")), datetime(2026, 11, 9, 10, 6, tzinfo=UTC)),
        event(CoordinatorAppointed(member_id=COORDINATOR, caseload_before=3, caseload_cap=15,
                                   subject=family_subject(case_id)),
              datetime(2026, 11, 9, 10, 7, tzinfo=UTC), actor="manager:m-1"),
        event(CareStarted(), datetime(2026, 11, 16, 8, 0, tzinfo=UTC)),
        event(PlanAdopted(plan_version=1, source=PlanSource.PROFESSIONAL, plan=plan),
              datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
        event(StagnationFound(about=EvaluationOverdue(plan_version=1,
                                                      evaluation_date=date(2026, 12, 21)),
                              evidence="plan version 1 was due for evaluation on 2026-12-21 "
                              "and has not been evaluated", due=found_at),
              found_at, actor="system"),
        event(EscalationOpened(episode_id="ep-1", rule=StagnationRule.EVALUATION_OVERDUE,
                               finding_key="evaluation:v1:2026-12-21"), found_at,
              actor="system"),
        event(EscalationLevelAssigned(
            episode_id="ep-1", level=1, assignee_id=COORDINATOR,
            role=RecipientRole.COORDINATOR,
            deadline=datetime(2026, 12, 30, 0, 0, tzinfo=UTC),
            reason="the care coordinator acts first"), found_at, actor="system"),
    ]


async def write_story(store: PostgresEventStore, case_id: str) -> None:
    await store.append(f"trajectory-{case_id}", 0, story(case_id))


def regie(args: list[str], env: Mapping[str, str], stdin: str = ""
          ) -> subprocess.CompletedProcess[str]:
    """`regie ARGS` as an operator runs it: a process of its own."""
    return subprocess.run([sys.executable, "-m", "workers.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
