"""The region's figures for 2025, against seven trajectories around both turns of the
year, each figure worked out by hand below (tests/infra/region_stories.py tells them)."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from domain.closure import ClosureReason
from domain.events import StagnationRule
from domain.plan import SkipGround
from domain.policy import RegionPolicy
from infra.caseload import CaseloadRow
from infra.event_store import PostgresEventStore
from infra.region_report import RegionReport, region_report
from infra.subscription import CatchUpSubscription
from infra.waiting import StageSummary, WaitingStage, waiting_summary
from tests.infra.region_stories import append_all, stories
from tests.infra.test_read_models import projections

POLICY = RegionPolicy(region="Haaglanden")
TODAY = date(2026, 1, 20)


@pytest.fixture
async def report(pg_store: PostgresEventStore, pool: asyncpg.Pool) -> RegionReport:
    await append_all(pg_store, stories())
    for name, projection, _ in projections():
        await CatchUpSubscription(pg_store, name, projection).catch_up()
    async with pool.acquire() as conn:
        return await region_report(conn, 2025, today=TODAY, policy=POLICY)


def test_trajectories_referred_started_and_closed(report: RegionReport) -> None:
    # Referred in 2025: b (00:30 on 1 Jan in Amsterdam), c, e, f, g; not a or d (2024).
    assert report.referred == 5
    # Care first started in 2025: a (6 Jan), b (17 Feb), f (28 Apr); d started in 2024.
    assert report.started == 3
    # Closed in 2025: b (3 Jun) and f (2 Sep); d closed at 00:30 on 1 Jan 2026 locally.
    assert report.closed == 2
    assert report.closed_by_reason == {ClosureReason.GOALS_ACHIEVED: 2}


def test_family_group_plans_and_the_first_plan(report: RegionReport) -> None:
    # Offered: a (6 Jan) and f (28 Apr); made: a's; f's lapsed (the family declined);
    # skipped: b on the parents' refusal (d's skip was in 2024).
    assert (report.family_group_plans_offered, report.family_group_plans_made,
            report.family_group_plans_lapsed) == (2, 1, 1)
    assert report.family_group_plans_skipped == {SkipGround.PARENTS_DECLINE: 1}
    # First plans in 2025: a 49 days after its referral (2 Dec -> 20 Jan), b 61 (1 Jan
    # local -> 3 Mar), f 126 (6 Jan -> 12 May); median 61 days.
    assert (report.first_plans, report.median_days_to_first_plan) == (3, 61.0)
    # In working days: a 32 (19 in December without Christmas, 13 in January), b 43 (22
    # in January, 20 in February, 3 Mar), f 88 (19 + 20 + 21 + 21 in April without
    # Easter Monday + 7 in May without Liberation Day 2025); median 43.
    assert report.median_working_days_to_first_plan == 43.0


def test_waiting_times_against_the_norms(report: RegionReport) -> None:
    intake, care = report.waiting
    # Waits for intake that began in 2025: b 28 working days (past the 4-week norm),
    # c 14 (open, within), e 5, f 5, g 53 (open, past the norm): 3 of 5 within.
    assert intake == StageSummary(stage=WaitingStage.INTAKE, norm_weeks=4, waits=5,
                                  within_norm=3, still_waiting=2, median_working_days=14.0,
                                  share_within_norm=0.6)
    # Waits for care after an intake in 2025: b 5 working days, f 74 (15 weeks, past the
    # 10-week norm); a's began with its intake in 2024.
    assert care == StageSummary(stage=WaitingStage.CARE_START, norm_weeks=10, waits=2,
                                within_norm=1, still_waiting=0, median_working_days=39.5,
                                share_within_norm=0.5)


def test_stagnations_by_cause_and_the_level_that_resolved_them(report: RegionReport) -> None:
    # Opened in 2025: f's waiting-norm episode (resolved by the manager, level 2), f's
    # no-progress episode (cleared at level 1), b's reported stagnation (a binding
    # decision, level 3, in 2026). a's episodes opened in 2024 and 2026.
    assert [(s.cause, s.opened, s.resolved_at_level, s.cleared_at_level, s.still_open)
            for s in report.stagnations] == [
        (StagnationRule.WAITING_NORM_CARE_START, 1, {2: 1}, {}, 0),
        (StagnationRule.NO_PROGRESS, 1, {}, {1: 1}, 0),
        (StagnationRule.REPORTED, 1, {3: 1}, {}, 0),
    ]
    # Binding decisions taken in 2025: a's, on 8 Jan (b's was taken in 2026).
    assert report.binding_decisions == 1


def test_the_revolving_door(report: RegionReport) -> None:
    # Of the two 2025 closures, b was reopened by a relapse; f's aftercare window (6
    # months from 2 Sep) is still open on 20 Jan 2026.
    door = report.revolving_door
    assert (door.aftercare_months, door.closures, door.reopened, door.still_in_window,
            door.rate) == (6, 2, 1, 1, 0.5)


def test_caseloads_and_participation(report: RegionReport) -> None:
    # Open now: a and b (pro-1); d and f are in aftercare, e ended, c and g have none.
    assert report.caseloads == [CaseloadRow(coordinator_id="pro-1", open_cases=2,
                                            reserved=0, cap=15, over_cap=False)]
    assert report.coordinators_over_cap == 0
    # Plans adopted in 2025: a's family group plan (took part), a's adjustment (not
    # recorded), b's professional plan (did not), f's professional plan (took part).
    p = report.participation
    assert (p.plans, p.young_person_took_part, p.young_person_did_not, p.not_recorded,
            p.share_took_part) == (4, 2, 1, 1, 2 / 3)


async def test_another_year_and_another_region(pg_store: PostgresEventStore,
                                               pool: asyncpg.Pool,
                                               report: RegionReport) -> None:
    async with pool.acquire() as conn:
        earlier = await region_report(conn, 2024, today=TODAY, policy=POLICY)
        elsewhere = await region_report(conn, 2025, "Elders", today=TODAY, policy=POLICY)
        summary = await waiting_summary(conn, year=2025, today=TODAY, policy=POLICY)
    # 2024: a and d referred (b's referral is 2025 in Amsterdam), d started care and
    # adopted its plan, after a skip on a threat to development.
    assert (earlier.referred, earlier.started, earlier.first_plans) == (2, 1, 1)
    assert earlier.family_group_plans_skipped == {SkipGround.THREAT_TO_DEVELOPMENT: 1}
    assert (elsewhere.referred, elsewhere.closed, elsewhere.caseloads) == (0, 0, [])
    assert summary == report.waiting
