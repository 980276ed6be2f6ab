"""The region's calendar day and clock: the one place that turns an instant into them.

Instants (when an event happened, when a deadline passes) are stored in UTC. Rules about
a calendar day are not: an evaluation date, an agreement's due date, a child's age on a
day and a count of working days are about the day the family and the caseworkers live
on, which in the Netherlands is the day in Europe/Amsterdam. An event at 23:30 UTC in
winter happens on the next Amsterdam day (00:30), so taking `instant.date()` in UTC would
count from the wrong day. Texts for people show local time for the same reason.

The zone is the region policy's `time_zone` (an IANA name), passed in by the caller; the
functions here are pure and never read a clock, so they run inside Temporal workflows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIME_ZONE = "Europe/Amsterdam"


class UnknownTimeZoneError(ValueError):
    """A zone name the time zone database does not know."""


@cache
def zone(name: str) -> ZoneInfo:
    """The zone called `name`. Cached: every deadline and date rule asks for it, and a
    zone's file needs reading once per process. (Inside a Temporal workflow this works
    because `domain` is passed through the sandbox, see `infra.temporal`.)"""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # ValueError: a malformed key such as an absolute path or "..".
        raise UnknownTimeZoneError(
            f"unknown time zone {name!r}; use an IANA name such as {DEFAULT_TIME_ZONE}"
        ) from None


def local_date(instant: datetime, time_zone: str) -> date:
    """The calendar day in `time_zone` on which `instant` falls."""
    return _require_aware(instant).astimezone(zone(time_zone)).date()


def end_of_local_day(day: date, time_zone: str) -> datetime:
    """The instant `day` is over in `time_zone` (local midnight starting the next day), as
    an aware UTC datetime: 2026-03-29 (summer time from that night) ends at 22:00 UTC,
    2026-10-25 (winter time again) at 23:00 UTC."""
    midnight = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone(time_zone))
    return midnight.astimezone(UTC)


def local_text(instant: datetime, time_zone: str) -> str:
    """`instant` for a message to people in the region, in their clock time and naming
    the zone by its place, e.g. "2026-12-02 17:00 (Amsterdam)". Not "CET"/"CEST": that
    changes twice a year and is easily misread; the place name never does."""
    local = _require_aware(instant).astimezone(zone(time_zone))
    place = time_zone.rsplit("/", 1)[-1].replace("_", " ")
    return f"{local:%Y-%m-%d %H:%M} ({place})"


def _require_aware(instant: datetime) -> datetime:
    # A naive datetime would be taken as the machine's own local time by astimezone:
    # different on every worker. Refuse it where the mistake is made.
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"an instant needs a timezone-aware datetime (got {instant!r})")
    return instant


# Fixed English abbreviations: `%b` follows the process's locale, which differs per machine.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_text(day: date) -> str:
    """A calendar day in a few characters for an operator's screen, e.g. "21 Dec 2026"."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
