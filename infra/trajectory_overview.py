"""The trajectory overview read model: one row per case, for operators.

Fed by a catch-up subscription, so each event is applied exactly once, in the same
transaction as the subscriber's checkpoint. Holds no personal data, so erasure never
has to touch it. (Caseloads are counted from `case_list`, infra/caseload.py.)

How it applies a batch (the pattern for read models, see docs/projections.md): fold the
batch in memory into one change per case (`CaseChange`), then write all changes with one
statement, from arrays (`unnest`). The fold reads no row: each change says what it sets
and what it adds, and the statement combines that with the row as it is. Only the events
it reads are fetched; where each case's stream stands comes from the batch's heads, in a
second statement. So a batch of any size costs two round trips, and the result is the one
applying the events one by one would give (tests/infra/test_trajectory_overview.py checks
both ways agree).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.events import (
    AftercareEnded,
    CareStarted,
    CoordinatorAppointed,
    EventPayload,
    IntakeRecorded,
    PlanAdopted,
    RecordedEvent,
    ReferralAdded,
    TrajectoryClosed,
    TrajectoryReferred,
    TrajectoryReopened,
)
from domain.trajectory import Phase, case_id_of_stream, next_phase
from infra.event_store import StreamHead
from infra.pgtypes import Conn

SUBSCRIBER = "trajectory_overview"

# The events whose payload the overview reads. Every other event of a case only moves its
# `stream_version` and `last_position`, which the batch's heads give (`apply_heads`): those
# events are not even fetched.
_READS: frozenset[type[EventPayload]] = frozenset({
    TrajectoryReferred, ReferralAdded, IntakeRecorded, CareStarted, TrajectoryReopened,
    TrajectoryClosed, AftercareEnded, CoordinatorAppointed, PlanAdopted,
})


def _case_id(event: RecordedEvent) -> str:
    return case_id_of_stream(event.stream_id)


@dataclass
class CaseChange:
    """What one batch does to one case's row.

    `referred` is set when the batch holds the case's TrajectoryReferred: the row is
    inserted with the other fields as they are after the batch. Otherwise the row is
    updated: set fields replace, counts add, organisations append (those not yet in it).
    """

    case_id: str
    stream_version: int
    last_position: int
    referred: TrajectoryReferred | None = None
    referred_at: datetime | None = None
    status: str | None = None
    referrals_added: int = 0
    organisations: list[str] = field(default_factory=list)
    reopens_added: int = 0
    coordinator_id: str | None = None
    first_plan_at: datetime | None = None
    closed_at_changed: bool = False
    closed_at: datetime | None = None

    def add_organisation(self, organisation: str) -> None:
        if organisation not in self.organisations:
            self.organisations.append(organisation)

    def apply(self, event: RecordedEvent) -> None:
        self.stream_version = event.version
        self.last_position = event.position
        payload = event.payload
        # The status is the trajectory's phase, by the same definition `evolve` uses;
        # only a phase-changing event sets it, so the last one in the batch wins.
        phase = next_phase(None, payload)
        if phase is not None:
            self.status = phase.value
        if isinstance(payload, ReferralAdded):
            self.referrals_added += 1
            self.add_organisation(payload.referral.organisation)
        elif isinstance(payload, TrajectoryReopened):
            self.reopens_added += 1
            self.closed_at_changed, self.closed_at = True, None
        elif isinstance(payload, CoordinatorAppointed):
            self.coordinator_id = payload.member_id
        elif isinstance(payload, PlanAdopted):
            if self.first_plan_at is None:
                self.first_plan_at = event.occurred_at
        elif isinstance(payload, TrajectoryClosed):
            self.closed_at_changed, self.closed_at = True, event.occurred_at


def fold_batch(events: Sequence[RecordedEvent]) -> list[CaseChange]:
    """One change per case touched by `events`, in the order the cases first appear."""
    changes: dict[str, CaseChange] = {}
    for event in events:
        if event.type == "TrajectoryReferred":
            payload = event.payload
            assert isinstance(payload, TrajectoryReferred)
            # Earlier events of this case in the batch met no row (it did not exist
            # yet), as they would have one by one: the case starts here.
            change = CaseChange(payload.case_id, event.version, event.position,
                                referred=payload, referred_at=event.occurred_at,
                                status=Phase.REFERRED.value)
            change.add_organisation(payload.referral.organisation)
            changes.pop(payload.case_id, None)
            changes[payload.case_id] = change
            continue
        case_id = _case_id(event)
        known = changes.get(case_id)
        if known is None:
            known = changes[case_id] = CaseChange(case_id, event.version, event.position)
        known.apply(event)
    return list(changes.values())


# One statement for the whole batch: the changes as columns of arrays, the new cases
# inserted, the known ones updated. Both parts read the same `change` rows; a case is in
# one part only, so they never touch the same row. An update for a case without a row
# (a stream that is no trajectory) changes nothing, as before.
_WRITE = """
WITH change AS (
    SELECT * FROM unnest($1::text[], $2::bool[], $3::text[], $4::timestamptz[],
                         $5::int[], $6::jsonb[], $7::int[], $8::text[],
                         $9::timestamptz[], $10::bool[], $11::timestamptz[], $12::int[],
                         $13::bigint[])
        AS c(case_id, is_new, status, referred_at, referrals_added, organisations_added,
             reopens_added, coordinator_id, first_plan_at, closed_at_changed, closed_at,
             stream_version, last_position)
), inserted AS (
    INSERT INTO trajectory_overview (case_id, status, referred_at, referral_count,
                                     organisations, stream_version, last_position,
                                     coordinator_id, reopen_count, first_plan_at,
                                     closed_at)
    SELECT case_id, status, referred_at, 1 + referrals_added,
           ARRAY(SELECT jsonb_array_elements_text(organisations_added)),
           stream_version, last_position, coordinator_id, reopens_added, first_plan_at,
           closed_at
    FROM change WHERE is_new
    RETURNING 1
), updated AS (
    UPDATE trajectory_overview AS t
    SET status = coalesce(c.status, t.status),
        referral_count = t.referral_count + c.referrals_added,
        organisations = t.organisations || ARRAY(
            SELECT o FROM jsonb_array_elements_text(c.organisations_added)
                          WITH ORDINALITY AS a(o, i)
            WHERE NOT o = ANY(t.organisations) ORDER BY i),
        reopen_count = t.reopen_count + c.reopens_added,
        coordinator_id = coalesce(c.coordinator_id, t.coordinator_id),
        first_plan_at = coalesce(t.first_plan_at, c.first_plan_at),
        closed_at = CASE WHEN c.closed_at_changed THEN c.closed_at ELSE t.closed_at END,
        stream_version = c.stream_version,
        last_position = c.last_position
    FROM change AS c
    WHERE NOT c.is_new AND t.case_id = c.case_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted) + (SELECT count(*) FROM updated)
"""


# Where each case's stream stands after the batch, from the batch's heads: every event
# moves it, read or not. A stream without a row (no referral yet) changes nothing.
_WRITE_HEADS = """
UPDATE trajectory_overview AS t
SET stream_version = h.stream_version, last_position = h.last_position
FROM unnest($1::text[], $2::int[], $3::bigint[])
    AS h(case_id, stream_version, last_position)
WHERE t.case_id = h.case_id
"""


class TrajectoryOverviewProjection:
    # Only the events it reads are fetched and decoded; the others only move their case's
    # `stream_version` and `last_position`, which come from the batch's heads.
    handles: frozenset[type[EventPayload]] | None = _READS

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        changes = fold_batch(events)
        if not changes:
            return
        # PostgreSQL arrays are rectangular, so each case's list of organisations (of
        # any length) travels as one JSON array.
        await conn.execute(
            _WRITE,
            [c.case_id for c in changes],
            [c.referred is not None for c in changes],
            [c.status for c in changes],
            [c.referred_at for c in changes],
            [c.referrals_added for c in changes],
            [json.dumps(c.organisations) for c in changes],
            [c.reopens_added for c in changes],
            [c.coordinator_id for c in changes],
            [c.first_plan_at for c in changes],
            [c.closed_at_changed for c in changes],
            [c.closed_at for c in changes],
            [c.stream_version for c in changes],
            [c.last_position for c in changes],
        )

    async def apply_heads(self, conn: Conn, heads: Mapping[str, StreamHead]) -> None:
        if not heads:
            return
        streams = list(heads.items())
        await conn.execute(_WRITE_HEADS,
                           [case_id_of_stream(stream_id) for stream_id, _ in streams],
                           [head.version for _, head in streams],
                           [head.position for _, head in streams])

    async def reset(self, conn: Conn) -> None:
        await conn.execute("TRUNCATE trajectory_overview")
