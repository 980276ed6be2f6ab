"""Waiting times against the region's norms (docs/domain.md rule 4).

Two stages, each with its norm from the region policy (`domain.policy.RegionPolicy`):

- intake: from the referral (sign-up) to the intake, norm `waiting_norm_intake_weeks`;
- care start: from an accepted intake to the start of care, norm
  `waiting_norm_care_start_weeks` (the Treeknorm counts it from the intake).

A finished wait is within the norm when it ended at or before the norm's deadline (the
policy's `intake_deadline` / `care_start_deadline`, the same instants the stagnation
rules use). A wait still open on `today` is beyond the norm once the deadline fell
before `today` began, in the region's time zone. Time waited is counted in Dutch working
days (`domain.calendar`): the working days after the day the wait began, up to and
including the day it ended (or `today`).

Read from `case_list` (infra/case_list.py); nothing here is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.calendar import WorkingDayCalendar, dutch_calendar
from domain.local_time import end_of_local_day, local_date
from domain.policy import RegionPolicy
from infra.pgtypes import Conn
from infra.policy_file import policy_from_env


class WaitingStage(StrEnum):
    INTAKE = "intake"  # referral to intake
    CARE_START = "care_start"  # accepted intake to start of care


def norm_weeks(policy: RegionPolicy, stage: WaitingStage) -> int:
    match stage:
        case WaitingStage.INTAKE:
            return policy.waiting_norm_intake_weeks
        case WaitingStage.CARE_START:
            return policy.waiting_norm_care_start_weeks


def norm_deadline(policy: RegionPolicy, stage: WaitingStage, since: datetime) -> datetime:
    match stage:
        case WaitingStage.INTAKE:
            return policy.intake_deadline(since)
        case WaitingStage.CARE_START:
            return policy.care_start_deadline(since)


def start_of_day(day: date, policy: RegionPolicy) -> datetime:
    """The instant `day` begins in the region's time zone (UTC)."""
    return end_of_local_day(day - timedelta(days=1), policy.time_zone)


def today_in(policy: RegionPolicy) -> date:
    """The region's calendar day now: the default `today` of the operators' queries."""
    return local_date(datetime.now(UTC), policy.time_zone)


def calendar_for(policy: RegionPolicy, instants: Sequence[datetime], today: date
                 ) -> WorkingDayCalendar:
    """A working-day calendar covering every year from the earliest instant to `today`."""
    years = [local_date(i, policy.time_zone).year for i in instants] + [today.year]
    return dutch_calendar(range(min(years), max(years) + 1), time_zone=policy.time_zone)


class WaitingRow(BaseModel):
    """One wait of one case at one stage."""

    model_config = ConfigDict(frozen=True)
    case_id: str
    region: str
    stage: WaitingStage
    norm_weeks: int
    since: datetime
    norm_deadline: datetime
    ended_at: datetime | None  # None: still waiting on `today`
    working_days_waited: int
    within_norm: bool


class StageSummary(BaseModel):
    model_config = ConfigDict(frozen=True)
    stage: WaitingStage
    norm_weeks: int
    waits: int
    within_norm: int
    still_waiting: int
    median_working_days: float | None
    share_within_norm: float | None  # within_norm / waits; None without waits


_WAITS = """
    SELECT case_id, region, referred_at, intake_at, intake_outcome, care_started_at
    FROM case_list
    WHERE ($1::text IS NULL OR region = $1)
"""


async def waiting_times(conn: Conn, *, region: str | None = None, year: int | None = None,
                       today: date | None = None, policy: RegionPolicy | None = None
                       ) -> list[WaitingRow]:
    """Every wait, finished or open on `today`; with `year`, the waits that began in that
    calendar year (region's time zone). Ordered by when the wait began."""
    policy = policy or policy_from_env()
    today = today or today_in(policy)
    as_of = start_of_day(today, policy)
    records = await conn.fetch(_WAITS + " ORDER BY referred_at, case_id", region)
    waits: list[tuple[str, str, WaitingStage, datetime, datetime | None]] = []
    for r in records:
        waits.append((r["case_id"], r["region"], WaitingStage.INTAKE, r["referred_at"],
                      r["intake_at"]))
        if r["intake_at"] is not None and r["intake_outcome"] == "accepted":
            waits.append((r["case_id"], r["region"], WaitingStage.CARE_START, r["intake_at"],
                          r["care_started_at"]))
    waits = [w for w in waits if w[3] < end_of_local_day(today, policy.time_zone)
             and (year is None or local_date(w[3], policy.time_zone).year == year)]
    if not waits:
        return []
    cal = calendar_for(policy, [w[3] for w in waits], today)
    rows: list[WaitingRow] = []
    for case_id, region_name, stage, since, ended in waits:
        deadline = norm_deadline(policy, stage, since)
        until = today if ended is None else local_date(ended, policy.time_zone)
        within = deadline >= as_of if ended is None else ended <= deadline
        rows.append(WaitingRow(
            case_id=case_id, region=region_name, stage=stage,
            norm_weeks=norm_weeks(policy, stage), since=since, norm_deadline=deadline,
            ended_at=ended,
            working_days_waited=cal.working_days_between(
                local_date(since, policy.time_zone), until),
            within_norm=within))
    rows.sort(key=lambda w: (w.since, w.case_id, w.stage != WaitingStage.INTAKE))
    return rows


def summarise(rows: Sequence[WaitingRow], policy: RegionPolicy) -> list[StageSummary]:
    summary: list[StageSummary] = []
    for stage in WaitingStage:
        of_stage = [r for r in rows if r.stage is stage]
        days = sorted(r.working_days_waited for r in of_stage)
        within = sum(r.within_norm for r in of_stage)
        summary.append(StageSummary(
            stage=stage, norm_weeks=norm_weeks(policy, stage), waits=len(of_stage),
            within_norm=within, still_waiting=sum(r.ended_at is None for r in of_stage),
            median_working_days=median(days),
            share_within_norm=within / len(of_stage) if of_stage else None))
    return summary


def median(values: Sequence[float]) -> float | None:
    """The median of already sorted values, None for none."""
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return float(values[middle])
    return (values[middle - 1] + values[middle]) / 2


async def waiting_summary(conn: Conn, *, region: str | None = None, year: int | None = None,
                          today: date | None = None, policy: RegionPolicy | None = None
                          ) -> list[StageSummary]:
    """Per stage: its norm, how many waits, how many within the norm, the median."""
    policy = policy or policy_from_env()
    rows = await waiting_times(conn, region=region, year=year, today=today, policy=policy)
    return summarise(rows, policy)
