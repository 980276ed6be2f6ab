"""The escalation board: one row per escalation episode (table `escalation_episodes`).

Fed by a catch-up subscription like every read model (infra/read_models.py: one read
and one write per batch). Holds the cause (the stagnation rule), the ladder's level,
assignee and deadline, and how the episode ended: resolved at a level (binding at level
3, doorzettingsmacht) or closed because its cause cleared. No personal data: the
decision's words and the reasons stay in the event store.

`open_episodes` is the operators' board; the region report counts from the same table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.events import (
    EscalationAcknowledged,
    EscalationClosed,
    EscalationLevelAssigned,
    EscalationOpened,
    EscalationResolved,
    EventPayload,
    RecordedEvent,
    RegionAlerted,
    StagnationRule,
)
from domain.local_time import local_date
from domain.notifications import RecipientRole
from domain.policy import RegionPolicy
from infra.pgtypes import Conn
from infra.policy_file import policy_from_env
from infra.read_models import Column, case_id_of, upsert_rows
from infra.waiting import calendar_for, today_in

SUBSCRIBER = "escalation_board"


class EpisodeStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # the assignee decided (binding at level 3)
    CLOSED = "closed"  # closed without a decision: its cause cleared, or the case ended


@dataclass
class EpisodeFacts:
    episode_id: str
    case_id: str
    cause: StagnationRule
    opened_at: datetime
    level: int | None = None
    assignee_id: str | None = None
    assignee_role: RecipientRole | None = None
    deadline: datetime | None = None
    acknowledged: bool = False
    region_alerts: int = 0
    status: EpisodeStatus = EpisodeStatus.OPEN
    ended_at: datetime | None = None
    ended_level: int | None = None
    binding: bool = False


_COLUMNS = (
    Column("episode_id", "text"), Column("case_id", "text"), Column("cause", "text"),
    Column("opened_at", "timestamptz"), Column("level", "integer"),
    Column("assignee_id", "text"), Column("assignee_role", "text"),
    Column("deadline", "timestamptz"), Column("acknowledged", "boolean"),
    Column("region_alerts", "integer"), Column("status", "text"),
    Column("ended_at", "timestamptz"), Column("ended_level", "integer"),
    Column("binding", "boolean"),
)


def _row(facts: EpisodeFacts) -> tuple[object, ...]:
    values = [getattr(facts, c.name) for c in _COLUMNS]
    return tuple(v.value if isinstance(v, StrEnum) else v for v in values)


def _facts(record: Any) -> EpisodeFacts:
    data = {c.name: record[c.name] for c in _COLUMNS}
    role = data.pop("assignee_role")
    return EpisodeFacts(**{**data, "cause": StagnationRule(data["cause"]),
                           "status": EpisodeStatus(data["status"]),
                           "assignee_role": None if role is None else RecipientRole(role)})


def _episode_id(payload: EventPayload) -> str:
    assert isinstance(payload, EscalationOpened | EscalationLevelAssigned
                      | EscalationAcknowledged | EscalationResolved | EscalationClosed
                      | RegionAlerted)
    return payload.episode_id


def fold(facts: EpisodeFacts | None, event: RecordedEvent) -> EpisodeFacts | None:
    payload = event.payload
    at = event.occurred_at
    if isinstance(payload, EscalationOpened):
        return EpisodeFacts(episode_id=payload.episode_id, case_id=case_id_of(event),
                            cause=payload.rule, opened_at=at)
    if facts is None:
        return None
    new = replace(facts)
    match payload:
        case EscalationLevelAssigned():
            new.level, new.assignee_id = payload.level, payload.assignee_id
            new.assignee_role, new.deadline = payload.role, payload.deadline
            new.acknowledged = False
        case EscalationAcknowledged():
            new.acknowledged = True
        case RegionAlerted():
            new.region_alerts = max(new.region_alerts, payload.reminder)
        case EscalationResolved():
            new.status, new.ended_at = EpisodeStatus.RESOLVED, at
            new.ended_level, new.binding = payload.level, payload.binding
        case EscalationClosed():
            new.status, new.ended_at, new.ended_level = EpisodeStatus.CLOSED, at, new.level
    return new


class EscalationBoardProjection:
    handles: frozenset[type[EventPayload]] | None = frozenset({
        EscalationOpened, EscalationLevelAssigned, EscalationAcknowledged,
        EscalationResolved, EscalationClosed, RegionAlerted,
    })

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        # An episode is known by its case and its id: ids are unique within a case only.
        keys = sorted({(case_id_of(e), _episode_id(e.payload)) for e in events})
        records = await conn.fetch(
            """SELECT e.* FROM escalation_episodes e
               JOIN unnest($1::text[], $2::text[]) AS k(case_id, episode_id)
                 USING (case_id, episode_id)""",
            [case for case, _ in keys], [episode for _, episode in keys])
        rows = {(r["case_id"], r["episode_id"]): _facts(r) for r in records}
        for event in events:
            key = (case_id_of(event), _episode_id(event.payload))
            facts = fold(rows.get(key), event)
            if facts is not None:
                rows[key] = facts
        await upsert_rows(conn, "escalation_episodes", ["case_id", "episode_id"], _COLUMNS,
                          [_row(rows[k]) for k in keys if k in rows])

    async def reset(self, conn: Conn) -> None:
        await conn.execute("DELETE FROM escalation_episodes")


class EpisodeRow(BaseModel):
    """An open escalation episode on the operators' board."""

    model_config = ConfigDict(frozen=True)
    case_id: str
    episode_id: str
    cause: StagnationRule
    level: int | None  # None: opened, no level assigned yet
    assignee_id: str | None
    assignee_role: RecipientRole | None
    acknowledged: bool
    opened_at: datetime
    deadline: datetime | None
    # Working days after `today` up to the deadline's day; negative: that many working
    # days overdue (domain.calendar.WorkingDayCalendar.working_days_between).
    working_days_left: int | None
    overdue: bool  # the deadline's day (in the region) is before `today`
    region_alerts: int


async def open_episodes(conn: Conn, today: date | None = None, *, case_id: str | None = None,
                        policy: RegionPolicy | None = None) -> list[EpisodeRow]:
    """Every open episode (of one case, with `case_id`), the earliest deadline first
    (episodes without a level yet last)."""
    policy = policy or policy_from_env()
    today = today or today_in(policy)
    records = await conn.fetch(
        """SELECT * FROM escalation_episodes
           WHERE status = 'open' AND ($1::text IS NULL OR case_id = $1)
           ORDER BY deadline NULLS LAST, opened_at, episode_id""", case_id)
    deadlines = [r["deadline"] for r in records if r["deadline"] is not None]
    cal = calendar_for(policy, deadlines, today) if deadlines else None
    rows: list[EpisodeRow] = []
    for r in records:
        facts = _facts(r)
        left = None
        if cal is not None and facts.deadline is not None:
            left = cal.working_days_between(today, facts.deadline)
        overdue = (facts.deadline is not None
                   and local_date(facts.deadline, policy.time_zone) < today)
        rows.append(EpisodeRow(
            case_id=facts.case_id, episode_id=facts.episode_id, cause=facts.cause,
            level=facts.level, assignee_id=facts.assignee_id,
            assignee_role=facts.assignee_role, acknowledged=facts.acknowledged,
            opened_at=facts.opened_at, deadline=facts.deadline, working_days_left=left,
            overdue=overdue, region_alerts=facts.region_alerts))
    return rows
