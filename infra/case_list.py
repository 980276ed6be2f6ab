"""The case list: one row per trajectory, for operators (table `case_list`).

Fed by a catch-up subscription in the checkpoint's transaction, so each event is
applied exactly once. A batch is folded in memory, over the rows it touches (read in one
statement), and written back in one statement. No personal data: ids, phases, dates
and the coordinator's organisation only.

`list_cases` answers the operators' list: filters, sorting and paging in SQL; the
waiting norms and time zone come from the region policy at query time, so a changed
policy needs no rebuild.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.events import (
    AftercareEnded,
    CareStarted,
    CoordinatorAppointed,
    EventPayload,
    FamilyGroupPlanLapsed,
    FamilyGroupPlanOffered,
    FamilyGroupPlanSkipped,
    IntakeRecorded,
    PlanAdopted,
    PlanEvaluated,
    RecordedEvent,
    TeamMemberAdded,
    TrajectoryClosed,
    TrajectoryReferred,
    TrajectoryReopened,
)
from domain.plan import PlanSource
from domain.policy import RegionPolicy
from domain.trajectory import FamilyGroupPlanStatus, Phase, next_phase
from infra.pgtypes import Conn
from infra.policy_file import policy_from_env
from infra.read_models import Column, case_id_of, upsert_rows
from infra.waiting import (
    WaitingStage,
    calendar_for,
    norm_deadline,
    start_of_day,
    today_in,
)

SUBSCRIBER = "case_list"
OPEN_PHASES = (Phase.REFERRED, Phase.ACCEPTED, Phase.IN_CARE)
# The phases in which a coordinator holds a case (counted against the caseload cap).
OPEN_PHASE_VALUES = [p.value for p in OPEN_PHASES]


@dataclass
class CaseFacts:
    """A row of `case_list` while a batch is folded."""

    case_id: str
    region: str
    phase: Phase
    referred_at: datetime
    intake_at: datetime | None = None
    intake_outcome: str | None = None
    care_started_at: datetime | None = None
    coordinator_id: str | None = None
    team: str | None = None
    team_organisations: dict[str, str] = field(default_factory=dict)
    fgp_status: FamilyGroupPlanStatus = FamilyGroupPlanStatus.NOT_OFFERED
    fgp_offered_at: datetime | None = None
    fgp_deadline: datetime | None = None
    fgp_skipped_at: datetime | None = None
    fgp_skip_ground: str | None = None
    fgp_lapsed_at: datetime | None = None
    fgp_made_at: datetime | None = None
    professional_plan_deadline: datetime | None = None
    first_plan_at: datetime | None = None
    plan_version: int = 0
    next_evaluation_date: date | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    aftercare_ends_at: datetime | None = None
    reopen_count: int = 0
    last_position: int = 0


_COLUMNS = (
    Column("case_id", "text"), Column("region", "text"), Column("phase", "text"),
    Column("referred_at", "timestamptz"), Column("intake_at", "timestamptz"),
    Column("intake_outcome", "text"), Column("care_started_at", "timestamptz"),
    Column("coordinator_id", "text"), Column("team", "text"),
    Column("team_organisations", "text", cast="{}::jsonb"), Column("fgp_status", "text"),
    Column("fgp_offered_at", "timestamptz"), Column("fgp_deadline", "timestamptz"),
    Column("fgp_skipped_at", "timestamptz"), Column("fgp_skip_ground", "text"),
    Column("fgp_lapsed_at", "timestamptz"), Column("fgp_made_at", "timestamptz"),
    Column("professional_plan_deadline", "timestamptz"),
    Column("first_plan_at", "timestamptz"), Column("plan_version", "integer"),
    Column("next_evaluation_date", "date"), Column("closed_at", "timestamptz"),
    Column("close_reason", "text"), Column("aftercare_ends_at", "timestamptz"),
    Column("reopen_count", "integer"), Column("last_position", "bigint"),
)
_CONVERTED = {"phase", "fgp_status", "team_organisations"}


def _row(facts: CaseFacts) -> tuple[object, ...]:
    values: list[object] = []
    for column in _COLUMNS:
        value = getattr(facts, column.name)
        if column.name == "team_organisations":
            value = json.dumps(value, sort_keys=True)
        elif column.name in _CONVERTED:
            value = value.value
        values.append(value)
    return tuple(values)


def _facts(record: Any) -> CaseFacts:
    data = {c.name: record[c.name] for c in _COLUMNS if c.name not in _CONVERTED}
    organisations = record["team_organisations"]
    return CaseFacts(
        **data, phase=Phase(record["phase"]),
        fgp_status=FamilyGroupPlanStatus(record["fgp_status"]),
        team_organisations=dict(json.loads(organisations) if isinstance(organisations, str)
                                else organisations))


def fold(facts: CaseFacts | None, event: RecordedEvent, region: str) -> CaseFacts | None:
    """The row after `event` (None: no trajectory yet, the event is not about one)."""
    payload = event.payload
    at = event.occurred_at
    if isinstance(payload, TrajectoryReferred):
        phase = next_phase(None, payload)
        assert phase is not None
        return CaseFacts(case_id=payload.case_id, region=region, phase=phase, referred_at=at,
                         last_position=event.position)
    if facts is None:
        return None
    phase = next_phase(facts.phase, payload)
    new = replace(facts, phase=phase or facts.phase, last_position=event.position)
    match payload:
        case IntakeRecorded():
            new.intake_at, new.intake_outcome = at, payload.outcome.value
        case CareStarted():
            new.care_started_at = new.care_started_at or at
        case TeamMemberAdded() if payload.member.organisation is not None:
            new.team_organisations = {**new.team_organisations,
                                      payload.member.member_id: payload.member.organisation}
        case CoordinatorAppointed():
            new.coordinator_id = payload.member_id
            new.team = new.team_organisations.get(payload.member_id)
        case FamilyGroupPlanOffered():
            new.fgp_status = FamilyGroupPlanStatus.OFFERED
            new.fgp_offered_at, new.fgp_deadline = at, payload.deadline
        case FamilyGroupPlanSkipped():
            new.fgp_status = FamilyGroupPlanStatus.SKIPPED
            new.fgp_skipped_at, new.fgp_skip_ground = at, payload.ground.value
            new.professional_plan_deadline = payload.professional_plan_deadline
        case FamilyGroupPlanLapsed():
            new.fgp_status = FamilyGroupPlanStatus.LAPSED
            new.fgp_lapsed_at = at
            new.professional_plan_deadline = payload.professional_plan_deadline
        case PlanAdopted():
            if payload.source is PlanSource.FAMILY_GROUP_PLAN:
                new.fgp_status, new.fgp_made_at = FamilyGroupPlanStatus.SUBMITTED, at
            new.first_plan_at = new.first_plan_at or at
            new.plan_version = payload.plan_version
            new.next_evaluation_date = payload.plan.evaluation_date
        case PlanEvaluated():
            new.next_evaluation_date = payload.next_evaluation_date
        case TrajectoryClosed():
            new.closed_at, new.close_reason = at, payload.reason.value
            new.aftercare_ends_at = payload.aftercare_ends_at
            new.next_evaluation_date = None
        case TrajectoryReopened():
            new.reopen_count += 1
            new.next_evaluation_date = payload.evaluation_date
    return new


class CaseListProjection:
    """Keeps `case_list`, and drops the caseload reservations (infra/caseload.py) that
    the rows now account for."""

    handles: frozenset[type[EventPayload]] | None = frozenset({
        TrajectoryReferred, IntakeRecorded, CareStarted, TeamMemberAdded,
        CoordinatorAppointed, FamilyGroupPlanOffered, FamilyGroupPlanSkipped,
        FamilyGroupPlanLapsed, PlanAdopted, PlanEvaluated, TrajectoryClosed,
        TrajectoryReopened, AftercareEnded,
    })

    def __init__(self, region: str | None = None) -> None:
        # The region whose projector this is (its policy's `region`, REGIE_POLICY_FILE):
        # each row is stamped with it, so a database shared by regions can be filtered.
        self._region = region if region is not None else policy_from_env().region

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        case_ids = sorted({case_id_of(e) for e in events})
        records = await conn.fetch("SELECT * FROM case_list WHERE case_id = ANY($1::text[])",
                                   case_ids)
        rows: dict[str, CaseFacts] = {r["case_id"]: _facts(r) for r in records}
        appointed: list[tuple[str, str]] = []
        left_open: dict[str, datetime] = {}
        for event in events:
            case_id = case_id_of(event)
            facts = fold(rows.get(case_id), event, self._region)
            if facts is None:
                continue
            rows[case_id] = facts
            if isinstance(event.payload, CoordinatorAppointed):
                appointed.append((case_id, event.payload.member_id))
            if facts.phase not in OPEN_PHASES:
                left_open[case_id] = event.recorded_at
        touched = [rows[c] for c in case_ids if c in rows]
        await upsert_rows(conn, "case_list", ["case_id"], _COLUMNS,
                          [_row(f) for f in touched])
        await _drop_reservations(conn, appointed, left_open)

    async def reset(self, conn: Conn) -> None:
        # Reservations are not the projection's rows: they stand for appointments in
        # flight, and a replay drops each one again once its appointment is applied.
        await conn.execute("DELETE FROM case_list")


async def _drop_reservations(conn: Conn, appointed: Sequence[tuple[str, str]],
                             left_open: dict[str, datetime]) -> None:
    if appointed:
        # Only the reservation of the member appointed: a later reservation of the same
        # case for someone else (a handover in flight) still counts.
        await conn.execute(
            """DELETE FROM caseload_reservations r
               USING unnest($1::text[], $2::text[]) AS a(case_id, member_id)
               WHERE r.case_id = a.case_id AND r.member_id = a.member_id""",
            [c for c, _ in appointed], [m for _, m in appointed])
    if left_open:
        # A case that closed or ended holds nobody: drop reservations taken before that
        # was recorded (one taken after a reopening stays).
        await conn.execute(
            """DELETE FROM caseload_reservations r
               USING unnest($1::text[], $2::timestamptz[]) AS e(case_id, recorded_at)
               WHERE r.case_id = e.case_id AND r.reserved_at <= e.recorded_at""",
            list(left_open), list(left_open.values()))


# -- the operators' list ------------------------------------------------------------------


class CaseRow(BaseModel):
    """A trajectory as the operators' list shows it."""

    model_config = ConfigDict(frozen=True)
    case_id: str
    region: str
    phase: Phase
    coordinator_id: str | None
    team: str | None
    referred_at: datetime
    waiting_stage: WaitingStage | None  # None: not waiting (in care, closed, ended)
    waiting_since: datetime | None
    working_days_waited: int | None
    waiting_norm_deadline: datetime | None
    beyond_norm: bool
    escalation_level: int | None  # the highest level of the case's open episodes
    in_aftercare: bool
    next_deadline: datetime | None
    family_group_plan: FamilyGroupPlanStatus
    reopen_count: int


CaseSort = Literal["referred_at", "case_id", "phase", "coordinator", "waiting_since",
                   "next_deadline", "escalation_level"]

_SORTS: dict[str, str] = {
    "referred_at": "referred_at", "case_id": "case_id", "phase": "phase",
    "coordinator": "coordinator_id", "waiting_since": "waiting_since",
    "next_deadline": "next_deadline", "escalation_level": "escalation_level",
}

# $1 intake norm (seconds), $2 care-start norm (seconds), $3 time zone: the waiting
# norms are `timedelta(weeks=...)` added to an instant (RegionPolicy.intake_deadline), so
# plain seconds here; an evaluation date is due by the end of its day in the region.
_LISTED = """
WITH listed AS (
    SELECT c.*,
           CASE c.phase WHEN 'referred' THEN 'intake' WHEN 'accepted' THEN 'care_start'
           END AS waiting_stage,
           CASE c.phase WHEN 'referred' THEN c.referred_at WHEN 'accepted' THEN c.intake_at
           END AS waiting_since,
           CASE c.phase
               WHEN 'referred' THEN c.referred_at + make_interval(secs => $1)
               WHEN 'accepted' THEN c.intake_at + make_interval(secs => $2)
           END AS norm_deadline,
           e.escalation_level,
           LEAST(
               CASE c.phase WHEN 'referred' THEN c.referred_at + make_interval(secs => $1)
                            WHEN 'accepted' THEN c.intake_at + make_interval(secs => $2) END,
               CASE WHEN c.fgp_status = 'offered' THEN c.fgp_deadline END,
               CASE WHEN c.first_plan_at IS NULL AND c.phase IN ('accepted', 'in_care')
                    THEN c.professional_plan_deadline END,
               CASE WHEN c.phase IN ('accepted', 'in_care') AND c.next_evaluation_date
                    IS NOT NULL THEN ((c.next_evaluation_date + 1)::timestamp
                                      AT TIME ZONE $3) END,
               CASE WHEN c.phase = 'aftercare' THEN c.aftercare_ends_at END,
               e.escalation_deadline
           ) AS next_deadline
    FROM case_list c
    LEFT JOIN LATERAL (
        SELECT max(level) AS escalation_level, min(deadline) AS escalation_deadline
        FROM escalation_episodes WHERE case_id = c.case_id AND status = 'open'
    ) e ON true
)
SELECT * FROM listed
WHERE ($4::text IS NULL OR phase = $4)
  AND ($5::text IS NULL OR coordinator_id = $5)
  AND ($6::text IS NULL OR region = $6)
  AND ($7::boolean IS NULL OR (escalation_level IS NOT NULL) = $7)
  AND ($8::boolean IS NULL OR (phase = 'aftercare') = $8)
  AND ($9::boolean IS NULL OR (norm_deadline IS NOT NULL AND norm_deadline < $10) = $9)
"""


async def list_cases(
    conn: Conn, *, phase: Phase | None = None, coordinator: str | None = None,
    region: str | None = None, escalated: bool | None = None,
    in_aftercare: bool | None = None, beyond_norm: bool | None = None,
    sort: CaseSort = "referred_at", descending: bool = False, limit: int = 50,
    offset: int = 0, today: date | None = None, policy: RegionPolicy | None = None,
) -> list[CaseRow]:
    """The trajectories matching every filter given (None: not filtered), sorted by
    `sort` (then by case id, so pages are stable; empty values last), a page of `limit`
    from `offset`. `beyond_norm`: still waiting (for intake or for care) and the norm's
    deadline fell before `today` began in the region (docs/read_models.md)."""
    if sort not in _SORTS:
        raise ValueError(f"cannot sort cases by {sort!r}; choose one of {', '.join(_SORTS)}")
    if limit < 1 or offset < 0:
        raise ValueError("limit must be 1 or more and offset 0 or more")
    policy = policy or policy_from_env()
    today = today or today_in(policy)
    as_of = start_of_day(today, policy)
    direction = "DESC" if descending else "ASC"
    sql = (_LISTED + f" ORDER BY {_SORTS[sort]} {direction} NULLS LAST, case_id {direction}"
           " LIMIT $11 OFFSET $12")
    week = 7 * 24 * 3600
    records = await conn.fetch(
        sql, float(policy.waiting_norm_intake_weeks * week),
        float(policy.waiting_norm_care_start_weeks * week), policy.time_zone,
        None if phase is None else phase.value, coordinator, region, escalated,
        in_aftercare, beyond_norm, as_of, limit, offset)
    waiting = [r["waiting_since"] for r in records if r["waiting_since"] is not None]
    cal = calendar_for(policy, waiting, today) if waiting else None
    rows: list[CaseRow] = []
    for r in records:
        stage = None if r["waiting_stage"] is None else WaitingStage(r["waiting_stage"])
        since: datetime | None = r["waiting_since"]
        deadline = None if stage is None or since is None else norm_deadline(
            policy, stage, since)
        waited = None
        if cal is not None and since is not None:
            waited = cal.working_days_between(since, today)
        rows.append(CaseRow(
            case_id=r["case_id"], region=r["region"], phase=Phase(r["phase"]),
            coordinator_id=r["coordinator_id"], team=r["team"], referred_at=r["referred_at"],
            waiting_stage=stage, waiting_since=since, working_days_waited=waited,
            waiting_norm_deadline=deadline,
            beyond_norm=deadline is not None and deadline < as_of,
            escalation_level=r["escalation_level"],
            in_aftercare=r["phase"] == Phase.AFTERCARE.value,
            next_deadline=r["next_deadline"],
            family_group_plan=FamilyGroupPlanStatus(r["fgp_status"]),
            reopen_count=r["reopen_count"]))
    return rows
