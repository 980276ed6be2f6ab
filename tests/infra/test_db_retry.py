"""Waiting out a database outage: the backoff, the one log line, no password in it."""

from __future__ import annotations

import asyncio
import socket

import asyncpg
from structlog.testing import capture_logs

from infra.db_retry import Backoff, Outage, create_pool_when_available, reason
from infra.structured_logging import get_logger


def test_backoff_doubles_from_the_first_failure_and_stops_at_the_cap() -> None:
    backoff = Backoff(initial=0.5, cap=4.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(10_000) == 4.0  # no overflow after a very long outage


def test_the_reason_never_carries_a_password() -> None:
    error = OSError("cannot reach postgresql://regie:s3cret@db:5432/regie (password=s3cret)")
    text = reason(error)
    assert "s3cret" not in text
    assert text.startswith("OSError: cannot reach postgresql://***@db:5432/regie")


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends() -> None:
    with capture_logs() as logs:
        outage = Outage(get_logger("test"), "projector", Backoff(initial=1, cap=8))
        waits = [outage.failed(ConnectionRefusedError("refused")) for _ in range(5)]
        outage.recovered()
        outage.recovered()  # no outage any more: nothing to say
        outage.failed(asyncpg.CannotConnectNowError("starting up"))
    assert waits == [1, 2, 4, 8, 8]
    assert [(e["event"], e.get("failed_attempts")) for e in logs] == [
        ("database_unavailable", None), ("database_available_again", 5),
        ("database_unavailable", None)]
    assert logs[0]["reason"] == "ConnectionRefusedError: refused"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_process_started_during_an_outage_waits_until_stopped() -> None:
    dsn = f"postgresql://regie:s3cret@127.0.0.1:{closed_port()}/regie"
    stop = asyncio.Event()
    with capture_logs() as logs:
        waiting = asyncio.create_task(create_pool_when_available(
            dsn, Outage(get_logger("test"), "projector", Backoff(initial=0.01, cap=0.05)),
            stop))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # still trying, not exited
        stop.set()
        assert await asyncio.wait_for(waiting, timeout=10) is None
    assert [e["event"] for e in logs] == ["database_unavailable"]
    assert "s3cret" not in str(logs)
