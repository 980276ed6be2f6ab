"""Dates, names and domain values as the workspace shows them: Dutch notation on the
region's calendar day and clock (`domain.local_time`), erased fields as erased."""

from __future__ import annotations

from datetime import date, datetime

from domain.local_time import zone
from domain.personal import Erased
from workers.workspace.words_nl import MONTHS, word


def day_text(day: date | Erased | None) -> str:
    """E.g. "2 december 2026"."""
    if day is None:
        return "-"
    if isinstance(day, Erased):
        return word("case.name_erased")
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def moment_text(instant: datetime | None, time_zone: str) -> str:
    """E.g. "2 december 2026 17:05", in the region's clock time."""
    if instant is None:
        return "-"
    local = instant.astimezone(zone(time_zone))
    return f"{day_text(local.date())} {local:%H:%M}"


def local_day(instant: datetime, time_zone: str) -> date:
    return instant.astimezone(zone(time_zone)).date()


def personal(value: str | Erased | None) -> str:
    """A personal field: its words where the person's key still exists."""
    if value is None:
        return "-"
    if isinstance(value, Erased):
        return word("case.name_erased")
    return value
