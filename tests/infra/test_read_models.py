"""Each read model built incrementally, event by event, equals its rebuild from scratch
in one batch; the case list's filters, sorting and paging; the escalation board."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Protocol

import asyncpg
import pytest

from domain.events import StagnationRule
from domain.notifications import RecipientRole
from domain.policy import RegionPolicy
from domain.trajectory import Phase
from infra import case_list, closures, escalation_board, plan_adoptions
from infra.case_list import CaseListProjection, list_cases
from infra.escalation_board import EscalationBoardProjection, open_episodes
from infra.event_store import PostgresEventStore
from infra.pgtypes import Conn
from infra.policy_file import POLICY_FILE_ENV
from infra.projections import PROJECTIONS, rebuild
from infra.subscription import CatchUpSubscription, Projection
from tests.infra.region_stories import (
    Told,
    append_all,
    append_one_by_one,
    level,
    opened,
    stories,
    utc,
)

POLICY = RegionPolicy(region="Haaglanden")
TODAY = date(2026, 1, 20)


class Resettable(Projection, Protocol):
    async def reset(self, conn: Conn) -> None: ...


def projections() -> list[tuple[str, Resettable, str]]:
    return [
        (case_list.SUBSCRIBER, CaseListProjection(POLICY.region), "case_list"),
        (escalation_board.SUBSCRIBER, EscalationBoardProjection(), "escalation_episodes"),
        (closures.SUBSCRIBER, closures.ClosuresProjection(), "case_closures"),
        (plan_adoptions.SUBSCRIBER, plan_adoptions.PlanAdoptionsProjection(),
         "plan_adoptions"),
    ]


async def table(pool: asyncpg.Pool, name: str) -> list[dict[str, object]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT * FROM {name} ORDER BY 1, 2")
    return [dict(r) for r in rows]


async def test_each_read_model_built_event_by_event_equals_its_rebuild(
        pg_store: PostgresEventStore, pool: asyncpg.Pool, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry makes its projections for the region of the policy file in use.
    policy_file = tmp_path / "haaglanden.toml"
    policy_file.write_text(f'region = "{POLICY.region}"\n', encoding="utf-8")
    monkeypatch.setenv(POLICY_FILE_ENV, str(policy_file))
    told = stories()
    subscriptions = [CatchUpSubscription(pg_store, name, projection, batch_size=1)
                     for name, projection, _ in projections()]
    async for _ in append_one_by_one(pg_store, told):
        for subscription in subscriptions:
            await subscription.catch_up()
    incremental = {name: await table(pool, name) for _, _, name in projections()}
    assert all(incremental.values())
    for subscriber, _, name in projections():
        # Something the rebuild must undo: a row no event explains.
        async with pool.acquire() as conn:
            await conn.execute(f"DELETE FROM {name} WHERE ctid IN "
                               f"(SELECT ctid FROM {name} LIMIT 1)")
        assert await table(pool, name) != incremental[name]
        figures = await rebuild(pg_store, subscriber, batch_size=7)
        assert figures.events > 0
        assert await table(pool, name) == incremental[name], name


def test_the_read_models_are_registered_for_the_projector() -> None:
    for subscriber, projection, _ in projections():
        assert type(PROJECTIONS[subscriber]()) is type(projection)


@pytest.fixture
async def projected(pg_store: PostgresEventStore, pool: asyncpg.Pool) -> asyncpg.Pool:
    await append_all(pg_store, stories())
    for name, projection, _ in projections():
        await CatchUpSubscription(pg_store, name, projection).catch_up()
    return pool


async def cases(pool: asyncpg.Pool, **filters: object) -> list[str]:
    async with pool.acquire() as conn:
        rows = await list_cases(conn, today=TODAY, policy=POLICY, **filters)  # type: ignore[arg-type]
    return [r.case_id for r in rows]


async def test_the_case_list_sorts_filters_and_pages(projected: asyncpg.Pool) -> None:
    # Referral order: d (Nov 2024), a, b (31 Dec 23:30 UTC), f, e, g, c (30 Dec 2025).
    assert await cases(projected) == ["d", "a", "b", "f", "e", "g", "c"]
    assert await cases(projected, descending=True) == ["c", "g", "e", "f", "b", "a", "d"]
    assert await cases(projected, sort="case_id", limit=2, offset=2) == ["c", "d"]
    assert await cases(projected, sort="case_id", limit=2, offset=6) == ["g"]
    assert await cases(projected, sort="case_id", offset=7) == []
    assert await cases(projected, phase=Phase.IN_CARE) == ["a", "b"]
    assert await cases(projected, phase=Phase.REFERRED, sort="case_id") == ["c", "g"]
    assert await cases(projected, coordinator="pro-2") == ["d", "f"]
    assert await cases(projected, in_aftercare=True) == ["d", "f"]
    assert await cases(projected, escalated=True) == ["a"]
    assert await cases(projected, beyond_norm=True) == ["g"]
    assert await cases(projected, beyond_norm=False, phase=Phase.REFERRED) == ["c"]
    assert await cases(projected, region="Elders") == []
    assert await cases(projected, region="Haaglanden", sort="case_id", limit=1) == ["a"]
    # Waiting the longest first: g since November, then c.
    assert await cases(projected, phase=Phase.REFERRED, sort="waiting_since") == ["g", "c"]


async def test_a_case_row_shows_its_wait_its_escalation_and_its_next_deadline(
        projected: asyncpg.Pool) -> None:
    async with projected.acquire() as conn:
        rows = {r.case_id: r for r in await list_cases(conn, today=TODAY, policy=POLICY)}
    g, c, a, f = rows["g"], rows["c"], rows["a"], rows["f"]
    # g: referred Mon 3 Nov 2025; 19 working days in the rest of November, 21 in
    # December (25 and 26 Dec are holidays), 13 in January up to Tue 20 (1 Jan is one).
    assert (g.waiting_stage, g.working_days_waited, g.beyond_norm) == ("intake", 53, True)
    assert g.waiting_norm_deadline == utc(2025, 12, 1)
    assert g.next_deadline == utc(2025, 12, 1)
    # c: referred Tue 30 Dec 2025: 31 Dec, then 13 in January.
    assert (c.working_days_waited, c.beyond_norm) == (14, False)
    assert (a.waiting_stage, a.working_days_waited, a.escalation_level) == (None, None, 1)
    assert (a.coordinator_id, a.team, a.phase) == ("pro-1", "Wijkteam Noord", Phase.IN_CARE)
    # a's open episode is due on 19 Jan, before its plan's evaluation on 2 Mar 2026.
    assert a.next_deadline == utc(2026, 1, 19)
    assert f.in_aftercare and f.next_deadline == utc(2026, 3, 2)
    assert rows["e"].next_deadline is None and rows["e"].phase is Phase.ENDED
    assert rows["b"].reopen_count == 1
    # b's episodes are resolved; a has one open.
    assert (a.open_episodes, rows["b"].open_episodes) == (1, 0)


async def test_the_escalation_board_shows_the_open_episodes(projected: asyncpg.Pool) -> None:
    async with projected.acquire() as conn:
        board = await open_episodes(conn, TODAY, policy=POLICY)
    assert [(e.case_id, e.episode_id, e.cause, e.level, e.assignee_id, e.assignee_role)
            for e in board] == [("a", "ep-a2", StagnationRule.EVALUATION_OVERDUE, 1,
                                 "pro-1", RecipientRole.COORDINATOR)]
    # Due Mon 19 Jan: on Tue 20 Jan it is one working day overdue.
    assert (board[0].working_days_left, board[0].overdue) == (-1, True)
    async with projected.acquire() as conn:
        earlier = await open_episodes(conn, date(2026, 1, 15), policy=POLICY)
    # On Thu 15 Jan: Fri 16 and Mon 19 are left.
    assert (earlier[0].working_days_left, earlier[0].overdue) == (2, False)


async def test_episodes_of_two_cases_with_the_same_id_are_two_rows(
        pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    # The ladder numbers episodes per case: every case's first is ep-1.
    told = [Told(case).referred(utc(2026, 1, 5))
            .record(utc(2026, 1, 6), opened("ep-1", rule))
            .record(utc(2026, 1, 6), level("ep-1", 1, "pro-1", utc(2026, 1, 13)))
            for case, rule in (("x", StagnationRule.REPORTED),
                               ("y", StagnationRule.FAMILY_UNREACHABLE))]
    await append_all(pg_store, told)
    for name, projection, _ in projections():
        await CatchUpSubscription(pg_store, name, projection).catch_up()
    async with pool.acquire() as conn:
        board = await open_episodes(conn, TODAY, policy=POLICY)
        rows = {r.case_id: r for r in await list_cases(conn, today=TODAY, policy=POLICY)}
    assert sorted((e.case_id, e.episode_id, e.cause) for e in board) == [
        ("x", "ep-1", StagnationRule.REPORTED), ("y", "ep-1", StagnationRule.FAMILY_UNREACHABLE)]
    assert (rows["x"].escalation_level, rows["y"].escalation_level) == (1, 1)
