"""The trajectory overview read model: one row per case, for operators.

Fed by a catch-up subscription, so each event is applied exactly once, in the same
transaction as the subscriber's checkpoint. Holds no personal data, so erasure never
has to touch it. (Caseloads are counted from `case_list`, infra/caseload.py.)
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.events import (
    CoordinatorAppointed,
    EventPayload,
    PlanAdopted,
    RecordedEvent,
    ReferralAdded,
    TrajectoryClosed,
    TrajectoryReferred,
    TrajectoryReopened,
)
from domain.trajectory import Phase, case_id_of_stream, next_phase
from infra.pgtypes import Conn

SUBSCRIBER = "trajectory_overview"


def _case_id(event: RecordedEvent) -> str:
    return case_id_of_stream(event.stream_id)


class TrajectoryOverviewProjection:
    handles: frozenset[type[EventPayload]] | None = None

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            await self.apply(conn, event)

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        payload = event.payload
        case_id = _case_id(event)
        if isinstance(payload, TrajectoryReferred):
            phase = next_phase(None, payload)
            assert phase is not None
            await conn.execute(
                """INSERT INTO trajectory_overview (case_id, status, referred_at,
                       referral_count, organisations, stream_version, last_position)
                   VALUES ($1, $2, $3, 1, ARRAY[$4], $5, $6)""",
                payload.case_id, phase.value, event.occurred_at,
                payload.referral.organisation, event.version, event.position,
            )
            return
        sets: dict[str, object] = {}
        # The status is the trajectory's phase, by the same definition `evolve` uses.
        status: str | None = await conn.fetchval(
            "SELECT status FROM trajectory_overview WHERE case_id = $1", case_id)
        phase = next_phase(None if status is None else Phase(status), payload)
        if phase is not None and phase.value != status:
            sets["status"] = phase.value
        if isinstance(payload, ReferralAdded):
            await conn.execute(
                """UPDATE trajectory_overview
                   SET referral_count = referral_count + 1,
                       organisations = CASE WHEN $2 = ANY(organisations) THEN organisations
                                            ELSE organisations || $2 END
                   WHERE case_id = $1""",
                case_id, payload.referral.organisation,
            )
        elif isinstance(payload, TrajectoryReopened):
            await conn.execute("UPDATE trajectory_overview SET reopen_count = "
                               "reopen_count + 1, closed_at = NULL WHERE case_id = $1",
                               case_id)
        elif isinstance(payload, CoordinatorAppointed):
            sets["coordinator_id"] = payload.member_id
        elif isinstance(payload, PlanAdopted):
            await conn.execute("UPDATE trajectory_overview SET first_plan_at = "
                               "coalesce(first_plan_at, $2) WHERE case_id = $1",
                               case_id, event.occurred_at)
        elif isinstance(payload, TrajectoryClosed):
            sets["closed_at"] = event.occurred_at
        columns = ["stream_version", "last_position", *sets]
        values = [event.version, event.position, *sets.values()]
        assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
        await conn.execute(f"UPDATE trajectory_overview SET {assignments} WHERE case_id = $1",
                           case_id, *values)

