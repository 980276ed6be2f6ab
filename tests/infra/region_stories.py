"""Seven made-up trajectories around the turn of 2024/2025 and 2025/2026, told through
`decide` (lifecycle) plus the escalation ladder's own events, for the read-model tests.
The figures they must give are computed by hand in tests/infra/test_region_report.py.

Times are UTC; Amsterdam is UTC+1 in winter and UTC+2 in summer.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from domain.closure import ClosureReason
from domain.commands import (
    AddTeamMember,
    AdjustPlan,
    AdoptPlan,
    AppointCoordinator,
    CloseTrajectory,
    Command,
    DeclareNoFamilyGroupPlan,
    EvaluatePlan,
    GoalResult,
    OfferFamilyGroupPlan,
    PartnerSignal,
    RecordIntake,
    ReferFamily,
    SignalKind,
    SkipFamilyGroupPlan,
    StartCare,
    SubmitFamilyGroupPlan,
)
from domain.events import (
    EscalationClosed,
    EscalationLevelAssigned,
    EscalationOpened,
    EscalationResolved,
    EventMetadata,
    EventPayload,
    IntakeOutcome,
    StagnationRule,
)
from domain.family import family_subject
from domain.notifications import RecipientRole
from domain.plan import GoalProgress, SkipGround
from domain.trajectory import new_event, stream_id_for
from infra.event_store import PostgresEventStore
from tests.domain.test_decide import ACTOR, Story, intake_accepted, plan, professional
from tests.factories import referral


def utc(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Told:
    """One case: its events with their moments, in the order they happened."""

    case_id: str
    story: Story = field(default_factory=Story)
    events: list[tuple[datetime, EventPayload]] = field(default_factory=list)

    def do(self, command: Command, at: datetime, caseload: int | None = None) -> Told:
        self.events += [(at, e) for e in self.story.do(command, at=at, caseload=caseload)]
        return self

    def record(self, at: datetime, *payloads: EventPayload) -> Told:
        """Events the escalation ladder records (its child workflow's steps)."""
        self.events += [(at, p) for p in payloads]
        return self

    def referred(self, at: datetime) -> Told:
        return self.do(ReferFamily(case_id=self.case_id, referral=referral()), at)

    def accepted(self, at: datetime, coordinator: str) -> Told:
        self.do(intake_accepted(), at)
        self.do(AddTeamMember(actor=ACTOR, member=professional(coordinator)), at)
        return self.do(AppointCoordinator(actor=ACTOR, member_id=coordinator), at, caseload=0)

    def evaluated_and_closed(self, evaluated: datetime, closed: datetime) -> Told:
        self.do(EvaluatePlan(actor=ACTOR, final=True, results=(
            GoalResult(goal_id="g-1", progress=GoalProgress.ACHIEVED),)), evaluated)
        return self.do(CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED),
                       closed)


def opened(episode: str, rule: StagnationRule) -> EscalationOpened:
    return EscalationOpened(episode_id=episode, rule=rule, finding_key=f"{rule.value}:x")


def level(episode: str, n: int, assignee: str, deadline: datetime) -> EscalationLevelAssigned:
    role = [RecipientRole.COORDINATOR, RecipientRole.MANAGER, RecipientRole.PROCESS_DIRECTOR]
    return EscalationLevelAssigned(episode_id=episode, level=n, assignee_id=assignee,
                                   role=role[n - 1], deadline=deadline, reason="termijn")


def resolved(case_id: str, episode: str, n: int, by: str) -> EscalationResolved:
    return EscalationResolved(episode_id=episode, level=n, by=by, decision="besluit",
                              binding=n == 3, subject=family_subject(case_id),
                              authority="doorzettingsmacht" if n == 3 else None)


def stories() -> list[Told]:
    # A: referred in 2024, care and its own family group plan in January 2025; a binding
    # decision in 2025 on an episode opened in 2024; an adjusted plan without the young
    # person's participation recorded; an episode opened in 2026, still open.
    a = Told("a").referred(utc(2024, 12, 2)).accepted(utc(2024, 12, 16), "pro-1")
    a.do(StartCare(actor=ACTOR), utc(2025, 1, 6))
    a.do(OfferFamilyGroupPlan(actor=ACTOR), utc(2025, 1, 6, 10))
    a.do(SubmitFamilyGroupPlan(actor=ACTOR, plan=plan(evaluation_date=date(2025, 4, 1)),
                               young_person_took_part=True), utc(2025, 1, 20))
    a.do(EvaluatePlan(actor=ACTOR, results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.PROGRESSING),),
        next_evaluation_date=date(2025, 9, 1)), utc(2025, 4, 1))
    a.do(AdjustPlan(actor=ACTOR, plan=plan(evaluation_date=date(2026, 3, 2))),
         utc(2025, 4, 2))
    a.record(utc(2024, 12, 20), opened("ep-a1", StagnationRule.REPORTED),
             level("ep-a1", 1, "pro-1", utc(2025, 1, 2)))
    a.record(utc(2025, 1, 2), level("ep-a1", 3, "dir-1", utc(2025, 1, 16)))
    a.record(utc(2025, 1, 8), resolved("a", "ep-a1", 3, "dir-1"))
    a.record(utc(2026, 1, 12), opened("ep-a2", StagnationRule.EVALUATION_OVERDUE),
             level("ep-a2", 1, "pro-1", utc(2026, 1, 19)))

    # B: referred at 00:30 on 1 January 2025 in Amsterdam (still 2024 in UTC); intake
    # after six weeks (beyond the 4-week norm); a professional plan the young person did
    # not take part in; closed in June, reopened by a relapse in July (revolving door);
    # an episode opened in December 2025, resolved by a binding decision in 2026.
    b = Told("b").referred(utc(2024, 12, 31, 23, 30)).accepted(utc(2025, 2, 10), "pro-1")
    b.do(StartCare(actor=ACTOR), utc(2025, 2, 17))
    b.do(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
                             reason="De ouders willen geen eigen plan."), utc(2025, 2, 17, 10))
    b.do(AdoptPlan(actor=ACTOR, plan=plan(), young_person_took_part=False), utc(2025, 3, 3))
    b.evaluated_and_closed(utc(2025, 6, 2), utc(2025, 6, 3))
    b.do(PartnerSignal(idempotency_key="sig-b", organisation="GGD", kind=SignalKind.RELAPSE,
                       description="het gaat weer mis"), utc(2025, 7, 1))
    b.record(utc(2025, 12, 29), opened("ep-b1", StagnationRule.REPORTED),
             level("ep-b1", 3, "dir-1", utc(2026, 1, 12)))
    b.record(utc(2026, 1, 5), resolved("b", "ep-b1", 3, "dir-1"))

    # C: referred on 30 December 2025, still waiting for intake, within the norm.
    c = Told("c").referred(utc(2025, 12, 30, 10))

    # D: everything in 2024 but its closure, at 00:30 on 1 January 2026 in Amsterdam
    # (31 December 2025 in UTC): a 2026 closure.
    d = Told("d").referred(utc(2024, 11, 4)).accepted(utc(2024, 11, 11), "pro-2")
    d.do(StartCare(actor=ACTOR), utc(2024, 11, 18))
    d.do(SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.THREAT_TO_DEVELOPMENT,
                             reason="Zorgen over de ontwikkeling."), utc(2024, 11, 18, 10))
    d.do(AdoptPlan(actor=ACTOR, plan=plan(evaluation_date=date(2025, 3, 1))),
         utc(2024, 11, 25))
    d.evaluated_and_closed(utc(2025, 12, 30), utc(2025, 12, 31, 23, 30))

    # E: referred in March 2025, intake declined a week later.
    e = Told("e").referred(utc(2025, 3, 3))
    e.do(RecordIntake(actor=ACTOR, outcome=IntakeOutcome.DECLINED,
                      reason="geen multiprobleemgezin"), utc(2025, 3, 10))

    # F: intake a week after referral, care 15 weeks after intake (beyond the 10-week
    # norm); the family declined its own plan; closed in September, in aftercare still.
    f = Told("f").referred(utc(2025, 1, 6)).accepted(utc(2025, 1, 13), "pro-2")
    f.do(StartCare(actor=ACTOR), utc(2025, 4, 28))
    f.do(OfferFamilyGroupPlan(actor=ACTOR), utc(2025, 4, 28, 10))
    f.do(DeclareNoFamilyGroupPlan(actor=ACTOR), utc(2025, 5, 5))
    f.do(AdoptPlan(actor=ACTOR, plan=plan(evaluation_date=date(2025, 8, 1)),
                   young_person_took_part=True), utc(2025, 5, 12))
    f.evaluated_and_closed(utc(2025, 9, 1), utc(2025, 9, 2))
    f.record(utc(2025, 3, 24), opened("ep-f1", StagnationRule.WAITING_NORM_CARE_START),
             level("ep-f1", 1, "pro-2", utc(2025, 3, 31)))
    f.record(utc(2025, 3, 31), level("ep-f1", 2, "man-1", utc(2025, 4, 7)))
    f.record(utc(2025, 4, 10), resolved("f", "ep-f1", 2, "man-1"))
    f.record(utc(2025, 6, 2), opened("ep-f2", StagnationRule.NO_PROGRESS),
             level("ep-f2", 1, "pro-2", utc(2025, 6, 9)))
    f.record(utc(2025, 6, 10), EscalationClosed(episode_id="ep-f2", reason="opgelost"))

    # G: referred in November 2025, no intake yet: beyond the norm.
    g = Told("g").referred(utc(2025, 11, 3))
    return [a, b, c, d, e, f, g]


def timeline(told: Sequence[Told]) -> list[tuple[datetime, str, EventPayload]]:
    """Every case's events in the order they happened, across cases (a case's events at
    one moment keep their order)."""
    ordered = sorted(((at, i, n, t.case_id, p) for i, t in enumerate(told)
                      for n, (at, p) in enumerate(t.events)), key=lambda x: x[:3])
    return [(at, case_id, payload) for at, _, _, case_id, payload in ordered]


async def append_one_by_one(store: PostgresEventStore, told: Sequence[Told]
                            ) -> AsyncIterator[None]:
    """Append the timeline one event at a time, yielding after each."""
    versions: dict[str, int] = {}
    for at, case_id, payload in timeline(told):
        stream = stream_id_for(case_id)
        version = versions.get(stream, 0)
        await store.append(stream, version, [new_event(
            payload, event_id=uuid.uuid4(), now=at,
            metadata=EventMetadata(actor="test", correlation_id="corr-1"))])
        versions[stream] = version + 1
        yield


async def append_all(store: PostgresEventStore, told: Sequence[Told]) -> None:
    async for _ in append_one_by_one(store, told):
        pass



