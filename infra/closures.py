"""Closures and reopenings (table `case_closures`): each closure of a trajectory, and
whether a relapse in its aftercare window reopened it (the revolving door, docs/domain.md
rule 12). A trajectory closed twice has two rows. Fed batch by batch like every read
model (infra/read_models.py); no personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.events import EventPayload, RecordedEvent, TrajectoryClosed, TrajectoryReopened
from infra.pgtypes import Conn
from infra.read_models import Column, case_id_of, upsert_rows

SUBSCRIBER = "case_closures"


@dataclass
class Closure:
    case_id: str
    closure_no: int
    closed_at: datetime
    reason: str
    reopened_at: datetime | None = None


_COLUMNS = (Column("case_id", "text"), Column("closure_no", "integer"),
            Column("closed_at", "timestamptz"), Column("reason", "text"),
            Column("reopened_at", "timestamptz"))


class ClosuresProjection:
    handles: frozenset[type[EventPayload]] | None = frozenset(
        {TrajectoryClosed, TrajectoryReopened})

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        case_ids = sorted({case_id_of(e) for e in events})
        # Each case's latest closure: the only one a reopening can be about.
        records = await conn.fetch(
            """SELECT DISTINCT ON (case_id) * FROM case_closures
               WHERE case_id = ANY($1::text[]) ORDER BY case_id, closure_no DESC""",
            case_ids)
        latest = {r["case_id"]: Closure(**dict(r)) for r in records}
        touched: dict[tuple[str, int], Closure] = {}
        for event in events:
            case_id = case_id_of(event)
            payload = event.payload
            last = latest.get(case_id)
            if isinstance(payload, TrajectoryClosed):
                last = Closure(case_id=case_id,
                               closure_no=1 if last is None else last.closure_no + 1,
                               closed_at=event.occurred_at, reason=payload.reason.value)
            elif isinstance(payload, TrajectoryReopened) and last is not None:
                last.reopened_at = last.reopened_at or event.occurred_at
            else:
                continue
            latest[case_id] = touched[(case_id, last.closure_no)] = last
        await upsert_rows(conn, "case_closures", ["case_id", "closure_no"], _COLUMNS,
                          [(c.case_id, c.closure_no, c.closed_at, c.reason, c.reopened_at)
                           for c in touched.values()])

    async def reset(self, conn: Conn) -> None:
        await conn.execute("DELETE FROM case_closures")
