from __future__ import annotations

import pytest

from domain.events import TrajectoryReferred
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.factories import new_event, referral
from workers.cli import erase_subject, timeline


async def test_timeline_lists_events_with_actor_and_erasure_reports(
    pg_store: PostgresEventStore, database_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await pg_store.append("trajectory-c7", 0, [
        new_event(TrajectoryReferred(case_id="c7", referral=referral()), actor="partner:GGD")])
    settings = Settings(database_url=database_dsn)

    assert await timeline(settings, "c7", as_json=False) == 0
    out = capsys.readouterr().out
    assert "TrajectoryReferred" in out
    assert "by partner:GGD" in out

    assert await timeline(settings, "unknown", as_json=False) == 1
    assert "no events for case 'unknown'" in capsys.readouterr().err

    assert await erase_subject(settings, "c-1") == 0
    assert "erased" in capsys.readouterr().out
    assert await erase_subject(settings, "c-1") == 0
    assert "already erased" in capsys.readouterr().out
