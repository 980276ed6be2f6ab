"""The region's yearly figures (docs/domain.md rule 14), from the read models.

A year is a calendar year in the region's time zone (`RegionPolicy.time_zone`): an event
belongs to it when it happened on or after 1 January 00:00 local time and before the
next 1 January. Every figure is defined in its field's comment and in
docs/read_models.md; the norms and periods come from the region policy.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from domain.closure import ClosureReason
from domain.events import StagnationRule
from domain.local_time import local_date
from domain.plan import PlanSource, SkipGround
from domain.policy import RegionPolicy
from infra.caseload import CaseloadRow, caseloads
from infra.escalation_board import EpisodeStatus
from infra.pgtypes import Conn
from infra.policy_file import policy_from_env
from infra.waiting import StageSummary, calendar_for, median, start_of_day, summarise, today_in
from infra.waiting import waiting_times as waiting_rows


class StagnationFigures(BaseModel):
    """Escalation episodes opened in the year for one cause, and how they ended (as far
    as they ended when the report is made)."""

    model_config = ConfigDict(frozen=True)
    cause: StagnationRule
    opened: int
    resolved_at_level: dict[int, int]  # resolved by the assignee, per ladder level (1-3)
    cleared_at_level: dict[int, int]  # closed without a decision (cause cleared), per
    # the level it had reached (0: before a level was assigned)
    still_open: int


class PlanParticipation(BaseModel):
    """Plan versions adopted in the year from the family's own plan, a professional plan
    or an adjustment (not the versions an escalation decision made: nobody is asked)."""

    model_config = ConfigDict(frozen=True)
    plans: int
    young_person_took_part: int
    young_person_did_not: int
    not_recorded: int  # plans from before this was recorded, or left out
    share_took_part: float | None  # took_part / (took_part + did_not); None without any


class RevolvingDoor(BaseModel):
    """Closures in the year and how many a relapse reopened (draaideur). A reopening is
    only possible inside the aftercare window (`aftercare_months` of the policy), so
    `rate` = reopened / closures counts reopenings within that window after a closure in
    the year, as known when the report is made; `still_in_window` of the closures could
    still be reopened."""

    model_config = ConfigDict(frozen=True)
    aftercare_months: int
    closures: int
    reopened: int
    still_in_window: int
    rate: float | None  # None without closures


class RegionReport(BaseModel):
    model_config = ConfigDict(frozen=True)
    year: int
    region: str | None  # None: every region in the database
    as_of: date  # the day the open waits, still-open episodes and windows are judged
    referred: int  # trajectories whose referral (the first) was in the year
    started: int  # trajectories whose care first started in the year
    closed: int  # closures in the year (a trajectory closed twice counts twice)
    closed_by_reason: dict[ClosureReason, int]
    family_group_plans_offered: int  # offers made in the year
    family_group_plans_made: int  # family group plans adopted in the year
    family_group_plans_lapsed: int  # offers that lapsed in the year (declined, or term over)
    family_group_plans_skipped: dict[SkipGround, int]  # skipped in the year, by legal ground
    first_plans: int  # trajectories whose first plan was adopted in the year
    median_days_to_first_plan: float | None  # calendar days, referral to first plan
    median_working_days_to_first_plan: float | None  # Dutch working days, the same span
    waiting: list[StageSummary]  # waits that began in the year, against the norms
    stagnations: list[StagnationFigures]  # per cause, episodes opened in the year
    binding_decisions: int  # level-3 binding decisions (doorzettingsmacht) in the year
    revolving_door: RevolvingDoor
    caseloads: list[CaseloadRow]  # now (as_of), not over the year: a caseload is a state
    coordinators_over_cap: int
    participation: PlanParticipation


def year_bounds(year: int, policy: RegionPolicy) -> tuple[datetime, datetime]:
    """The instants (UTC) the region's calendar year begins and the next one begins."""
    return start_of_day(date(year, 1, 1), policy), start_of_day(date(year + 1, 1, 1), policy)


async def region_report(conn: Conn, year: int, region: str | None = None, *,
                        today: date | None = None, policy: RegionPolicy | None = None
                        ) -> RegionReport:
    policy = policy or policy_from_env()
    today = today or today_in(policy)
    begin, end = year_bounds(year, policy)
    args = (begin, end, region)
    in_region = "($3::text IS NULL OR region = $3)"

    async def count(column: str) -> int:
        value: int = await conn.fetchval(
            f"SELECT count(*) FROM case_list WHERE {column} >= $1 AND {column} < $2 "
            f"AND {in_region}", *args)
        return value

    closures = await conn.fetch(
        f"""SELECT k.reason, k.closed_at, k.reopened_at FROM case_closures k
            JOIN case_list c USING (case_id)
            WHERE k.closed_at >= $1 AND k.closed_at < $2 AND {in_region}""", *args)
    skipped = await conn.fetch(
        f"""SELECT fgp_skip_ground, count(*) AS n FROM case_list
            WHERE fgp_skipped_at >= $1 AND fgp_skipped_at < $2 AND {in_region}
            GROUP BY fgp_skip_ground""", *args)
    first_plans = await conn.fetch(
        f"""SELECT referred_at, first_plan_at FROM case_list
            WHERE first_plan_at >= $1 AND first_plan_at < $2 AND {in_region}""", *args)
    episodes = await conn.fetch(
        f"""SELECT e.cause, e.status, e.ended_level, e.binding, e.ended_at, e.opened_at
            FROM escalation_episodes e JOIN case_list c USING (case_id)
            WHERE ((e.opened_at >= $1 AND e.opened_at < $2)
                   OR (e.ended_at >= $1 AND e.ended_at < $2)) AND {in_region}""", *args)
    plans = await conn.fetch(
        f"""SELECT p.young_person_took_part AS took_part FROM plan_adoptions p
            JOIN case_list c USING (case_id)
            WHERE p.adopted_at >= $1 AND p.adopted_at < $2 AND p.source <> $4
              AND {in_region}""", *args, PlanSource.ESCALATION.value)

    spans = [(local_date(r["referred_at"], policy.time_zone),
              local_date(r["first_plan_at"], policy.time_zone)) for r in first_plans]
    cal = calendar_for(policy, [r["referred_at"] for r in first_plans], today)
    waits = await waiting_rows(conn, region=region, year=year, today=today, policy=policy)
    loads = await caseloads(conn, region, policy=policy)
    as_of = start_of_day(today, policy)
    took = [r["took_part"] for r in plans]
    yes, no = took.count(True), took.count(False)
    reopened = sum(r["reopened_at"] is not None for r in closures)
    return RegionReport(
        year=year, region=region, as_of=today,
        referred=await count("referred_at"), started=await count("care_started_at"),
        closed=len(closures),
        closed_by_reason={reason: n for reason in ClosureReason
                          if (n := sum(r["reason"] == reason.value for r in closures))},
        family_group_plans_offered=await count("fgp_offered_at"),
        family_group_plans_made=await count("fgp_made_at"),
        family_group_plans_lapsed=await count("fgp_lapsed_at"),
        family_group_plans_skipped={SkipGround(r["fgp_skip_ground"]): r["n"]
                                    for r in skipped},
        first_plans=len(spans),
        median_days_to_first_plan=median(sorted((b - a).days for a, b in spans)),
        median_working_days_to_first_plan=median(sorted(
            cal.working_days_between(a, b) for a, b in spans)),
        waiting=summarise(waits, policy),
        stagnations=_stagnations([dict(r) for r in episodes], begin, end),
        binding_decisions=sum(r["binding"] and r["ended_at"] is not None
                              and begin <= r["ended_at"] < end for r in episodes),
        revolving_door=RevolvingDoor(
            aftercare_months=policy.aftercare_months, closures=len(closures),
            reopened=reopened,
            still_in_window=sum(r["reopened_at"] is None
                                and policy.aftercare_end(r["closed_at"]) > as_of
                                for r in closures),
            rate=reopened / len(closures) if closures else None),
        caseloads=loads, coordinators_over_cap=sum(c.over_cap for c in loads),
        participation=PlanParticipation(
            plans=len(took), young_person_took_part=yes, young_person_did_not=no,
            not_recorded=took.count(None),
            share_took_part=yes / (yes + no) if yes + no else None))


def _stagnations(episodes: list[dict[str, object]], begin: datetime, end: datetime
                 ) -> list[StagnationFigures]:
    figures: list[StagnationFigures] = []
    for cause in StagnationRule:
        opened = [e for e in episodes if e["cause"] == cause.value
                  and isinstance(e["opened_at"], datetime) and begin <= e["opened_at"] < end]
        if not opened:
            continue
        resolved: dict[int, int] = {}
        cleared: dict[int, int] = {}
        for e in opened:
            level = e["ended_level"] if isinstance(e["ended_level"], int) else 0
            if e["status"] == EpisodeStatus.RESOLVED.value:
                resolved[level] = resolved.get(level, 0) + 1
            elif e["status"] == EpisodeStatus.CLOSED.value:
                cleared[level] = cleared.get(level, 0) + 1
        figures.append(StagnationFigures(
            cause=cause, opened=len(opened), resolved_at_level=dict(sorted(resolved.items())),
            cleared_at_level=dict(sorted(cleared.items())),
            still_open=sum(e["status"] == EpisodeStatus.OPEN.value for e in opened)))
    return figures



