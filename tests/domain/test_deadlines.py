"""The clocks of a trajectory: when each deadline passes, the event it produces, that it
fires once (after its event is folded in it is no longer due), and that `next_deadline`
is the earliest pending one. States come from the same stories as the decider tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.closure import ClosureReason
from domain.commands import (
    CloseTrajectory,
    CompleteAgreement,
    EvaluatePlan,
    GoalResult,
    OfferFamilyGroupPlan,
    ProvideWrittenCopy,
    RecordCheckIn,
    RequestWrittenCopy,
    StartCare,
    SubmitFamilyGroupPlan,
)
from domain.deadlines import deadlines, due_events, end_of_day, next_deadline
from domain.events import (
    AftercareEnded,
    CheckInDue,
    CheckInMissed,
    EscalationClosed,
    EscalationFindingAttached,
    EscalationOpened,
    EventPayload,
    FamilyGroupPlanLapsed,
    StagnationFound,
    StagnationRule,
)
from domain.plan import GoalProgress
from domain.policy import RegionPolicy, add_months
from domain.stagnation import WaitingNormIntake
from domain.trajectory import CheckInStatus, FamilyGroupPlanStatus, Phase, evolve
from tests.domain.test_decide import (
    ACTOR,
    CARE_AT,
    CLOSED_AT,
    EVALUATION_DAY,
    INTAKE_AT,
    PLAN_AT,
    REFERRED_AT,
    Story,
    accepted,
    agreement,
    closed,
    ended_by_declined_intake,
    finally_evaluated,
    in_care,
    plan,
    planned,
    referred,
    skipped,
    with_coordinator,
)

SECOND = timedelta(seconds=1)
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC)


def fire(story: Story, at: datetime) -> list[EventPayload]:
    """What the workflow does when its timer goes off at `at`: append the due events."""
    events: list[EventPayload] = []
    # As the workflow does: ask again until nothing is due at this moment. The escalation
    # bookkeeping that follows a finding is tested in test_escalation.py, not returned.
    for _ in range(10):
        more = due_events(story.state, at, story.policy)
        if not more:
            break
        for event in more:
            story.state = evolve(story.state, event, at)
        events += [e for e in more
                   if not isinstance(e, EscalationOpened | EscalationFindingAttached
                                     | EscalationClosed)]
    story.now = at
    return events


def drive(story: Story, until: datetime) -> list[tuple[datetime, EventPayload]]:
    """Sleep from deadline to deadline up to `until`, firing each; return what fired."""
    fired: list[tuple[datetime, EventPayload]] = []
    for _ in range(100):
        at = next_deadline(story.state, story.policy)
        if at is None or at > until:
            return fired
        events = fire(story, at)
        assert events, f"next_deadline {at} has no due event: it would spin"
        fired += [(at, e) for e in events]
    raise AssertionError("a deadline keeps firing")


def stagnation(event: EventPayload) -> tuple[StagnationRule, str, datetime]:
    assert isinstance(event, StagnationFound)
    return event.rule, event.key, event.due


def assert_fires_once(story: Story, at: datetime) -> list[EventPayload]:
    """Nothing is due a second before `at`; at `at` something is; once folded, nothing."""
    assert next_deadline(story.state, story.policy) == at
    assert due_events(story.state, at - SECOND, story.policy) == []
    events = fire(story, at)
    assert events
    assert due_events(story.state, at, story.policy) == []
    later = due_events(story.state, at + timedelta(days=400), story.policy)
    assert not any(event in later for event in events)
    return events


# -- end of day ------------------------------------------------------------------------


def test_a_date_deadline_passes_at_the_end_of_that_day_in_amsterdam() -> None:
    # Midnight in Amsterdam: 22:00 UTC in summer time (CEST), 23:00 UTC in winter (CET).
    assert end_of_day(date(2025, 5, 1)) == datetime(2025, 5, 1, 22, 0, tzinfo=UTC)
    assert end_of_day(date(2024, 12, 31)) == datetime(2024, 12, 31, 23, 0, tzinfo=UTC)


# -- waiting norms ---------------------------------------------------------------------


def test_the_intake_waiting_norm_is_4_weeks_after_the_referral() -> None:
    story = referred()
    [event] = assert_fires_once(story, REFERRED_AT + timedelta(weeks=4))
    assert stagnation(event) == (StagnationRule.WAITING_NORM_INTAKE, "intake",
                                 REFERRED_AT + timedelta(weeks=4))
    assert isinstance(event, StagnationFound) and "2025-03-03" in event.evidence
    assert story.state.has_finding(WaitingNormIntake())
    assert next_deadline(story.state, story.policy) is None


def test_the_intake_waiting_norm_is_policy() -> None:
    story = referred()
    story.policy = RegionPolicy(waiting_norm_intake_weeks=2)
    assert next_deadline(story.state, story.policy) == REFERRED_AT + timedelta(weeks=2)


def test_an_intake_in_time_stops_the_intake_clock() -> None:
    story = accepted()
    assert not any(isinstance(d.event, StagnationFound)
                   and d.event.rule is StagnationRule.WAITING_NORM_INTAKE
                   for d in deadlines(story.state, story.policy))


def test_care_starts_within_10_weeks_of_the_intake() -> None:
    story = accepted()
    [event] = assert_fires_once(story, INTAKE_AT + timedelta(weeks=10))
    assert stagnation(event) == (StagnationRule.WAITING_NORM_CARE_START, "care_start",
                                 INTAKE_AT + timedelta(weeks=10))


def test_starting_care_stops_the_care_start_clock() -> None:
    story = with_coordinator()
    story.do(StartCare(actor=ACTOR), at=INTAKE_AT + timedelta(weeks=9))
    assert deadlines(story.state, story.policy) == []


def test_a_declined_intake_has_no_clocks() -> None:
    story = ended_by_declined_intake()
    assert deadlines(story.state, story.policy) == []
    assert next_deadline(story.state, story.policy) is None


# -- family group plan and plan --------------------------------------------------------


def test_the_family_group_plan_lapses_after_its_term() -> None:
    story = in_care()
    story.do(OfferFamilyGroupPlan(actor=ACTOR))
    term_end = CARE_AT + timedelta(weeks=6)
    assert assert_fires_once(story, term_end) == [FamilyGroupPlanLapsed(
        by_family=False, professional_plan_deadline=term_end + timedelta(weeks=6))]
    assert story.state.fgp_status is FamilyGroupPlanStatus.LAPSED
    # Now the professional plan is due, 6 weeks after the term ended.
    assert next_deadline(story.state, story.policy) == term_end + timedelta(weeks=6)


def test_a_submitted_family_group_plan_stops_the_lapse_clock() -> None:
    story = in_care()
    story.do(OfferFamilyGroupPlan(actor=ACTOR))
    story.do(SubmitFamilyGroupPlan(actor=ACTOR, plan=plan()), at=PLAN_AT)
    assert not any(isinstance(d.event, FamilyGroupPlanLapsed)
                   for d in deadlines(story.state, story.policy))
    assert next_deadline(story.state, story.policy) == end_of_day(EVALUATION_DAY)


def test_a_professional_plan_is_due_6_weeks_after_a_skip() -> None:
    story = skipped()
    due = CARE_AT + timedelta(weeks=6)
    [event] = assert_fires_once(story, due)
    assert stagnation(event) == (StagnationRule.PLAN_NOT_ADOPTED, f"plan:{due:%Y-%m-%d}", due)
    assert next_deadline(story.state, story.policy) is None


def test_adopting_the_plan_stops_the_plan_clock() -> None:
    story = planned()
    assert not any(isinstance(d.event, StagnationFound)
                   and d.event.rule is StagnationRule.PLAN_NOT_ADOPTED
                   for d in deadlines(story.state, story.policy))


def test_an_unanswered_offer_runs_into_a_missing_plan_once_each() -> None:
    story = in_care()
    story.do(OfferFamilyGroupPlan(actor=ACTOR))
    fired = drive(story, FAR_FUTURE)
    term_end = CARE_AT + timedelta(weeks=6)
    assert [at for at, _ in fired] == [term_end, term_end + timedelta(weeks=6)]
    assert isinstance(fired[0][1], FamilyGroupPlanLapsed)
    assert stagnation(fired[1][1])[0] is StagnationRule.PLAN_NOT_ADOPTED


# -- evaluation, agreements, written copy ----------------------------------------------


def test_an_evaluation_is_overdue_at_the_end_of_the_evaluation_day_in_amsterdam() -> None:
    story = planned()
    end = end_of_day(EVALUATION_DAY)
    assert end == datetime(2025, 5, 1, 22, 0, tzinfo=UTC)
    # Already 2 May in Amsterdam, still 1 May in UTC: overdue.
    amsterdam = datetime(2025, 5, 2, 1, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert amsterdam.astimezone(UTC).date() == EVALUATION_DAY
    assert len(due_events(story.state, amsterdam, story.policy)) == 1
    [event] = assert_fires_once(story, end)
    assert stagnation(event) == (StagnationRule.EVALUATION_OVERDUE,
                                 "evaluation:v1:2025-05-01", end)


def test_an_evaluation_in_time_moves_the_evaluation_clock() -> None:
    story = planned()
    story.do(EvaluatePlan(actor=ACTOR, next_evaluation_date=date(2025, 7, 1), results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.PROGRESSING),)),
        at=datetime(2025, 4, 30, 15, 0, tzinfo=UTC))
    assert due_events(story.state, end_of_day(EVALUATION_DAY), story.policy) == []
    [event] = assert_fires_once(story, end_of_day(date(2025, 7, 1)))
    assert stagnation(event)[1] == "evaluation:v1:2025-07-01"


def test_a_final_evaluation_stops_the_evaluation_clock() -> None:
    story = finally_evaluated()
    assert deadlines(story.state, story.policy) == []


def test_an_agreement_is_overdue_after_its_due_day() -> None:
    story = planned(plan(agreements=(agreement("a-1", due=date(2025, 4, 15)),)))
    at = end_of_day(date(2025, 4, 15))
    [event] = assert_fires_once(story, at)
    assert stagnation(event) == (StagnationRule.AGREEMENT_OVERDUE,
                                 "agreement:a-1:2025-04-15", at)
    assert isinstance(event, StagnationFound) and "by pro-1" in event.evidence


def test_a_completed_agreement_is_not_overdue() -> None:
    story = planned(plan(agreements=(agreement("a-1", due=date(2025, 4, 15)),)))
    story.do(CompleteAgreement(actor=ACTOR, agreement_id="a-1"))
    assert next_deadline(story.state, story.policy) == end_of_day(EVALUATION_DAY)


def test_a_written_copy_is_overdue_14_days_after_the_request() -> None:
    story = planned()
    story.do(RequestWrittenCopy(actor=ACTOR, requested_by="p-1"))
    due = PLAN_AT + timedelta(days=14)
    [event] = assert_fires_once(story, due)
    assert stagnation(event) == (StagnationRule.WRITTEN_COPY_OVERDUE,
                                 f"copy:{due:%Y-%m-%d}", due)


def test_a_provided_copy_stops_the_copy_clock() -> None:
    story = planned()
    story.do(RequestWrittenCopy(actor=ACTOR, requested_by="p-1"))
    story.do(ProvideWrittenCopy(actor=ACTOR), at=PLAN_AT + timedelta(days=3))
    assert next_deadline(story.state, story.policy) == end_of_day(EVALUATION_DAY)


def test_next_deadline_is_the_earliest_and_due_events_come_in_order() -> None:
    story = planned(plan(agreements=(agreement("a-1", due=date(2025, 4, 15)),)))
    story.do(RequestWrittenCopy(actor=ACTOR, requested_by="p-1"))
    copy_due = PLAN_AT + timedelta(days=14)  # 7 April
    pending = deadlines(story.state, story.policy)
    assert len(pending) == 3
    assert next_deadline(story.state, story.policy) == copy_due == min(d.at for d in pending)
    rules = [stagnation(e)[0] for e in due_events(story.state, FAR_FUTURE, story.policy)]
    assert rules == [StagnationRule.WRITTEN_COPY_OVERDUE, StagnationRule.AGREEMENT_OVERDUE,
                     StagnationRule.EVALUATION_OVERDUE]
    fired = drive(story, FAR_FUTURE)
    assert [at for at, _ in fired] == [copy_due, end_of_day(date(2025, 4, 15)),
                                       end_of_day(EVALUATION_DAY)]
    assert next_deadline(story.state, story.policy) is None


def test_no_plan_clocks_while_only_referred() -> None:
    story = referred()
    assert [type(d.event) for d in deadlines(story.state, story.policy)] == [StagnationFound]


# -- aftercare -------------------------------------------------------------------------


def test_a_check_in_falls_due_then_is_missed_after_the_grace_period() -> None:
    story = closed()
    due = CLOSED_AT + timedelta(weeks=6)
    assert assert_fires_once(story, due) == [CheckInDue(check_in=0)]
    assert [c.status for c in story.state.check_ins][:2] == [CheckInStatus.DUE,
                                                           CheckInStatus.SCHEDULED]
    assert assert_fires_once(story, due + timedelta(days=14)) == [CheckInMissed(check_in=0)]
    assert [c.status for c in story.state.check_ins][:2] == [CheckInStatus.MISSED,
                                                           CheckInStatus.SCHEDULED]


def test_a_recorded_check_in_is_not_missed() -> None:
    story = closed()
    due = CLOSED_AT + timedelta(weeks=6)
    fire(story, due)
    story.do(RecordCheckIn(actor=ACTOR, check_in=0, by="pro-1", note="gaat goed"),
             at=due + timedelta(days=2))
    assert next_deadline(story.state, story.policy) == CLOSED_AT + timedelta(weeks=12)
    assert CheckInMissed(check_in=0) not in due_events(story.state, FAR_FUTURE, story.policy)


def test_a_check_in_is_missed_at_the_latest_when_aftercare_ends() -> None:
    story = finally_evaluated()
    story.policy = RegionPolicy(aftercare_months=1, check_in_interval_weeks=3,
                                check_in_grace_days=14)
    story.do(CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED), at=CLOSED_AT)
    ends = add_months(CLOSED_AT, 1)
    fired = drive(story, FAR_FUTURE)
    assert fired == [(CLOSED_AT + timedelta(weeks=3), CheckInDue(check_in=0)),
                     (ends, CheckInMissed(check_in=0)), (ends, AftercareEnded())]


def test_aftercare_ends_after_its_period_and_every_clock_fired_once() -> None:
    story = closed()
    fired = drive(story, FAR_FUTURE)
    week = timedelta(weeks=1)
    grace = timedelta(days=14)
    expected: list[tuple[datetime, EventPayload]] = []
    for i in range(4):
        expected += [(CLOSED_AT + 6 * (i + 1) * week, CheckInDue(check_in=i)),
                     (CLOSED_AT + 6 * (i + 1) * week + grace, CheckInMissed(check_in=i))]
    expected.append((add_months(CLOSED_AT, 6), AftercareEnded()))
    assert fired == expected
    assert story.state.phase is Phase.ENDED
    assert next_deadline(story.state, story.policy) is None


@pytest.mark.parametrize("reason", [ClosureReason.MOVED_AWAY, ClosureReason.CHILD_PROTECTION])
def test_without_aftercare_it_ends_at_closure(reason: ClosureReason) -> None:
    story = finally_evaluated()
    story.do(CloseTrajectory(actor=ACTOR, reason=reason, new_municipality="Schagen"),
             at=CLOSED_AT)
    assert assert_fires_once(story, CLOSED_AT) == [AftercareEnded()]
    assert story.state.phase is Phase.ENDED


def test_plan_clocks_stop_during_aftercare() -> None:
    story = closed()
    assert all(isinstance(d.event, CheckInDue) for d in deadlines(story.state, story.policy))
