"""Local dates: date-only rules count in the region's calendar day (Europe/Amsterdam), not
the UTC day. Around midnight (an instant late in the UTC evening is already the next day
in Amsterdam: from 23:00 UTC in winter, from 22:00 UTC in summer) and around the switch
to summer time (last Sunday of March) and back (last Sunday of October). Expected instants
are worked out by hand; weekdays and switch days are double-checked with `calendar`."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.calendar import dutch_calendar
from domain.closure import ClosureReason
from domain.commands import (
    AdoptPlan,
    CloseTrajectory,
    EvaluatePlan,
    GiveConsent,
    GoalResult,
    ResolveEscalation,
)
from domain.consent import ConsentPurpose
from domain.deadlines import deadlines, end_of_day, next_deadline
from domain.decision import DecisionContext
from domain.escalation import LevelStep, record_step
from domain.events import StagnationFound, StagnationRule, TrajectoryReferred
from domain.local_time import (
    UnknownTimeZoneError,
    end_of_local_day,
    local_date,
    local_text,
)
from domain.plan import GoalProgress
from domain.policy import RegionPolicy
from domain.trajectory import TrajectoryState, evolve
from infra.policy_file import PolicyFileError, load_policy
from tests.domain.test_deadlines import fire
from tests.domain.test_decide import (
    ACTOR,
    EVALUATION_DAY,
    agreement,
    all_arranged,
    child,
    family,
    finally_evaluated,
    parent,
    plan,
    planned,
    referred,
    skipped,
)
from tests.factories import referral

AMSTERDAM = "Europe/Amsterdam"
NL = dutch_calendar(range(2025, 2028))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def last_sunday(year: int, month: int) -> int:
    return max(week[calendar.SUNDAY] for week in calendar.monthcalendar(year, month))


def test_the_switch_days_of_2026() -> None:
    # The dates the tests below rely on, checked without the code under test.
    assert last_sunday(2026, 3) == 29
    assert last_sunday(2026, 10) == 25
    assert calendar.weekday(2026, 1, 9) == calendar.FRIDAY
    assert calendar.weekday(2026, 7, 10) == calendar.FRIDAY
    assert calendar.weekday(2026, 3, 27) == calendar.FRIDAY
    assert calendar.weekday(2026, 10, 23) == calendar.FRIDAY


# -- the local calendar day ---------------------------------------------------------------


@pytest.mark.parametrize(("instant", "day"), [
    # Winter (CET, UTC+1): the Amsterdam day starts at 23:00 UTC.
    (utc(2026, 1, 14, 22, 30), date(2026, 1, 14)),  # 23:30 in Amsterdam
    (utc(2026, 1, 14, 22, 59, 59), date(2026, 1, 14)),
    (utc(2026, 1, 14, 23, 0), date(2026, 1, 15)),
    (utc(2026, 1, 14, 23, 30), date(2026, 1, 15)),  # 00:30 in Amsterdam
    # Summer (CEST, UTC+2): the Amsterdam day starts at 22:00 UTC.
    (utc(2026, 7, 14, 21, 59, 59), date(2026, 7, 14)),
    (utc(2026, 7, 14, 22, 0), date(2026, 7, 15)),
    (utc(2026, 7, 14, 22, 30), date(2026, 7, 15)),  # 00:30 in Amsterdam
    (utc(2026, 7, 14, 23, 30), date(2026, 7, 15)),  # 01:30 in Amsterdam
    # The nights of the switches: 00:30 local both times.
    (utc(2026, 3, 28, 23, 30), date(2026, 3, 29)),
    (utc(2026, 10, 24, 22, 30), date(2026, 10, 25)),
])
def test_the_local_date_of_an_instant(instant: datetime, day: date) -> None:
    assert local_date(instant, AMSTERDAM) == day


@pytest.mark.parametrize(("day", "over_at"), [
    (date(2026, 3, 28), utc(2026, 3, 28, 23, 0)),  # the Saturday before: still winter
    (date(2026, 3, 29), utc(2026, 3, 29, 22, 0)),  # the switch day: midnight is in summer
    (date(2026, 10, 24), utc(2026, 10, 24, 22, 0)),  # the Saturday before: still summer
    (date(2026, 10, 25), utc(2026, 10, 25, 23, 0)),  # back in winter by midnight
    (date(2026, 1, 14), utc(2026, 1, 14, 23, 0)),
    (date(2026, 7, 14), utc(2026, 7, 14, 22, 0)),
])
def test_a_day_ends_at_local_midnight_stored_in_utc(day: date, over_at: datetime) -> None:
    assert end_of_local_day(day, AMSTERDAM) == over_at
    assert end_of_local_day(day, AMSTERDAM).tzinfo is UTC
    assert end_of_day(day) == over_at
    assert end_of_day(day, AMSTERDAM) == over_at


def test_the_switch_days_are_23_and_25_hours_long() -> None:
    def length(day: date) -> timedelta:
        return end_of_local_day(day, AMSTERDAM) - end_of_local_day(
            day - timedelta(days=1), AMSTERDAM)
    assert length(date(2026, 3, 29)) == timedelta(hours=23)
    assert length(date(2026, 10, 25)) == timedelta(hours=25)
    assert length(date(2026, 7, 14)) == timedelta(hours=24)


def test_end_of_day_follows_the_zone_it_is_given() -> None:
    assert end_of_day(date(2026, 7, 14), "Europe/London") == utc(2026, 7, 14, 23, 0)
    assert end_of_day(date(2026, 7, 14), "UTC") == utc(2026, 7, 15, 0, 0)


# -- texts for people ---------------------------------------------------------------------


@pytest.mark.parametrize(("instant", "text"), [
    (utc(2026, 12, 2, 16, 0), "2026-12-02 17:00 (Amsterdam)"),
    (utc(2026, 7, 1, 15, 0), "2026-07-01 17:00 (Amsterdam)"),
    (utc(2026, 1, 14, 23, 30), "2026-01-15 00:30 (Amsterdam)"),
    (utc(2026, 3, 29, 1, 0), "2026-03-29 03:00 (Amsterdam)"),  # the hour that is skipped
    (utc(2026, 10, 25, 0, 30), "2026-10-25 02:30 (Amsterdam)"),  # first 02:30 of two
    (utc(2026, 10, 25, 1, 30), "2026-10-25 02:30 (Amsterdam)"),  # and the second
])
def test_a_message_shows_amsterdam_time_and_never_utc(instant: datetime, text: str) -> None:
    assert local_text(instant, AMSTERDAM) == text
    assert "UTC" not in local_text(instant, AMSTERDAM)


def test_a_message_names_the_place_of_another_zone() -> None:
    assert local_text(utc(2026, 1, 14, 23, 30), "America/New_York") == (
        "2026-01-14 18:30 (New York)")


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2026, 1, 14, 23, 30), AMSTERDAM)
    with pytest.raises(ValueError, match="timezone-aware"):
        local_text(datetime(2026, 1, 14, 23, 30), AMSTERDAM)


# -- the zone comes from the region policy -----------------------------------------------


def test_the_policy_zone_defaults_to_amsterdam() -> None:
    assert RegionPolicy().time_zone == AMSTERDAM
    assert RegionPolicy(time_zone="Europe/Brussels").time_zone == "Europe/Brussels"


@pytest.mark.parametrize("name", ["Europe/Amsterdm", "CEST", "../etc/passwd", ""])
def test_an_unknown_zone_is_refused_by_the_policy(name: str) -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        RegionPolicy(time_zone=name)


def test_an_unknown_zone_in_a_policy_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "regio.toml"
    path.write_text('time_zone = "Europe/Amsterdm"\n', encoding="utf-8")
    with pytest.raises(PolicyFileError) as info:
        load_policy(path)
    assert info.value.problems == [
        "time_zone: unknown time zone 'Europe/Amsterdm'; use an IANA name such as "
        "Europe/Amsterdam (got 'Europe/Amsterdm')"]


def test_a_calendar_refuses_an_unknown_zone() -> None:
    with pytest.raises(UnknownTimeZoneError):
        dutch_calendar(range(2026, 2027), time_zone="Europe/Amsterdm")


def test_the_decision_context_today_is_the_local_day() -> None:
    late = utc(2026, 1, 14, 23, 30)
    assert DecisionContext(now=late, policy=RegionPolicy()).today == date(2026, 1, 15)
    london = RegionPolicy(time_zone="Europe/London")
    assert DecisionContext(now=late, policy=london).today == date(2026, 1, 14)


# -- working days -------------------------------------------------------------------------


def test_late_on_a_friday_in_utc_is_saturday_in_amsterdam() -> None:
    # Friday 9 January 2026, 23:30 UTC is Saturday 00:30 in Amsterdam (winter).
    start = utc(2026, 1, 9, 23, 30)
    assert not NL.is_working_day(start)
    # Day 1 is Monday 12 January; the deadline keeps the local 00:30.
    assert NL.add_working_days(start, 1) == utc(2026, 1, 11, 23, 30)
    # Mon 12 (1), Tue 13, Wed 14, Thu 15, Fri 16 (5), 00:30 local.
    assert NL.add_working_days(start, 5) == utc(2026, 1, 15, 23, 30)
    assert NL.add_working_days(start, 0) == start
    # An hour earlier it is still Friday in Amsterdam (23:30 local).
    friday = utc(2026, 1, 9, 22, 30)
    assert NL.is_working_day(friday)
    assert NL.add_working_days(friday, 1) == utc(2026, 1, 12, 22, 30)


def test_late_on_a_friday_in_utc_in_summer() -> None:
    # Friday 10 July 2026, 22:30 UTC is Saturday 00:30 in Amsterdam (summer).
    start = utc(2026, 7, 10, 22, 30)
    assert not NL.is_working_day(start)
    assert NL.add_working_days(start, 1) == utc(2026, 7, 12, 22, 30)  # Mon 13, 00:30
    friday = utc(2026, 7, 10, 21, 30)  # 23:30 local, still Friday
    assert NL.add_working_days(friday, 1) == utc(2026, 7, 13, 21, 30)  # Mon 13, 23:30


def test_working_days_across_the_switch_to_summer_time_keep_the_local_hour() -> None:
    start = utc(2026, 3, 27, 8, 0)  # Friday 09:00 CET
    assert NL.add_working_days(start, 1) == utc(2026, 3, 30, 7, 0)  # Monday 09:00 CEST
    # Mon 30 (1), Tue 31, Wed 1 Apr, Thu 2, Good Friday 3 Apr (5: a working day here).
    assert NL.add_working_days(start, 5) == utc(2026, 4, 3, 7, 0)
    # The night of the switch: Sunday 00:30 CET counts from Sunday; Monday keeps 00:30.
    night = utc(2026, 3, 28, 23, 30)
    assert NL.add_working_days(night, 1) == utc(2026, 3, 29, 22, 30)


def test_working_days_across_the_switch_back_to_winter_time_keep_the_local_hour() -> None:
    start = utc(2026, 10, 23, 7, 0)  # Friday 09:00 CEST
    assert NL.add_working_days(start, 1) == utc(2026, 10, 26, 8, 0)  # Monday 09:00 CET
    late = utc(2026, 10, 23, 22, 30)  # Saturday 00:30 CEST
    assert NL.add_working_days(late, 1) == utc(2026, 10, 25, 23, 30)  # Monday 00:30 CET


def test_the_deadline_is_in_the_tzinfo_of_its_start() -> None:
    deadline = NL.add_working_days(utc(2026, 3, 27, 8, 0), 1)
    assert deadline.tzinfo is UTC
    assert (deadline.hour, deadline.minute) == (7, 0)


def test_working_days_between_count_local_days() -> None:
    # Saturday 00:30 to Tuesday 00:30 in Amsterdam: Monday and Tuesday have passed.
    # (In UTC days, Friday to Monday, that would be one.)
    assert NL.working_days_between(utc(2026, 1, 9, 23, 30), utc(2026, 1, 12, 23, 30)) == 2


def test_a_calendar_counts_in_its_own_zone() -> None:
    london = dutch_calendar(range(2026, 2027), time_zone="Europe/London")
    start = utc(2026, 1, 9, 23, 30)  # still Friday in London
    assert london.is_working_day(start)
    assert london.add_working_days(start, 1) == utc(2026, 1, 12, 23, 30)
    assert london != dutch_calendar(range(2026, 2027))


def test_zero_working_days_from_the_repeated_hour_is_the_same_instant() -> None:
    # 02:30 happens twice in Amsterdam on 25 October 2026; each is kept as it is.
    first, second = utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)
    assert NL.add_working_days(first, 0) == first
    assert NL.add_working_days(second, 0) == second
    assert NL.add_working_days(second, 1) == utc(2026, 10, 26, 1, 30)  # Monday 02:30 CET


# -- the decider at 23:30 UTC -------------------------------------------------------------


@pytest.mark.parametrize("at", [
    utc(2025, 3, 24, 23, 30),  # winter: Tuesday 25 March, 00:30 in Amsterdam
    utc(2025, 6, 30, 22, 30),  # summer: Tuesday 1 July, 00:30 in Amsterdam
])
def test_an_evaluation_date_of_the_local_today_is_not_in_the_future(at: datetime) -> None:
    today = at.date() + timedelta(days=1)
    story = skipped()
    story.refuses(AdoptPlan(actor=ACTOR, plan=plan(evaluation_date=today)),
                  f"the evaluation date {today} must be in the future", at=at)
    story.do(AdoptPlan(actor=ACTOR, plan=plan(evaluation_date=today + timedelta(days=1))),
             at=at)
    assert story.state.plan is not None


def test_the_next_evaluation_date_is_compared_with_the_local_today() -> None:
    story = planned()
    at = utc(2025, 4, 29, 22, 30)  # Wednesday 30 April, 00:30 in Amsterdam
    results = (GoalResult(goal_id="g-1", progress=GoalProgress.PROGRESSING),)
    story.refuses(EvaluatePlan(actor=ACTOR, results=results,
                               next_evaluation_date=date(2025, 4, 30)),
                  "the next evaluation date must be in the future", at=at)
    story.do(EvaluatePlan(actor=ACTOR, results=results, next_evaluation_date=date(2025, 5, 2)),
             at=at)
    assert story.state.plan is not None
    assert story.state.plan.evaluation_date == date(2025, 5, 2)


def test_a_follow_up_due_on_the_local_today_is_refused() -> None:
    story = planned()
    fire(story, end_of_day(EVALUATION_DAY))  # evaluation overdue: episode ep-1
    for event in record_step(story.state, LevelStep(
            episode_id="ep-1", level=1, assignee_id="pro-1", role="coordinator",
            deadline=utc(2025, 5, 9, 22, 0), reason="opened")):
        story.state = evolve(story.state, event, story.now)
    at = utc(2025, 5, 5, 22, 30)  # Tuesday 6 May, 00:30 in Amsterdam
    resolve = ResolveEscalation(
        actor="pro-1", episode_id="ep-1", by="pro-1", decision="extra gesprek",
        follow_ups=(agreement("f-1", due=date(2025, 5, 6)),),
        next_evaluation_date=date(2025, 6, 1))
    story.refuses(resolve, "follow-up f-1 must be due in the future", at=at)
    story.refuses(resolve.model_copy(update={"follow_ups": (), "next_evaluation_date":
                                             date(2025, 5, 6)}),
                  "the next evaluation date must be in the future", at=at)
    story.do(resolve.model_copy(update={"follow_ups": (
        agreement("f-1", due=date(2025, 5, 7)),)}), at=at)


def test_a_child_is_12_from_the_first_minute_of_the_birthday_in_amsterdam() -> None:
    # Sam (c-1) is born on 2 September 2014; 12 on 2 September 2026, which begins at
    # 22:00 UTC on 1 September (summer time). From 12 the child consents too.
    story = referred()
    consent = GiveConsent(actor=ACTOR, consent_id="con-1", subject_id="c-1",
                          purpose=ConsentPurpose.HELP, given_by=("p-1",))
    story.refuses(consent, r"must be given by c-1, p-1; missing: c-1",
                  at=utc(2026, 9, 1, 22, 30))
    story.do(consent, at=utc(2026, 9, 1, 21, 30))  # 23:30 on 1 September: still 11
    assert [c.consent_id for c in story.state.consents] == ["con-1"]


def test_the_big5_age_is_taken_on_the_local_day() -> None:
    # 17 on 3 May 2025, which begins at 22:00 UTC on 2 May (summer time).
    young = family(parent(), child("c-1", born=date(2008, 5, 3)))
    close = CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED)
    finally_evaluated(ref=young).refuses(close, "c-1 is 17", at=utc(2025, 5, 2, 22, 30))
    story = finally_evaluated(ref=young)
    story.do(close, at=utc(2025, 5, 2, 21, 30))
    story = finally_evaluated(ref=young)
    story.do(close.model_copy(update={"big5": (all_arranged("c-1", "oma"),)}),
             at=utc(2025, 5, 2, 22, 30))


def test_a_reopened_plan_is_evaluated_whole_weeks_after_the_local_day() -> None:
    # Saturday 14 March 2026, 23:30 UTC is Sunday 15 March in Amsterdam; 6 weeks later.
    assert RegionPolicy().reopen_evaluation_date(utc(2026, 3, 14, 23, 30)) == date(2026, 4, 26)
    assert RegionPolicy().reopen_evaluation_date(utc(2026, 3, 14, 22, 30)) == date(2026, 4, 25)


# -- the clocks ---------------------------------------------------------------------------


def test_an_evaluation_on_a_switch_day_is_overdue_at_its_local_midnight() -> None:
    story = skipped()
    story.do(AdoptPlan(actor=ACTOR, plan=plan(evaluation_date=date(2026, 3, 29))))
    assert next_deadline(story.state, story.policy) == utc(2026, 3, 29, 22, 0)
    story = skipped()
    story.do(AdoptPlan(actor=ACTOR, plan=plan(evaluation_date=date(2026, 10, 25))))
    assert next_deadline(story.state, story.policy) == utc(2026, 10, 25, 23, 0)


def test_the_zone_reaches_the_clocks_from_the_policy() -> None:
    story = planned()
    assert next_deadline(story.state, story.policy) == utc(2025, 5, 1, 22, 0)
    london = RegionPolicy(time_zone="Europe/London")
    assert next_deadline(story.state, london) == utc(2025, 5, 1, 23, 0)


def test_a_finding_text_shows_the_local_day() -> None:
    referred_at = utc(2026, 1, 14, 23, 30)  # 15 January in Amsterdam
    state = evolve(TrajectoryState(), TrajectoryReferred(case_id="case-1",
                                                         referral=referral()), referred_at)
    [deadline] = deadlines(state, RegionPolicy())
    assert isinstance(deadline.event, StagnationFound)
    assert deadline.event.rule is StagnationRule.WAITING_NORM_INTAKE
    assert deadline.event.evidence == (
        "no intake within 4 weeks of the referral on 2026-01-15")

