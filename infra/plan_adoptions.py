"""Plan versions adopted (table `plan_adoptions`): when, from which source (the family's
own plan, a professional one, an adjustment, an escalation decision), and whether the
young person took part in making it. The region reports the first plan's timing and the
share of plans the young person took part in. Fed batch by batch (infra/read_models.py);
no personal data: the plan's content stays in the event store.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.events import EventPayload, PlanAdopted, RecordedEvent
from infra.pgtypes import Conn
from infra.read_models import Column, case_id_of, upsert_rows

SUBSCRIBER = "plan_adoptions"

_COLUMNS = (Column("case_id", "text"), Column("plan_version", "integer"),
            Column("adopted_at", "timestamptz"), Column("source", "text"),
            Column("young_person_took_part", "boolean"))


class PlanAdoptionsProjection:
    handles: frozenset[type[EventPayload]] | None = frozenset({PlanAdopted})

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        rows: dict[tuple[str, int], tuple[object, ...]] = {}
        for event in events:
            payload = event.payload
            assert isinstance(payload, PlanAdopted)
            key = (case_id_of(event), payload.plan_version)
            rows[key] = (*key, event.occurred_at, payload.source.value,
                         payload.young_person_took_part)
        await upsert_rows(conn, "plan_adoptions", ["case_id", "plan_version"], _COLUMNS,
                          list(rows.values()))

    async def reset(self, conn: Conn) -> None:
        await conn.execute("DELETE FROM plan_adoptions")
