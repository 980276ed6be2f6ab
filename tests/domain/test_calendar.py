"""Dutch working days. Expected dates are worked out by hand; each test double-checks the
weekdays it relies on with the stdlib `calendar` module, never with the code under test."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import (
    CalendarRangeError,
    WorkingDayCalendar,
    dutch_calendar,
    easter_sunday,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NL = dutch_calendar(range(2024, 2031))


def weekday(d: date) -> int:
    return calendar.weekday(d.year, d.month, d.day)


# -- Plain weekends ---------------------------------------------------------------------


def test_a_deadline_spanning_a_weekend_skips_saturday_and_sunday() -> None:
    start = date(2026, 1, 8)
    assert weekday(start) == calendar.THURSDAY
    # Fri 9 (1), Sat 10 and Sun 11 skipped, Mon 12 (2), Tue 13 (3).
    assert NL.add_working_days(start, 3) == date(2026, 1, 13)


def test_day_one_is_the_first_working_day_after_start_even_from_a_weekend() -> None:
    saturday = date(2026, 1, 10)
    assert weekday(saturday) == calendar.SATURDAY
    assert NL.add_working_days(saturday, 1) == date(2026, 1, 12)
    assert NL.add_working_days(saturday, 0) == saturday


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        NL.add_working_days(date(2026, 1, 8), -1)


# -- Holidays ---------------------------------------------------------------------------


def test_kings_day_2027_on_a_tuesday_is_not_a_working_day() -> None:
    kings_day = date(2027, 4, 27)
    assert weekday(kings_day) == calendar.TUESDAY
    assert not NL.is_working_day(kings_day)
    friday = date(2027, 4, 23)
    assert weekday(friday) == calendar.FRIDAY
    # Mon 26 (1), Tue 27 King's Day, Wed 28 (2), Thu 29 (3), Fri 30 (4), Mon 3 May (5).
    assert NL.add_working_days(friday, 5) == date(2027, 5, 3)


def test_kings_day_2025_moves_to_saturday_26_april_not_to_monday() -> None:
    assert weekday(date(2025, 4, 27)) == calendar.SUNDAY
    assert weekday(date(2025, 4, 26)) == calendar.SATURDAY
    assert date(2025, 4, 26) in NL.holidays
    assert date(2025, 4, 27) not in NL.holidays
    # Saturday anyway: the Friday before and the Monday after are ordinary working days.
    assert NL.is_working_day(date(2025, 4, 25))
    assert NL.is_working_day(date(2025, 4, 28))
    assert NL.add_working_days(date(2025, 4, 25), 1) == date(2025, 4, 28)


def test_christmas_2026_on_friday_and_saturday_gives_no_substitute_monday() -> None:
    assert weekday(date(2026, 12, 25)) == calendar.FRIDAY
    assert weekday(date(2026, 12, 26)) == calendar.SATURDAY
    assert not NL.is_working_day(date(2026, 12, 25))
    assert NL.is_working_day(date(2026, 12, 28))
    # From Thu 24 Dec: Fri 25 Christmas, weekend, Mon 28 (1).
    assert NL.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    # Mon 28, Tue 29, Wed 30, Thu 31.
    assert NL.working_days_between(date(2026, 12, 24), date(2026, 12, 31)) == 4


def test_easter_monday_2027_is_a_holiday_and_good_friday_is_not() -> None:
    assert weekday(date(2027, 3, 29)) == calendar.MONDAY
    assert weekday(date(2027, 3, 26)) == calendar.FRIDAY
    assert not NL.is_working_day(date(2027, 3, 29))
    assert NL.is_working_day(date(2027, 3, 26))
    # From Thu 25 Mar: Fri 26 (1), weekend, Mon 29 Easter Monday, Tue 30 (2).
    assert NL.add_working_days(date(2027, 3, 25), 2) == date(2027, 3, 30)


def test_good_friday_can_be_made_a_day_off() -> None:
    with_good_friday = dutch_calendar(range(2027, 2028), good_friday=True)
    assert not with_good_friday.is_working_day(date(2027, 3, 26))
    # Wed 24 Mar: Thu 25 (1), Fri 26 Good Friday, weekend, Mon 29 Easter Monday, Tue 30 (2).
    assert with_good_friday.add_working_days(date(2027, 3, 24), 2) == date(2027, 3, 30)


def test_ascension_2027_is_a_holiday() -> None:
    assert weekday(date(2027, 5, 6)) == calendar.THURSDAY
    assert not NL.is_working_day(date(2027, 5, 6))
    # From Tue 4 May: Wed 5 (1, Liberation Day is not off in 2027), Thu 6 Ascension,
    # Fri 7 (2), weekend, Mon 10 (3).
    assert NL.add_working_days(date(2027, 5, 4), 3) == date(2027, 5, 10)


def test_whit_monday_2027_is_a_holiday() -> None:
    assert weekday(date(2027, 5, 17)) == calendar.MONDAY
    assert not NL.is_working_day(date(2027, 5, 17))


def test_liberation_day_is_off_in_lustrum_years_only_unless_the_region_says_every_year() -> None:
    assert weekday(date(2025, 5, 5)) == calendar.MONDAY
    assert weekday(date(2026, 5, 5)) == calendar.TUESDAY
    assert not NL.is_working_day(date(2025, 5, 5))
    assert NL.is_working_day(date(2026, 5, 5))
    every_year = dutch_calendar(range(2026, 2027), liberation_day_every_year=True)
    assert not every_year.is_working_day(date(2026, 5, 5))


def test_five_working_days_from_christmas_eve_2027() -> None:
    christmas_eve = date(2027, 12, 24)
    assert weekday(christmas_eve) == calendar.FRIDAY
    assert weekday(date(2028, 1, 1)) == calendar.SATURDAY
    # Christmas on Sat 25 and Sun 26 gives nothing extra: Mon 27 (1) ... Fri 31 (5).
    assert NL.add_working_days(christmas_eve, 5) == date(2027, 12, 31)
    # New Year's Day 2028 is a Saturday too: the sixth is Mon 3 Jan 2028.
    assert NL.add_working_days(christmas_eve, 6) == date(2028, 1, 3)


def test_new_years_day_2027_on_a_friday() -> None:
    assert weekday(date(2027, 1, 1)) == calendar.FRIDAY
    assert NL.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("year", "weekday_holidays"),
    [
        (
            2025,
            # New Year, Easter Monday, Liberation Day (lustrum), Ascension, Whit Monday,
            # Christmas. King's Day is Saturday 26 April.
            {
                date(2025, 1, 1),
                date(2025, 4, 21),
                date(2025, 5, 5),
                date(2025, 5, 29),
                date(2025, 6, 9),
                date(2025, 12, 25),
                date(2025, 12, 26),
            },
        ),
        (
            2026,
            {
                date(2026, 1, 1),
                date(2026, 4, 6),
                date(2026, 4, 27),
                date(2026, 5, 14),
                date(2026, 5, 25),
                date(2026, 12, 25),
            },
        ),
        (
            2027,
            # Christmas 2027 falls on Saturday and Sunday.
            {
                date(2027, 1, 1),
                date(2027, 3, 29),
                date(2027, 4, 27),
                date(2027, 5, 6),
                date(2027, 5, 17),
            },
        ),
    ],
)
def test_every_weekday_holiday_of_a_year(year: int, weekday_holidays: set[date]) -> None:
    days = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
    off = {
        d
        for d in days
        if d.year == year and weekday(d) < calendar.SATURDAY and not NL.is_working_day(d)
    }
    assert off == weekday_holidays


def test_easter_sunday_known_dates() -> None:
    assert easter_sunday(2025) == date(2025, 4, 20)
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert easter_sunday(2027) == date(2027, 3, 28)
    assert easter_sunday(2038) == date(2038, 4, 25)  # the latest possible date
    assert easter_sunday(2285) == date(2285, 3, 22)  # the earliest possible date


# -- Datetimes ----------------------------------------------------------------------------


def test_a_datetime_keeps_its_time_of_day_and_timezone_across_a_dst_change() -> None:
    # Summer time starts on Sunday 28 March 2027 (the last Sunday of March).
    assert max(week[calendar.SUNDAY] for week in calendar.monthcalendar(2027, 3)) == 28
    start = datetime(2027, 3, 25, 9, 0, tzinfo=AMSTERDAM)
    deadline = NL.add_working_days(start, 2)
    assert deadline == datetime(2027, 3, 30, 9, 0, tzinfo=AMSTERDAM)
    assert deadline.tzinfo is AMSTERDAM
    assert deadline.utcoffset() == timedelta(hours=2)


def test_a_utc_datetime_counts_from_its_own_date() -> None:
    start = datetime(2027, 4, 23, 14, 30, tzinfo=UTC)
    assert NL.add_working_days(start, 5) == datetime(2027, 5, 3, 14, 30, tzinfo=UTC)


# -- Counting between ---------------------------------------------------------------------


def test_working_days_between() -> None:
    thursday, next_tuesday = date(2026, 1, 8), date(2026, 1, 13)
    assert NL.working_days_between(thursday, next_tuesday) == 3
    assert NL.working_days_between(next_tuesday, thursday) == -3
    assert NL.working_days_between(thursday, thursday) == 0
    # Times of day are ignored.
    assert (
        NL.working_days_between(
            datetime(2026, 1, 8, 23, tzinfo=AMSTERDAM), datetime(2026, 1, 13, 1, tzinfo=AMSTERDAM)
        )
        == 3
    )


HOLIDAYS = frozenset({date(2026, 1, 1), date(2026, 4, 6), date(2026, 12, 25), date(2026, 12, 26)})
SMALL = WorkingDayCalendar(HOLIDAYS, years=range(2025, 2028))
DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))


@given(a=DAYS, b=DAYS)
def test_working_days_between_matches_counting_day_by_day(a: date, b: date) -> None:
    lo, hi = min(a, b), max(a, b)
    count = sum(
        1
        for i in range(1, (hi - lo).days + 1)
        if weekday(lo + timedelta(days=i)) < calendar.SATURDAY
        and lo + timedelta(days=i) not in HOLIDAYS
    )
    assert SMALL.working_days_between(a, b) == (count if a <= b else -count)


@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 9, 30)), n=st.integers(0, 40)
)
def test_add_then_count_gives_back_n(start: date, n: int) -> None:
    end = SMALL.add_working_days(start, n)
    assert SMALL.working_days_between(start, end) == n
    if n > 0:
        assert SMALL.is_working_day(end)


# -- Coverage -----------------------------------------------------------------------------


def test_a_date_outside_the_known_years_is_refused() -> None:
    with pytest.raises(CalendarRangeError, match="2031-01-02 is outside") as outside:
        NL.is_working_day(date(2031, 1, 2))
    assert outside.value.day == date(2031, 1, 2)  # a caller can fetch that year and retry
    # Counting that runs past the last known year is refused too.
    with pytest.raises(CalendarRangeError) as past:
        NL.add_working_days(date(2030, 12, 30), 5)
    assert past.value.day == date(2031, 1, 1)
    with pytest.raises(CalendarRangeError):
        NL.working_days_between(date(2023, 12, 29), date(2024, 1, 5))


def test_years_the_holidays_package_does_not_know_are_refused() -> None:
    with pytest.raises(ValueError, match="no Dutch holidays for 2101"):
        dutch_calendar(range(2100, 2102))


def test_a_calendar_without_years_knows_only_weekends() -> None:
    weekends_only = WorkingDayCalendar(frozenset())
    assert weekends_only.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 25)
    assert weekends_only.is_working_day(date(1999, 12, 31))


def test_holidays_must_be_dates_within_the_covered_years() -> None:
    with pytest.raises(TypeError, match="not datetimes"):
        WorkingDayCalendar({datetime(2026, 1, 1, tzinfo=UTC)})
    with pytest.raises(ValueError, match="outside the covered years"):
        WorkingDayCalendar({date(2024, 1, 1)}, years=range(2025, 2026))


def test_calendars_compare_by_holidays_and_years() -> None:
    assert dutch_calendar(range(2026, 2028)) == dutch_calendar(range(2026, 2028))
    assert dutch_calendar(range(2026, 2028)) != dutch_calendar(range(2026, 2029))
