"""A partner's signals about one case, counted over the last 24 hours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.events import EventMetadata, PartnerSignalRecorded, RecordedEvent, SignalKind
from domain.signal_quota import signal_quota_wait

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def sent(actor: str, hours_ago: float) -> RecordedEvent:
    at = NOW - timedelta(hours=hours_ago)
    return RecordedEvent(
        event_id=uuid.uuid4(), occurred_at=at, recorded_at=at, position=1, version=1,
        stream_id="trajectory-c", metadata=EventMetadata(actor=actor, correlation_id="c"),
        payload=PartnerSignalRecorded(idempotency_key=str(uuid.uuid4()), organisation="x",
                                      kind=SignalKind.CONCERN, subject="family:c",
                                      description="zorg", acted_on=False, note="n"))


def test_the_quota_counts_one_partner_over_the_last_day() -> None:
    events = [sent("partner:a", 30), sent("partner:a", 10), sent("partner:a", 2),
              sent("partner:b", 1)]
    assert signal_quota_wait(events, "partner:a", NOW, per_day=3) is None  # 2 in 24 h
    assert signal_quota_wait(events, "partner:a", NOW, per_day=2) == timedelta(hours=14)
    assert signal_quota_wait(events, "partner:b", NOW, per_day=1) == timedelta(hours=23)
    assert signal_quota_wait(events, "partner:c", NOW, per_day=1) is None
