"""How much time an escalation episode's assignee has left, in Dutch working days on the
region's calendar (weekends and national holidays do not count), as the ladder counts."""

from __future__ import annotations

from datetime import date, datetime

from domain.calendar import dutch_calendar
from workers.cli.output import due_day


def working_days_left(deadline: datetime, today: date, time_zone: str) -> int:
    """Working days from `today` to the deadline's day: 0 on the day itself, negative
    once it has passed (working days overdue)."""
    due = due_day(deadline, time_zone)
    # The same calendar the `dutch_holidays` activity gives the ladder.
    calendar = dutch_calendar(range(min(today.year, due.year), max(today.year, due.year) + 1),
                              time_zone=time_zone)
    return calendar.working_days_between(today, due)


def days_left_text(days: int) -> str:
    if days < 0:
        return f"overdue by {-days} working day{'s' if days != -1 else ''}"
    if days == 0:
        return "due today"
    return f"{days} working day{'s' if days != 1 else ''} left"
