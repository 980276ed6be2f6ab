"""How many signals one partner may send about one case: a flood of signals says
nothing more, and would bury the other partners' and the team's (policy
`partner_signals_per_case_per_day`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from domain.events import PartnerSignalRecorded, RecordedEvent

WINDOW = timedelta(hours=24)


def signal_quota_wait(events: Sequence[RecordedEvent], actor: str, now: datetime,
                      per_day: int) -> timedelta | None:
    """None if the partner named by `actor` may send another signal about the case whose
    `events` these are; else how long until it may (when its oldest signal in the last
    24 hours leaves the window)."""
    recent = sorted(e.recorded_at for e in events
                    if isinstance(e.payload, PartnerSignalRecorded)
                    and e.metadata.actor == actor and now - e.recorded_at < WINDOW)
    if len(recent) < per_day:
        return None
    return recent[-per_day] + WINDOW - now
