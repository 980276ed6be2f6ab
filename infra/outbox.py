"""The notification dispatcher: delivers every outbox row at least once.

The event store writes a step's notifications to `outbox` in the same transaction as the
step's events (infra/event_store.py). This module takes them from there to the people
concerned: always a structured log line, and an HTTP POST to the webhook of the
recipient's organisation when `directory_organisations.webhook_url` is set. Every attempt
is recorded in `outbox_deliveries`.

Crash safety. Each row is delivered in one transaction that holds the row's lock across
the side effects:

    BEGIN
      SELECT the row ... FOR UPDATE OF outbox SKIP LOCKED   -- claim (nothing written)
      POST to the webhook; the log line                      -- side effects
      INSERT INTO outbox_deliveries (outbox_id, attempt, ...) -- the record ...
      UPDATE outbox SET attempts, delivered_at | next_attempt_at  -- ... and the state
    COMMIT

- Nothing is written before the POST. A dispatcher that dies anywhere before COMMIT
  (killed between the POST and the commit, connection lost, cancelled) leaves the row
  exactly as it was: still due, its attempt counter unchanged, and PostgreSQL releases
  the lock with the dead session. The next dispatcher redoes the *same* attempt: the
  receiver may see a second POST with the same Idempotency-Key (at least once), and the
  attempt is recorded once. A dispatcher that dies after COMMIT leaves a complete record.
- The record and the state change commit together, so there is no moment in which a
  delivery is recorded but the row still looks due, or the other way round. On top of
  that, UNIQUE (outbox_id, attempt) and a unique index on a row's 'delivered' record
  make a second record of one attempt or a second delivery record impossible.
- The lock is also the mutual exclusion between dispatchers: while one POSTs, the others
  skip the row. It lasts exactly as long as its holder's session, with no lease time to
  guess. The alternative, a lease (claim and commit, POST outside any transaction, then
  record), lets a dispatcher that is slow but alive POST and record alongside the one
  that took over its expired lease.
- The price is one connection and an open transaction per POST in flight, bounded by
  `concurrency` and `request_timeout`. `idle_in_transaction_session_timeout` is set just
  above the request timeout, so a dispatcher that hangs (a frozen VM) cannot hold a row
  forever: PostgreSQL ends its session, its late COMMIT fails, and the row is redone.

The log line is written before the COMMIT for the same reason as the POST: for a row
without a webhook the log line *is* the delivery, so it may repeat after a crash (with
the same idempotency key) but is never missing.

After `max_attempts` failed attempts the row's next_attempt_at becomes 'infinity': it
stays undelivered, with last_error, for operators, and an error is logged. Setting
next_attempt_at to now() asks for one more attempt (numbered on, so never a clash).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

from infra.db_retry import OUTAGE_ERRORS, Backoff, Outage, sleep_unless
from infra.event_store import OUTBOX_NOTIFY_CHANNEL
from infra.pgtypes import Conn
from infra.structured_logging import get_logger

log = get_logger("regie.outbox")

# Candidates only, without locks: each is claimed (and re-checked) in its own transaction.
_DUE = """
SELECT id FROM outbox
WHERE delivered_at IS NULL AND next_attempt_at <= now()
ORDER BY next_attempt_at, id
LIMIT $1
"""

# The webhook URL is read now, not when the notification was written: a URL configured
# (or fixed) later applies to what is still waiting. `FOR UPDATE OF o` locks the outbox
# row only; the directory row is just read. The attempt number continues from the
# highest recorded one even if an operator edited `attempts`, so it can never clash.
_CLAIM = """
SELECT o.id, o.idempotency_key, o.recipient_id, o.role, o.organisation_id, o.channel,
       o.case_id, o.case_link, o.message, o.created_at,
       greatest(o.attempts,
                (SELECT coalesce(max(d.attempt), 0) FROM outbox_deliveries d
                 WHERE d.outbox_id = o.id)) + 1 AS attempt,
       org.webhook_url
FROM outbox o
LEFT JOIN directory_organisations org ON org.id = o.organisation_id
WHERE o.id = $1 AND o.delivered_at IS NULL AND o.next_attempt_at <= now()
FOR UPDATE OF o SKIP LOCKED
"""

_RECORD = """
INSERT INTO outbox_deliveries (outbox_id, attempt, channel, outcome, status_code, error, at)
VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp())
"""

_DELIVERED = """
UPDATE outbox SET delivered_at = clock_timestamp(), attempts = $2, last_error = NULL
WHERE id = $1
"""

# A NULL delay means: give up ('infinity' is never due, and stays out of the way of the
# due scan while keeping the row for operators).
_FAILED = """
UPDATE outbox
SET attempts = $2, last_error = $3,
    next_attempt_at = coalesce(clock_timestamp() + $4::interval, 'infinity')
WHERE id = $1
"""

_NEXT_DUE_IN = """
SELECT extract(epoch FROM min(next_attempt_at) - clock_timestamp())::float8
FROM outbox
WHERE delivered_at IS NULL AND next_attempt_at < 'infinity'
"""

_MAX_ERROR = 500  # characters of an error kept in the tables; a receiver's page can be huge


@dataclass(frozen=True)
class _Outcome:
    channel: str  # the channel actually used: 'log' when there is no webhook URL
    delivered: bool
    status_code: int | None = None
    error: str | None = None


class OutboxDispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        http: httpx.AsyncClient,
        *,
        max_attempts: int = 10,
        base_backoff: timedelta = timedelta(seconds=1),
        max_backoff: timedelta = timedelta(minutes=10),
        batch_size: int = 50,
        jitter: float = 0.1,
        request_timeout: timedelta = timedelta(seconds=10),
        concurrency: int = 4,
        poll_interval: timedelta = timedelta(seconds=5),
        outage_backoff: Backoff | None = None,
    ) -> None:
        """`pool` needs `concurrency` + 2 connections for `run` (one listens, one scans).

        `jitter` adds up to that fraction to each backoff, so that the many rows that
        failed together in a receiver's outage do not all come back at the same moment.
        """
        if max_attempts < 1 or batch_size < 1 or concurrency < 1:
            raise ValueError("max_attempts, batch_size and concurrency must be at least 1")
        self._pool = pool
        self._http = http
        self._max_attempts = max_attempts
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._batch_size = batch_size
        self._jitter = jitter
        self._request_timeout = request_timeout.total_seconds()
        self._concurrency = concurrency
        self._poll_interval = poll_interval.total_seconds()
        self._outage_backoff = outage_backoff or Backoff()
        # Above the request timeout, with room for the log line and the record.
        self._idle_timeout_ms = str(int((self._request_timeout + 30) * 1000))

    # -- one pass ------------------------------------------------------------------------

    async def dispatch_once(self) -> int:
        """Attempt each row that is due now (up to `batch_size`), each at most once;
        return how many were attempted (delivered or failed)."""
        return await self._dispatch(None)

    async def _dispatch(self, stop: asyncio.Event | None) -> int:
        async with self._pool.acquire() as conn:
            ids: list[int] = [r["id"] for r in await conn.fetch(_DUE, self._batch_size)]
        if not ids:
            return 0
        gate = asyncio.Semaphore(self._concurrency)

        async def one(outbox_id: int) -> bool:
            async with gate:
                # In-flight rows finish; rows not started yet wait for the next run.
                if stop is not None and stop.is_set():
                    return False
                return await self._deliver(outbox_id)

        # Candidates are taken once per pass, and each is claimed in its own transaction:
        # a crash rolls back one row's attempt, not a batch's, and a row that failed with
        # a zero backoff is not retried within the same pass.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(i)) for i in ids]
        except BaseExceptionGroup as errors:
            # An unexpected error (the database went away) ends the pass; the other rows
            # were cancelled and rolled back. Raise it as itself, not as a group.
            raise errors.exceptions[0] from errors
        return sum(1 for t in tasks if t.result())

    async def _deliver(self, outbox_id: int) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT set_config('idle_in_transaction_session_timeout', "
                               "$1, true)", self._idle_timeout_ms)
            row = await conn.fetchrow(_CLAIM, outbox_id)
            if row is None:
                return False  # another dispatcher has it, or it was delivered meanwhile
            outcome = await self._send(row)
            self._log(row, outcome)
            await self._record(conn, row, outcome)
        return True

    async def _send(self, row: asyncpg.Record) -> _Outcome:
        url: str | None = row["webhook_url"]
        if row["channel"] != "webhook" or not url:
            # No organisation, or one without a webhook (yet): the log line is the
            # delivery.
            return _Outcome("log", delivered=True)
        body = {
            "idempotency_key": row["idempotency_key"],
            "recipient_id": row["recipient_id"],
            "role": row["role"],
            "case_id": row["case_id"],
            "case_link": row["case_link"],
            "message": row["message"],
            "created_at": _iso(row["created_at"]),
        }
        try:
            # The overall bound: httpx's timeouts are per phase and per read, so a
            # receiver that trickles bytes could otherwise hold the row's lock for long.
            async with asyncio.timeout(self._request_timeout):
                response = await self._http.post(
                    url, json=body, headers={"Idempotency-Key": row["idempotency_key"]})
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as error:
            # Only errors of the call itself count as a failed attempt. Anything else
            # propagates and rolls the attempt back, to be redone (at least once).
            return _Outcome("webhook", delivered=False,
                            error=_clip(f"{type(error).__name__}: {error}"))
        if response.is_success:
            return _Outcome("webhook", delivered=True, status_code=response.status_code)
        return _Outcome("webhook", delivered=False, status_code=response.status_code,
                        error=_clip(f"HTTP {response.status_code}: {response.text}"))

    async def _record(self, conn: Conn, row: asyncpg.Record, outcome: _Outcome) -> None:
        attempt: int = row["attempt"]
        await conn.execute(_RECORD, row["id"], attempt, outcome.channel,
                           "delivered" if outcome.delivered else "failed",
                           outcome.status_code, outcome.error)
        if outcome.delivered:
            await conn.execute(_DELIVERED, row["id"], attempt)
        else:
            await conn.execute(_FAILED, row["id"], attempt, outcome.error,
                               self.backoff(attempt))

    def backoff(self, attempt: int) -> timedelta | None:
        """The wait after failed attempt `attempt`; None once it was the last one."""
        if attempt >= self._max_attempts:
            return None
        # In float seconds, the exponent capped: a timedelta overflows long before.
        seconds = min(self._max_backoff.total_seconds(),
                      self._base_backoff.total_seconds() * 2.0 ** min(attempt - 1, 60))
        return timedelta(seconds=seconds * (1 + random.uniform(0, self._jitter)))

    def _log(self, row: asyncpg.Record, outcome: _Outcome) -> None:
        fields: dict[str, Any] = {
            "case_id": row["case_id"],
            "recipient_id": row["recipient_id"],
            "role": row["role"],
            "organisation_id": row["organisation_id"],
            "idempotency_key": row["idempotency_key"],
            "case_link": row["case_link"],
            "outbox_id": row["id"],
            "attempt": row["attempt"],
            "channel": outcome.channel,
            "status_code": outcome.status_code,
        }
        # The message itself stays out of the log: it may name family members, and log
        # files are kept and shipped far more widely than the database. It is in the
        # outbox row, and the case link leads to the case.
        if outcome.delivered:
            log.info("notification_delivered", **fields)
            return
        log.warning("notification_failed", error=outcome.error, **fields)
        if row["attempt"] >= self._max_attempts:
            log.error("notification_given_up", error=outcome.error,
                      max_attempts=self._max_attempts, **fields)

    # -- the loop ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set: woken by the store's NOTIFY when an append
        writes notifications, by the next retry coming due, and at the latest every
        `poll_interval` (in case a notification was lost with a dropped connection).

        A database outage is waited out with backoff (logged once per outage): the
        attempts in flight roll back and are redone, see the module docstring."""
        outage = Outage(log, "outbox dispatcher", self._outage_backoff)
        log.info("outbox_dispatcher_started", max_attempts=self._max_attempts,
                 concurrency=self._concurrency)
        try:
            while not stop.is_set():
                try:
                    await self._follow(stop, outage)
                except OUTAGE_ERRORS as error:
                    # The database is away: keep the process, try again with backoff.
                    await sleep_unless(stop, outage.failed(error))
                except asyncpg.PostgresError as error:
                    # The server answered with an error: not an outage, so said every
                    # time; the pass's attempts rolled back and are redone later.
                    log.error("outbox_dispatch_error", error=f"{type(error).__name__}: "
                              f"{error}")
                    await sleep_unless(stop, self._poll_interval)
        finally:
            log.info("outbox_dispatcher_stopped")

    async def _follow(self, stop: asyncio.Event, outage: Outage) -> None:
        wake = asyncio.Event()

        def notified(*_: object) -> None:
            wake.set()

        # Set by asyncpg when the server ends the listening connection; the proxy the
        # pool handed out cannot even be asked after that (the pool took it back).
        lost = asyncio.Event()

        def closed(*_: object) -> None:
            lost.set()
            wake.set()

        listener = await self._pool.acquire()
        try:
            await listener.add_listener(OUTBOX_NOTIFY_CHANNEL, notified)
            # A listener the server closed hears nothing more: start over with a new one.
            listener.add_termination_listener(closed)
            while not stop.is_set():
                if lost.is_set():
                    raise asyncpg.ConnectionDoesNotExistError(
                        "the connection listening for notifications was closed")
                # Cleared before the pass: a row written during it sets it again.
                wake.clear()
                attempted = await self._dispatch(stop)
                wait = await self._next_wait(attempted)
                outage.recovered()
                if wait > 0:
                    await _first_of(wake, stop, within=wait)
        finally:
            with contextlib.suppress(Exception):
                listener.remove_termination_listener(closed)
                await listener.remove_listener(OUTBOX_NOTIFY_CHANNEL, notified)
            with contextlib.suppress(*OUTAGE_ERRORS):
                await self._pool.release(listener)

    async def _next_wait(self, attempted: int) -> float:
        async with self._pool.acquire() as conn:
            due_in: float | None = await conn.fetchval(_NEXT_DUE_IN)
        if due_in is None:
            return self._poll_interval
        if due_in <= 0:
            # More is due. Right away if this pass got work done (a backlog longer than a
            # batch); otherwise what is due is locked by another dispatcher, and spinning
            # on it would only burn CPU until that one finishes.
            return 0.0 if attempted else self._poll_interval
        return min(due_in, self._poll_interval)


async def _first_of(wake: asyncio.Event, stop: asyncio.Event, *, within: float) -> None:
    waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())}
    _, pending = await asyncio.wait(waiters, timeout=within,
                                    return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _iso(value: datetime) -> str:
    return value.isoformat()


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ERROR else text[:_MAX_ERROR] + "…"
