"""Dutch working days (werkdagen), for deadlines such as the escalation ladder's.

docs/domain.md rule 9: each escalation level has a response deadline in Dutch working days;
weekends and national holidays do not count. `WorkingDayCalendar` is pure: it is built
from a set of holiday dates and never reads a clock, so it is safe inside Temporal
workflows. `dutch_calendar(years)` builds one from the `holidays` package.

Which days are holidays (checked against holidays 0.109, `holidays.NL`, category PUBLIC):

- Counted as days off: Nieuwjaarsdag (1 Jan), Tweede Paasdag (Easter Monday),
  Koningsdag (27 Apr, or Saturday 26 Apr when the 27th is a Sunday), Hemelvaartsdag
  (Ascension), Tweede Pinksterdag (Whit Monday), Eerste and Tweede Kerstdag (25/26 Dec).
  These are the Algemene termijnenwet's general holidays. Easter Sunday and Whit Sunday
  are in the package too; they are Sundays, so they change nothing.
- Goede Vrijdag (Good Friday): the package lists it as PUBLIC, but it is not a general
  holiday in the Netherlands (not in the Algemene termijnenwet, and most CAOs do not
  give it off). We remove it: a response deadline keeps running on Good Friday.
  `good_friday=True` puts it back for a region whose staff do have it off.
- Bevrijdingsdag (5 May): the package counts it only in lustrum years (2025, 2030, ...),
  following the many CAOs that give it off once every five years. We keep that: the
  deadlines are for professionals, and whether they work on 5 May is set by their CAO.
  `liberation_day_every_year=True` counts it every year (the Algemene termijnenwet's
  reading, for a region that prefers it).
- No substitute days: a holiday on a weekend is not moved to a weekday (Christmas on a
  Saturday gives no Monday off). The package does not add any for NL.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import overload

from domain.local_time import DEFAULT_TIME_ZONE, local_date, zone

_SATURDAY = 5  # date.weekday(): Monday is 0, so Saturday and Sunday are >= 5.


class CalendarRangeError(ValueError):
    """A date outside the years the calendar knows the holidays of. Counting on would
    silently treat that year's holidays as working days, so the calendar refuses. `day`
    is that date, so a caller can fetch the holidays of its year and count again."""

    def __init__(self, message: str, *, day: date) -> None:
        super().__init__(message)
        self.day = day


class WorkingDayCalendar:
    """Monday to Friday, minus the given holidays.

    `years`, when given, is the range of years the holiday set is complete for; asking
    about a date outside it raises `CalendarRangeError`. Without it every year is
    assumed covered (e.g. a calendar with weekends only).

    Times of day are ignored: an aware datetime counts as its calendar date in the
    region's `time_zone` (default Europe/Amsterdam), whatever zone it is given in, so an
    instant stored in UTC counts from the day it is in the Netherlands. A naive datetime
    is taken as a wall-clock time in that zone already.
    """

    __slots__ = ("_holidays", "_time_zone", "_weekday_holidays", "_years")

    def __init__(self, holidays: Iterable[date], *, years: range | None = None,
                 time_zone: str = DEFAULT_TIME_ZONE) -> None:
        zone(time_zone)  # an unknown zone fails here, not at the first deadline
        holiday_set = frozenset(holidays)
        for h in holiday_set:
            # A datetime never equals a date, so it would silently never match.
            if isinstance(h, datetime):
                raise TypeError(f"holidays must be dates, not datetimes (got {h!r})")
        if years is not None:
            if years.step != 1 or len(years) == 0:
                raise ValueError(f"years must be a non-empty range with step 1 (got {years!r})")
            outside = sorted(h for h in holiday_set if h.year not in years)
            if outside:
                raise ValueError(f"holidays outside the covered years {years!r}: {outside}")
        self._holidays = holiday_set
        # Holidays on a weekend are already not working days; keep the others sorted for
        # counting by bisection.
        self._weekday_holidays = tuple(sorted(h for h in holiday_set if h.weekday() < _SATURDAY))
        self._years = years
        self._time_zone = time_zone

    @property
    def holidays(self) -> frozenset[date]:
        return self._holidays

    @property
    def time_zone(self) -> str:
        return self._time_zone

    @property
    def years(self) -> range | None:
        return self._years

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkingDayCalendar):
            return NotImplemented
        return (self._holidays == other._holidays and self._years == other._years
                and self._time_zone == other._time_zone)

    def __hash__(self) -> int:
        return hash((self._holidays, self._years, self._time_zone))

    def __repr__(self) -> str:
        return (f"WorkingDayCalendar({len(self._holidays)} holidays, years={self._years!r}, "
                f"time_zone={self._time_zone!r})")

    def is_working_day(self, d: date) -> bool:
        day = self._covered(d)
        return day.weekday() < _SATURDAY and day not in self._holidays

    @overload
    def add_working_days(self, start: datetime, n: int) -> datetime: ...
    @overload
    def add_working_days(self, start: date, n: int) -> date: ...
    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start`, counted as deadlines are: day 1 is the first
        working day *after* start, whatever day start is. n = 0 returns start unchanged.

        An aware datetime counts from its calendar day in the region's zone, and the
        deadline keeps start's local time of day on the n-th working day (09:00 stays
        09:00 across a DST change), returned in start's own tzinfo (UTC in, UTC out)."""
        if n < 0:
            raise ValueError(f"n must be 0 or more working days (got {n})")
        day = self._covered(start)
        remaining = n
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        if isinstance(start, datetime):
            if start.tzinfo is None or start.utcoffset() is None:
                return start.replace(year=day.year, month=day.month, day=day.day)
            # The local time of day of start, not the end of the day: "5 working days from
            # Monday 14:00" is what a caseworker reads as next Monday 14:00, full working
            # days and no more; and the escalation ladder counts each level from the
            # previous deadline, which a deadline at local midnight would move to the next
            # day. The wall clock is kept in the region's zone and converted back, so a
            # deadline across a DST switch keeps its local hour and moves an hour in UTC.
            # A working day is never a Sunday, when Dutch clocks change, so that hour
            # exists exactly once on it (and n = 0 keeps start's fold, so start itself).
            local = start.astimezone(zone(self._time_zone))
            deadline = local.replace(year=day.year, month=day.month, day=day.day)
            return deadline.astimezone(start.tzinfo)
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b: how many working days of a deadline have
        passed between a and b. So `working_days_between(a, add_working_days(a, n)) == n`.
        Negative when b is before a. Times of day are ignored."""
        return self._working_days_up_to(self._covered(b)) - self._working_days_up_to(
            self._covered(a)
        )

    def _working_days_up_to(self, day: date) -> int:
        # Working days from 0001-01-01 (a Monday, ordinal 1) up to and including `day`:
        # five weekdays per full week, the partial week capped at five, minus holidays.
        ordinal = day.toordinal()
        weeks, rest = divmod(ordinal, 7)
        weekdays = weeks * 5 + min(rest, 5)
        return weekdays - bisect_right(self._weekday_holidays, day)

    def _covered(self, d: date) -> date:
        if isinstance(d, datetime):
            aware = d.tzinfo is not None and d.utcoffset() is not None
            day = local_date(d, self._time_zone) if aware else d.date()
        else:
            day = d
        if self._years is not None and day.year not in self._years:
            raise CalendarRangeError(
                f"{day.isoformat()} is outside the years this calendar knows the holidays "
                f"of ({self._years.start}-{self._years.stop - 1})", day=day
            )
        return day


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm
    (Meeus/Jones/Butcher). Used to find Good Friday without relying on holiday names."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def dutch_calendar(
    years: range,
    *,
    good_friday: bool = False,
    liberation_day_every_year: bool = False,
    time_zone: str = DEFAULT_TIME_ZONE,
) -> WorkingDayCalendar:
    """Dutch national holidays for `years` (see the module docstring for the choices),
    counted in the calendar days of `time_zone` (the region policy's).

    Build it once for a generous range (e.g. this year to ten years ahead): a date outside
    `years` raises `CalendarRangeError` rather than ignoring that year's holidays.
    """
    # Imported here: only this factory needs the package, so `WorkingDayCalendar` stays
    # importable (e.g. in the Temporal sandbox) without loading it.
    import holidays as holidays_package
    from holidays.constants import PUBLIC

    dutch = holidays_package.country_holidays("NL", years=years, categories=(PUBLIC,))
    days: set[date] = set(dutch.keys())
    for year in years:
        # The package only knows a bounded span of years (1966-2100 in 0.109); outside it
        # it returns nothing, which would make every weekday a working day.
        if date(year, 12, 25) not in days:
            raise ValueError(f"the holidays package has no Dutch holidays for {year}")
        friday = easter_sunday(year) - timedelta(days=2)
        if good_friday:
            days.add(friday)
        else:
            days.discard(friday)
        liberation = date(year, 5, 5)
        if liberation_day_every_year:
            days.add(liberation)
    return WorkingDayCalendar(days, years=years, time_zone=time_zone)
