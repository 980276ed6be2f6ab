"""Working days left to a deadline, on the region's calendar day; overdue when passed."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.calendar import dutch_calendar
from domain.urgency import countdown

CALENDAR = dutch_calendar(range(2026, 2028))
ZONE = "Europe/Amsterdam"


def test_working_days_left_skip_the_weekend_and_christmas() -> None:
    friday = datetime(2026, 12, 18, 10, 0, tzinfo=UTC)
    monday_after_christmas = datetime(2026, 12, 28, 10, 0, tzinfo=UTC)
    left = countdown(monday_after_christmas, friday, CALENDAR, ZONE)
    # Mon 21, Tue 22, Wed 23, Thu 24, Mon 28 (25 and 26 are holidays): 5 working days.
    assert (left.working_days_left, left.overdue) == (5, False)


def test_a_passed_deadline_is_overdue_by_its_working_days() -> None:
    deadline = datetime(2026, 12, 14, 10, 0, tzinfo=UTC)  # a Monday
    later_that_day = datetime(2026, 12, 14, 15, 0, tzinfo=UTC)
    assert countdown(deadline, later_that_day, CALENDAR, ZONE).overdue
    wednesday = datetime(2026, 12, 16, 9, 0, tzinfo=UTC)
    left = countdown(deadline, wednesday, CALENDAR, ZONE)
    assert (left.working_days_left, left.overdue) == (-2, True)


def test_the_day_is_the_amsterdam_day() -> None:
    # 23:30 UTC on Friday is already Saturday in Amsterdam: no working day is left before
    # a deadline on Monday morning but Monday itself.
    friday_night = datetime(2026, 12, 18, 23, 30, tzinfo=UTC)
    monday = datetime(2026, 12, 21, 8, 0, tzinfo=UTC)
    assert countdown(monday, friday_night, CALENDAR, ZONE).working_days_left == 1
