"""The trajectory overview read model: one row per case, for operators.

Fed by a catch-up subscription, so each event is applied exactly once, in the same
transaction as the subscriber's checkpoint. Holds no personal data, so erasure never
has to touch it.
"""

from __future__ import annotations

from domain.events import RecordedEvent, ReferralAdded, TrajectoryReferred
from domain.trajectory import TrajectoryStatus
from infra.pgtypes import Conn

SUBSCRIBER = "trajectory_overview"


class TrajectoryOverviewProjection:
    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        payload = event.payload
        if isinstance(payload, TrajectoryReferred):
            await conn.execute(
                """INSERT INTO trajectory_overview (case_id, status, referred_at,
                       referral_count, organisations, stream_version, last_position)
                   VALUES ($1, $2, $3, 1, ARRAY[$4], $5, $6)""",
                payload.case_id, TrajectoryStatus.REFERRED.value, event.occurred_at,
                payload.referral.organisation, event.version, event.position,
            )
        elif isinstance(payload, ReferralAdded):
            await conn.execute(
                """UPDATE trajectory_overview
                   SET referral_count = referral_count + 1,
                       organisations = CASE WHEN $2 = ANY(organisations) THEN organisations
                                            ELSE organisations || $2 END,
                       stream_version = $3, last_position = $4
                   WHERE case_id = $1""",
                payload.case_id, payload.referral.organisation, event.version, event.position,
            )
