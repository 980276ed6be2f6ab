"""The notification outbox: written with the events, delivered at least once, recorded once.

Deliveries go to a real HTTP server on localhost (`WebhookReceiver`), over real sockets,
against the real database. Backoff is never slept: the tests use a zero backoff, or move
next_attempt_at into the past with SQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from structlog.testing import capture_logs
from temporalio.testing import ActivityEnvironment

from activities.event_store import AppendEventsInput, EventStoreActivities
from domain.events import NewEvent, TrajectoryReferred
from domain.notifications import Notification, RecipientRole
from infra.db_retry import Backoff
from infra.event_store import (
    OUTBOX_NOTIFY_CHANNEL,
    ConcurrencyError,
    PostgresEventStore,
)
from infra.outbox import OutboxDispatcher
from tests.db_outage import terminate_connections
from tests.factories import new_event, referral

ROOT = Path(__file__).resolve().parents[2]
WAIT = 15.0  # seconds: an upper bound for things that take milliseconds


# -- a real webhook receiver ---------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """A minimal HTTP/1.1 server on 127.0.0.1: each request is recorded, then answered
    with the next scripted status (200 once the script is used up), or, with `hold`,
    not answered at all until the receiver closes."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.hold = False
        self.received: list[Received] = []
        self.arrived = asyncio.Event()
        self.url = ""
        self._server: asyncio.Server | None = None
        self._release = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/regie"

    async def close(self) -> None:
        self._release.set()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def keys(self) -> list[str]:
        return [r.headers["idempotency-key"] for r in self.received]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(method, path, headers, body))
            self.arrived.set()
            if self.hold:
                await self._release.wait()
                return
            status = self.statuses.pop(0) if self.statuses else 200
            content = b'{"ok":true}' if status < 300 else b"receiver is having a bad day"
            writer.write(
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n"
                "Connection: close\r\n\r\n".encode() + content
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
async def directory(pool: asyncpg.Pool) -> None:
    # Migration 0004 creates it; this only matters while that migration is not there.
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS directory_organisations "
                           "(id text primary key, name text not null, webhook_url text)")


async def add_organisation(pool: asyncpg.Pool, org_id: str, webhook_url: str | None) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO directory_organisations (id, name, webhook_url) VALUES ($1, $2, $3)",
            org_id, f"Organisation {org_id}", webhook_url)


# -- helpers -------------------------------------------------------------------------------


def notification(key: str, organisation_id: str | None = None, *,
                 case_id: str = "case-1") -> Notification:
    return Notification(
        idempotency_key=key,
        recipient_id="prof-manager-1",
        role=RecipientRole.MANAGER,
        organisation_id=organisation_id,
        case_id=case_id,
        case_link=f"/v1/trajectories/{case_id}",
        message=f"Case {case_id} stagnates: the evaluation is overdue; please respond.",
    )


def dispatcher(pool: asyncpg.Pool, http: httpx.AsyncClient, **options: Any) -> OutboxDispatcher:
    options.setdefault("base_backoff", timedelta(0))
    options.setdefault("jitter", 0.0)
    return OutboxDispatcher(pool, http, **options)


def personal_event() -> NewEvent:
    return new_event(TrajectoryReferred(case_id="case-1", referral=referral()))


async def outbox(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch("SELECT * FROM outbox ORDER BY id"))


async def deliveries(pool: asyncpg.Pool) -> list[tuple[str, int, str, str, int | None]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT o.idempotency_key, d.attempt, d.channel, d.outcome, d.status_code "
            "FROM outbox_deliveries d JOIN outbox o ON o.id = d.outbox_id "
            "ORDER BY o.id, d.attempt")
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def make_due(pool: asyncpg.Pool) -> None:
    """What waiting out the backoff would do, without the wait."""
    async with pool.acquire() as conn:
        await conn.execute("UPDATE outbox SET next_attempt_at = now() - interval '1 second' "
                           "WHERE delivered_at IS NULL")


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {WAIT} s")
        await asyncio.sleep(0.02)


def events_named(logs: list[MutableMapping[str, Any]], name: str
                 ) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


# -- writing: atomic with the events ---------------------------------------------------------


@pytest.mark.parametrize("personal", [False, True], ids=["fast-path", "personal-data-path"])
async def test_notifications_are_written_with_the_events_and_wake_the_dispatcher(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, personal: bool
) -> None:
    woken: asyncio.Queue[str] = asyncio.Queue()

    def notified(*args: object) -> None:
        woken.put_nowait(str(args[-1]))  # the payload: how many rows the append wrote

    listener = await pool.acquire()
    await listener.add_listener(OUTBOX_NOTIFY_CHANNEL, notified)
    try:
        events = [personal_event() if personal else new_event(), new_event()]
        await pg_store.append("trajectory-case-1", 0, events,
                              [notification("n-1", "org-a"), notification("n-2")])
        assert await asyncio.wait_for(woken.get(), WAIT) == "2"
    finally:
        await listener.remove_listener(OUTBOX_NOTIFY_CHANNEL, notified)
        await pool.release(listener)

    rows = await outbox(pool)
    assert [r["idempotency_key"] for r in rows] == ["n-1", "n-2"]
    assert [r["channel"] for r in rows] == ["webhook", "log"]
    assert [r["organisation_id"] for r in rows] == ["org-a", None]
    assert all(r["event_id"] == events[0].event_id for r in rows)
    assert all(r["stream_id"] == "trajectory-case-1" for r in rows)
    first = rows[0]
    assert (first["recipient_id"], first["role"], first["case_id"], first["case_link"]) == (
        "prof-manager-1", "manager", "case-1", "/v1/trajectories/case-1")
    assert first["message"].startswith("Case case-1 stagnates")
    assert (first["attempts"], first["delivered_at"], first["last_error"]) == (0, None, None)


@pytest.mark.parametrize("personal", [False, True], ids=["fast-path", "personal-data-path"])
async def test_a_failed_append_writes_no_notification(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, personal: bool
) -> None:
    await pg_store.append("trajectory-case-1", 0, [new_event()])
    with pytest.raises(ConcurrencyError):
        await pg_store.append("trajectory-case-1", 0,
                              [personal_event() if personal else new_event()],
                              [notification("n-1")])
    assert await outbox(pool) == []


@pytest.mark.parametrize("personal", [False, True], ids=["fast-path", "personal-data-path"])
async def test_an_idempotent_retry_writes_no_notification_twice(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, personal: bool
) -> None:
    events = [personal_event() if personal else new_event()]
    first = await pg_store.append("trajectory-case-1", 0, events, [notification("n-1")])
    retry = await pg_store.append("trajectory-case-1", 0, events, [notification("n-1")])
    assert retry.already_stored and retry.positions == first.positions
    # Even a retry that (wrongly) carries other notifications writes nothing: the step
    # was recorded with the notifications of the first append.
    await pg_store.append("trajectory-case-1", 0, events, [notification("n-other")])
    assert [r["idempotency_key"] for r in await outbox(pool)] == ["n-1"]


async def test_a_redelivered_step_with_new_events_writes_a_known_key_once(
    pg_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await pg_store.append("trajectory-case-1", 0, [new_event()], [notification("n-1")])
    await pg_store.append("trajectory-case-1", 1, [personal_event()], [notification("n-1")])
    await pg_store.append("trajectory-case-1", 2, [new_event()],
                          [notification("n-1"), notification("n-2")])
    assert [r["idempotency_key"] for r in await outbox(pool)] == ["n-1", "n-2"]
    assert len(await pg_store.read_stream("trajectory-case-1")) == 3


async def test_one_key_twice_in_one_append_or_notifications_without_events_are_refused(
    pg_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    with pytest.raises(ValueError, match="twice in one append"):
        await pg_store.append("s", 0, [new_event()], [notification("n"), notification("n")])
    with pytest.raises(ValueError, match="need events"):
        await pg_store.append("s", 0, [], [notification("n")])
    assert await outbox(pool) == []
    assert await pg_store.read_stream("s") == []


async def test_the_append_activity_passes_notifications_through(
    pg_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    request = AppendEventsInput(stream_id="trajectory-case-1", expected_version=0,
                                events=[new_event()], notifications=[notification("n-1")],
                                case_id="case-1")
    # What the Temporal data converter does with it on the way to the worker.
    assert AppendEventsInput.model_validate_json(request.model_dump_json()) == request
    assert AppendEventsInput(stream_id="s", expected_version=0, events=[]).notifications == []

    activities = EventStoreActivities(pg_store)
    result = await ActivityEnvironment().run(activities.append_events, request)
    again = await ActivityEnvironment().run(activities.append_events, request)
    assert again.already_stored and again.positions == result.positions
    assert [r["idempotency_key"] for r in await outbox(pool)] == ["n-1"]


# -- delivering ------------------------------------------------------------------------------


@pytest.mark.usefixtures("directory")
async def test_a_webhook_that_fails_twice_gets_three_attempts_with_one_key(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, http: httpx.AsyncClient,
    receiver: WebhookReceiver,
) -> None:
    await add_organisation(pool, "org-a", receiver.url)
    await pg_store.append("trajectory-case-1", 0, [new_event()], [notification("n-1", "org-a")])
    receiver.statuses = [500, 503]
    outbox_dispatcher = dispatcher(pool, http, base_backoff=timedelta(minutes=1))

    with capture_logs() as logs:
        sent = datetime.now(UTC)
        assert await outbox_dispatcher.dispatch_once() == 1
        [row] = await outbox(pool)
        assert row["attempts"] == 1 and row["delivered_at"] is None
        assert row["last_error"].startswith("HTTP 500: receiver is having a bad day")
        # Due one backoff after the failed attempt, whenever within the call it failed:
        # bracketed by the call, so a slow machine cannot fail it.
        assert sent + timedelta(minutes=1) <= row["next_attempt_at"]
        assert row["next_attempt_at"] <= datetime.now(UTC) + timedelta(minutes=1)
        assert await outbox_dispatcher.dispatch_once() == 0  # not due: backing off

        await make_due(pool)
        sent = datetime.now(UTC)
        assert await outbox_dispatcher.dispatch_once() == 1
        [row] = await outbox(pool)
        assert sent + timedelta(minutes=2) <= row["next_attempt_at"]  # doubled
        assert row["next_attempt_at"] <= datetime.now(UTC) + timedelta(minutes=2)

        await make_due(pool)
        assert await outbox_dispatcher.dispatch_once() == 1
        assert await outbox_dispatcher.dispatch_once() == 0  # delivered: never again

    assert await deliveries(pool) == [
        ("n-1", 1, "webhook", "failed", 500),
        ("n-1", 2, "webhook", "failed", 503),
        ("n-1", 3, "webhook", "delivered", 200),
    ]
    [row] = await outbox(pool)
    assert row["attempts"] == 3 and row["delivered_at"] is not None
    assert row["last_error"] is None

    assert receiver.keys() == ["n-1", "n-1", "n-1"]
    posted = receiver.received[-1]
    assert (posted.method, posted.path) == ("POST", "/hooks/regie")
    assert posted.headers["content-type"] == "application/json"
    body = posted.json()
    assert set(body) == {"idempotency_key", "recipient_id", "role", "case_id", "case_link",
                         "message", "created_at"}
    assert body["idempotency_key"] == "n-1" and body["role"] == "manager"
    assert body["case_link"] == "/v1/trajectories/case-1"
    assert datetime.fromisoformat(body["created_at"]) == row["created_at"]

    failed = events_named(logs, "notification_failed")
    delivered = events_named(logs, "notification_delivered")
    assert [e["attempt"] for e in failed] == [1, 2]
    assert [e["log_level"] for e in failed] == ["warning", "warning"]
    assert len(delivered) == 1
    assert {k: delivered[0][k] for k in ("case_id", "recipient_id", "role",
                                        "idempotency_key", "channel", "status_code")} == {
        "case_id": "case-1", "recipient_id": "prof-manager-1", "role": "manager",
        "idempotency_key": "n-1", "channel": "webhook", "status_code": 200}
    assert all("message" not in e for e in logs)  # may name family members


@pytest.mark.usefixtures("directory")
async def test_without_a_webhook_the_log_line_is_the_delivery(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, http: httpx.AsyncClient,
    receiver: WebhookReceiver,
) -> None:
    await add_organisation(pool, "org-without-hook", None)
    await pg_store.append("trajectory-case-1", 0, [new_event()], [
        notification("n-no-org"),
        notification("n-org-without-hook", "org-without-hook"),
        notification("n-org-not-in-directory", "org-unknown"),
    ])
    with capture_logs() as logs:
        assert await dispatcher(pool, http).dispatch_once() == 3
    assert await deliveries(pool) == [
        ("n-no-org", 1, "log", "delivered", None),
        ("n-org-without-hook", 1, "log", "delivered", None),
        ("n-org-not-in-directory", 1, "log", "delivered", None),
    ]
    assert receiver.received == []
    assert sorted(e["idempotency_key"] for e in events_named(logs, "notification_delivered")) \
        == ["n-no-org", "n-org-not-in-directory", "n-org-without-hook"]
    assert all(r["delivered_at"] is not None for r in await outbox(pool))


@pytest.mark.usefixtures("directory")
async def test_a_webhook_configured_later_is_used_for_what_still_waits(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, http: httpx.AsyncClient,
    receiver: WebhookReceiver,
) -> None:
    await pg_store.append("trajectory-case-1", 0, [new_event()], [notification("n-1", "org-a")])
    await add_organisation(pool, "org-a", receiver.url)
    assert await dispatcher(pool, http).dispatch_once() == 1
    assert receiver.keys() == ["n-1"]


class Crash(Exception):
    """The dispatcher dies: after the POST reached the receiver, before the commit."""


async def crash_after_response(response: httpx.Response) -> None:
    raise Crash(f"killed after {response.request.method} answered {response.status_code}")


@pytest.mark.usefixtures("directory")
async def test_a_dispatcher_crash_after_the_post_is_redone_and_recorded_once(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, http: httpx.AsyncClient,
    receiver: WebhookReceiver,
) -> None:
    await add_organisation(pool, "org-a", receiver.url)
    await pg_store.append("trajectory-case-1", 0, [new_event()], [notification("n-1", "org-a")])

    async with httpx.AsyncClient(event_hooks={"response": [crash_after_response]}) as doomed:
        with pytest.raises(Crash):
            await dispatcher(pool, doomed).dispatch_once()
    assert receiver.keys() == ["n-1"]  # the receiver got it ...
    assert await deliveries(pool) == []  # ... but nothing was recorded
    [row] = await outbox(pool)
    assert (row["attempts"], row["delivered_at"]) == (0, None)

    # A new dispatcher redoes the same attempt: at least once, recorded once.
    assert await dispatcher(pool, http).dispatch_once() == 1
    assert receiver.keys() == ["n-1", "n-1"]
    assert await deliveries(pool) == [("n-1", 1, "webhook", "delivered", 200)]
    assert await dispatcher(pool, http).dispatch_once() == 0


@pytest.mark.usefixtures("directory")
async def test_a_killed_dispatcher_process_loses_nothing_and_duplicates_no_record(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, http: httpx.AsyncClient,
    receiver: WebhookReceiver, database_dsn: str, tmp_path: Path,
) -> None:
    """The real thing: `python -m workers.dispatcher`, SIGKILLed while its POST is in
    flight (the receiver holds the answer), so its transaction never commits."""
    await add_organisation(pool, "org-a", receiver.url)
    await pg_store.append("trajectory-case-1", 0, [new_event()], [notification("n-1", "org-a")])
    receiver.hold = True
    env = {**os.environ, "REGIE_DATABASE_URL": database_dsn, "PYTHONPATH": str(ROOT),
           "REGIE_OUTBOX_REQUEST_TIMEOUT_SECONDS": "60"}
    with (tmp_path / "dispatcher.log").open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "workers.dispatcher", cwd=ROOT, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output)
        try:
            await asyncio.wait_for(receiver.arrived.wait(), WAIT)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
    receiver.hold = False
    assert receiver.keys() == ["n-1"]
    assert await deliveries(pool) == []

    # PostgreSQL ends the dead session's transaction (and its row lock) when it sees the
    # socket close; until then the row is skipped, not waited for.
    outbox_dispatcher = dispatcher(pool, http)

    async def delivered() -> bool:
        return await outbox_dispatcher.dispatch_once() == 1

    await until(delivered, "the row to be delivered by the next dispatcher")
    assert receiver.keys() == ["n-1", "n-1"]
    assert await deliveries(pool) == [("n-1", 1, "webhook", "delivered", 200)]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.usefixtures("directory")
async def test_it_gives_up_after_max_attempts_and_an_operator_can_ask_for_one_more(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, http: httpx.AsyncClient,
    receiver: WebhookReceiver,
) -> None:
    await add_organisation(pool, "org-gone", f"http://127.0.0.1:{closed_port()}/hook")
    await pg_store.append("trajectory-case-1", 0, [new_event()],
                          [notification("n-1", "org-gone")])
    outbox_dispatcher = dispatcher(pool, http, max_attempts=3)
    with capture_logs() as logs:
        assert [await outbox_dispatcher.dispatch_once() for _ in range(4)] == [1, 1, 1, 0]
    assert await deliveries(pool) == [("n-1", n, "webhook", "failed", None) for n in (1, 2, 3)]
    [row] = await outbox(pool)
    assert row["delivered_at"] is None and row["attempts"] == 3
    assert row["last_error"].startswith("ConnectError")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT next_attempt_at = 'infinity' FROM outbox")
    [given_up] = events_named(logs, "notification_given_up")
    assert given_up["log_level"] == "error" and given_up["idempotency_key"] == "n-1"
    assert given_up["attempt"] == 3

    # The operator fixes the URL and asks for another attempt: numbered on, no clash.
    async with pool.acquire() as conn:
        await conn.execute("UPDATE directory_organisations SET webhook_url = $1", receiver.url)
        await conn.execute("UPDATE outbox SET next_attempt_at = now()")
    assert await outbox_dispatcher.dispatch_once() == 1
    assert (await deliveries(pool))[-1] == ("n-1", 4, "webhook", "delivered", 200)


@pytest.mark.usefixtures("directory")
async def test_two_dispatchers_deliver_each_notification_once(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, http: httpx.AsyncClient,
    receiver: WebhookReceiver,
) -> None:
    await add_organisation(pool, "org-a", receiver.url)
    keys = [f"n-{i}" for i in range(20)]
    await pg_store.append("trajectory-case-1", 0, [new_event()],
                          [notification(k, "org-a") for k in keys])
    first, second = dispatcher(pool, http, concurrency=3), dispatcher(pool, http, concurrency=3)
    counts = await asyncio.gather(first.dispatch_once(), second.dispatch_once())
    assert sum(counts) == 20
    assert sorted(receiver.keys()) == sorted(keys)  # no row was POSTed twice
    assert sorted(await deliveries(pool)) == sorted(
        (k, 1, "webhook", "delivered", 200) for k in keys)


@pytest.mark.usefixtures("directory")
async def test_run_is_woken_by_an_append_and_stops_when_asked(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, http: httpx.AsyncClient,
    receiver: WebhookReceiver,
) -> None:
    await add_organisation(pool, "org-a", receiver.url)
    await pg_store.append("trajectory-case-1", 0, [new_event()], [notification("n-1", "org-a")])
    stop = asyncio.Event()
    # A poll interval far beyond the test's patience: only NOTIFY can explain a delivery.
    running = asyncio.create_task(
        dispatcher(pool, http, poll_interval=timedelta(hours=1)).run(stop))
    try:
        def received(count: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return len(receiver.received) >= count
            return check

        await until(received(1), "the first pass")  # a row from before the start
        await pg_store.append("trajectory-case-1", 1, [new_event()],
                              [notification("n-2", "org-a")])
        await until(received(2), "the NOTIFY of the append")
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
    assert receiver.keys() == ["n-1", "n-2"]


@pytest.mark.usefixtures("directory")
async def test_run_rides_out_ended_connections_and_delivers_each_once(
    pg_store: PostgresEventStore, pool: asyncpg.Pool, http: httpx.AsyncClient,
    receiver: WebhookReceiver, database_dsn: str,
) -> None:
    await add_organisation(pool, "org-a", receiver.url)
    await pg_store.append("trajectory-case-1", 0, [new_event()], [notification("n-1", "org-a")])
    stop = asyncio.Event()
    # Only NOTIFY on a listener opened again after the outage can deliver n-2 in time.
    running = asyncio.create_task(
        dispatcher(pool, http, poll_interval=timedelta(hours=1),
                   outage_backoff=Backoff(initial=0.05, cap=0.2)).run(stop))

    def received(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(receiver.received) >= count
        return check

    with capture_logs() as logs:
        try:
            await until(received(1), "the first pass")
            assert await terminate_connections(database_dsn) >= 1
            await pg_store.append("trajectory-case-1", 1, [new_event()],
                                  [notification("n-2", "org-a")])
            await until(received(2), "the delivery after the outage")
        finally:
            stop.set()
            await asyncio.wait_for(running, WAIT)
    assert not running.exception()
    assert receiver.keys() == ["n-1", "n-2"]
    assert await deliveries(pool) == [("n-1", 1, "webhook", "delivered", 200),
                                      ("n-2", 1, "webhook", "delivered", 200)]
    outages = events_named(logs, "database_unavailable")
    assert [e["part"] for e in outages] == ["outbox dispatcher"]
    assert len(events_named(logs, "database_available_again")) == 1


async def test_an_error_answered_by_the_server_is_no_outage_and_does_not_end_run(
    pool: asyncpg.Pool, http: httpx.AsyncClient,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute("ALTER TABLE outbox RENAME TO outbox_elsewhere")
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(
            dispatcher(pool, http, poll_interval=timedelta(seconds=0.05)).run(stop))

        async def said_twice() -> bool:
            return len(events_named(logs, "outbox_dispatch_error")) >= 2

        await until(said_twice, "the error, said on each pass")
        assert not running.done()
        stop.set()
        await asyncio.wait_for(running, WAIT)
    assert "UndefinedTableError" in events_named(logs, "outbox_dispatch_error")[0]["error"]
    assert not events_named(logs, "database_unavailable")


async def test_the_schema_refuses_a_second_record_of_an_attempt_or_of_a_delivery(
    pg_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await pg_store.append("s", 0, [new_event()], [notification("n-1")])
    [row] = await outbox(pool)
    record = ("INSERT INTO outbox_deliveries (outbox_id, attempt, channel, outcome) "
              "VALUES ($1, $2, 'webhook', $3)")
    async with pool.acquire() as conn:
        await conn.execute(record, row["id"], 1, "delivered")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(record, row["id"], 1, "failed")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(record, row["id"], 2, "delivered")


async def test_backoff_doubles_up_to_the_cap_and_stops_at_max_attempts(
    pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    exact = OutboxDispatcher(pool, http, max_attempts=12, base_backoff=timedelta(seconds=1),
                             max_backoff=timedelta(minutes=10), jitter=0.0)
    assert [exact.backoff(n) for n in (1, 2, 3, 10, 11)] == [
        timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=4),
        timedelta(seconds=512), timedelta(minutes=10)]
    assert exact.backoff(12) is None
    jittered = OutboxDispatcher(pool, http, jitter=0.1)
    waits = [jittered.backoff(3) for _ in range(50)]
    assert all(w is not None and timedelta(seconds=4) <= w <= timedelta(seconds=4.4)
               for w in waits)
    assert len(set(waits)) > 1
