"""The PostgreSQL event store (asyncpg).

Guarantees, each proven by `tests/infra/test_event_store_contract.py`:

- `append` is atomic and optimistic: it raises `ConcurrencyError` when the stream is
  not at `expected_version`.
- `append` is idempotent on event id: a retried append of the same events returns the
  original positions and writes nothing; the same id with other content is refused.
- `read_all` returns events in commit order and never passes over a position that a
  slower transaction fills in later. Writers take an EXCLUSIVE lock on the table (the
  approach of the `eventsourcing` library's PostgreSQL recorder): inserts are
  serialised, so identity values are handed out and committed in the same order.
  Readers take no lock that conflicts with it.
- Personal fields are sealed with a per-subject key; `erase_subject` destroys the key.
  The keys are stored only wrapped under a KEK kept outside PostgreSQL
  (infra/subject_keys.py, infra/key_wrapping.py).
- Notifications passed to `append` are written to the `outbox` in the same transaction as
  the events (none if the append fails or is a retry), and wake the dispatcher
  (infra/outbox.py) through NOTIFY on `OUTBOX_NOTIFY_CHANNEL` when that commits.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from domain.event_codec import DOMAIN_CODEC, EventCodec
from domain.events import NewEvent, RecordedEvent
from domain.notifications import Notification
from domain.personal import JsonPath, may_hold_personal_data, personal_values
from infra import subject_keys
from infra.key_wrapping import KeyWrapper
from infra.personal_data import seal
from infra.pgtypes import Conn
from infra.stored_events import (
    ENVELOPE_COLUMNS,
    ROW_COLUMNS,
    EventEnvelope,
    RowDecoder,
    envelope,
    sealed_subjects_in,
)
from infra.structured_logging import get_logger

log = get_logger(__name__)

NOTIFY_CHANNEL = "regie_events"
# Here rather than in infra/outbox.py: the store sends it, and importing the dispatcher
# (and httpx) into everything that appends would be for one string.
OUTBOX_NOTIFY_CHANNEL = "regie_outbox"


class EventStoreError(Exception):
    pass


class ConcurrencyError(EventStoreError):
    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, not the expected {expected}: "
            "another writer appended first; reload the stream and decide again"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class EventIdConflictError(EventStoreError):
    """An event id that is already stored arrived with other content or another stream."""


class EventDataRejectedError(EventStoreError):
    """PostgreSQL refused the data itself (SQLSTATE class 22): a refusal, not an outage."""


class SubjectErasedError(EventStoreError):
    """New personal data arrived for a person whose data was erased."""

    def __init__(self, message: str, subjects: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.subjects = tuple(subjects)


@dataclass(frozen=True)
class AppendResult:
    stream_id: str
    positions: list[int]
    last_version: int
    already_stored: bool = False


class EventStore(Protocol):
    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        notifications: Sequence[Notification] = (),
    ) -> AppendResult: ...

    async def read_stream(self, stream_id: str, from_version: int = 0,
                          limit: int | None = None) -> list[RecordedEvent]: ...

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]: ...

    async def erase_subject(self, subject_id: str) -> bool: ...


_SELECT = f"SELECT {ROW_COLUMNS} FROM events"
_SELECT_ENVELOPES = f"SELECT {ENVELOPE_COLUMNS} FROM events"
# How far the next `limit` positions after $1 reach; an index-only scan of the key.
_SPAN = """SELECT count(*) AS passed, max(position) AS last
           FROM (SELECT position FROM events WHERE position > $1
                 ORDER BY position LIMIT $2) AS span"""
# The same span, by stream: each stream's last version and position in it, and how many
# of its events it holds (their sum is the span's length). Within a stream versions and
# positions rise together (appends to a stream are serialised), so both maxima belong to
# its last event.
_SPAN_HEADS = """SELECT stream_id, max(stream_version) AS version, max(position) AS last,
                        count(*) AS passed
                 FROM (SELECT stream_id, stream_version, position FROM events
                       WHERE position > $1 ORDER BY position LIMIT $2) AS span
                 GROUP BY stream_id"""

# An append in one round trip under the table lock: the stream's version, how many of
# the event ids are already stored, and the insert, which only writes when the version is
# the expected one and no id clashes. All parts see the same snapshot, taken after the
# LOCK TABLE that precedes this statement in the same transaction, so nothing can slip in
# between the checks and the insert. The caller tells the outcomes apart by `clashes`
# (a retry or a conflict: checked first) and `actual`. Personal fields arrive sealed.
_CHECK_AND_INSERT_CTES = """
WITH current AS (
    SELECT coalesce(max(stream_version), 0) AS version FROM events WHERE stream_id = $1
), clash AS (
    SELECT count(*) AS n FROM events WHERE event_id = ANY($3::uuid[])
), inserted AS (
    INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
                        occurred_at, metadata, data)
    SELECT $1, v, e, t, s, o, m, d
    FROM unnest($2::int[], $3::uuid[], $4::text[], $5::int[], $6::timestamptz[],
                $7::jsonb[], $8::jsonb[]) AS u(v, e, t, s, o, m, d)
    WHERE (SELECT version FROM current) = $10 AND (SELECT n FROM clash) = 0
    RETURNING position
)"""

_CHECK_AND_INSERT_RESULT = """
SELECT (SELECT version FROM current) AS actual,
       (SELECT n FROM clash) AS clashes,
       (SELECT array_agg(position ORDER BY position) FROM inserted) AS positions,
       (SELECT pg_notify($9, max(position)::text) FROM inserted HAVING count(*) > 0)
           AS notified"""


def _outbox_insert(stream_id: str, event_id: str, first: int, condition: str) -> str:
    """The outbox INSERT of an append: `stream_id` and `event_id` are SQL expressions,
    the seven column arrays (`_outbox_columns`) are parameters numbered from `first`.
    `condition` gates the insert: it is the check that gates the events' insert, because
    that statement also runs (and commits) for a retry, which inserts no events and so
    must insert no notifications either; ON CONFLICT only covers the keys the original
    append wrote. (A conflict raises and rolls everything back anyway.)
    """
    p = [f"${first + i}" for i in range(7)]
    return f"""INSERT INTO outbox (idempotency_key, stream_id, event_id, recipient_id, role,
                        organisation_id, channel, case_id, case_link, message)
    SELECT k, {stream_id}, {event_id}, r, ro, org,
           CASE WHEN org IS NULL THEN 'log' ELSE 'webhook' END, c, l, m
    FROM unnest({p[0]}::text[], {p[1]}::text[], {p[2]}::text[], {p[3]}::text[],
                {p[4]}::text[], {p[5]}::text[], {p[6]}::text[])
         AS notification(k, r, ro, org, c, l, m)
    WHERE {condition}
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id"""


_CHECK_AND_INSERT = _CHECK_AND_INSERT_CTES + _CHECK_AND_INSERT_RESULT

# The same with the step's notifications: still one round trip, and the outbox rows are
# written under exactly the condition that writes the events. A separate statement (not
# always this one) so that the common append without notifications pays nothing for it.
_CHECK_AND_INSERT_WITH_OUTBOX = (
    _CHECK_AND_INSERT_CTES
    + """, outboxed AS (
    """ + _outbox_insert("$1", "($3::uuid[])[1]", 11,
                         "(SELECT version FROM current) = $10 AND (SELECT n FROM clash) = 0")
    + """
)""" + _CHECK_AND_INSERT_RESULT + """,
       (SELECT pg_notify($18, count(*)::text) FROM outboxed HAVING count(*) > 0)
           AS outbox_notified
"""
)


def _outbox_columns(notifications: Sequence[Notification]) -> list[list[str | None]]:
    return [
        [n.idempotency_key for n in notifications],
        [n.recipient_id for n in notifications],
        [n.role.value for n in notifications],
        [n.organisation_id for n in notifications],
        [n.case_id for n in notifications],
        [n.case_link for n in notifications],
        [n.message for n in notifications],
    ]


class PostgresEventStore:
    def __init__(self, pool: asyncpg.Pool, *, key_wrapper: KeyWrapper,
                 codec: EventCodec = DOMAIN_CODEC) -> None:
        self._pool = pool
        self._key_wrapper = key_wrapper
        self._codec = codec

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    # -- writing -------------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        notifications: Sequence[Notification] = (),
    ) -> AppendResult:
        """Append `events` and, in the same transaction, write `notifications` to the
        outbox: both are stored, or (on any error) neither. A retry of an append that
        is already stored writes no notifications."""
        if not stream_id:
            raise ValueError("stream_id must not be empty")
        if expected_version < 0:
            raise ValueError(f"expected_version must be >= 0, got {expected_version}")
        if not events:
            if notifications:
                raise ValueError("notifications need events: they are written with the "
                                 "events of the step that causes them")
            return AppendResult(stream_id, [], expected_version)
        ids = [e.event_id for e in events]
        if len(set(ids)) != len(ids):
            raise EventIdConflictError("the same event id appears twice in one append")
        keys = [n.idempotency_key for n in notifications]
        if len(set(keys)) != len(keys):
            # Within one append this is a bug in the caller, not a retry: two different
            # notifications would silently become one.
            raise ValueError("the same notification idempotency key appears twice in one "
                             "append")

        fields_per_event = [
            personal_values(e.payload) if may_hold_personal_data(type(e.payload)) else []
            for e in events
        ]
        versions = list(range(expected_version + 1, expected_version + 1 + len(events)))
        try:
            return await self._append_in_transaction(
                stream_id, expected_version, events, notifications, ids, versions,
                fields_per_event)
        except asyncpg.DataError as error:
            # Data PostgreSQL cannot hold (a NUL byte in text, ...): no retry will
            # help. Only the kind is said, never the value.
            raise EventDataRejectedError(
                f"the event store refused the data ({type(error).__name__}, "
                f"SQLSTATE {error.sqlstate})") from None

    async def _append_in_transaction(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent],
        notifications: Sequence[Notification], ids: list[UUID], versions: list[int],
        fields_per_event: list[list[tuple[JsonPath, str]]],
    ) -> AppendResult:
        async with self._pool.acquire() as conn, conn.transaction():
            # Sealing comes before the table lock, which every append in the region waits
            # for: the subjects' keys (a query, for a new subject a wrap by the KEK's
            # keeper) and the encryption are this append's own work. Keys made here for
            # an append that then conflicts roll back with it; a retry of a stored append
            # makes none (its subjects' keys exist, or their erasure does).
            data = await self._sealed_or_stored(conn, stream_id, events, fields_per_event)
            if isinstance(data, AppendResult):
                return data
            await conn.execute("LOCK TABLE events IN EXCLUSIVE MODE")
            outbox_args: list[Any] = []
            if notifications:
                outbox_args = [*_outbox_columns(notifications), OUTBOX_NOTIFY_CHANNEL]
            row = await conn.fetchrow(
                _CHECK_AND_INSERT_WITH_OUTBOX if notifications else _CHECK_AND_INSERT,
                stream_id,
                versions,
                ids,
                [e.payload.type for e in events],
                [e.payload.SCHEMA_VERSION for e in events],
                [e.occurred_at for e in events],
                [e.metadata.model_dump_json() for e in events],
                data,
                NOTIFY_CHANNEL,
                expected_version,
                *outbox_args,
            )
            assert row is not None
            if row["clashes"]:
                stored = await self._stored_append(conn, stream_id, events)
                assert stored is not None  # an id clashed: it is stored
                return stored
            if row["actual"] != expected_version:
                raise ConcurrencyError(stream_id, expected_version, row["actual"])
            return AppendResult(stream_id, list(row["positions"]),
                                expected_version + len(events))

    async def _sealed_or_stored(
        self,
        conn: Conn,
        stream_id: str,
        events: Sequence[NewEvent],
        fields_per_event: list[list[tuple[JsonPath, str]]],
    ) -> list[str] | AppendResult:
        """Each event's data as stored, its personal fields sealed; or, when a subject was
        erased but these very events are stored already (a retry of an append made before
        the erasure), the stored append. New personal data about an erased subject is
        refused (`SubjectErasedError`)."""
        subjects = {subject for fields in fields_per_event for _, subject in fields}
        keys: dict[str, bytes] = {}
        if subjects:
            keys, erased = await subject_keys.keys_for_writing(
                conn, self._key_wrapper, subjects)
            if erased:
                stored = await self._stored_append(conn, stream_id, events)
                if stored is not None:
                    return stored
                raise SubjectErasedError(
                    f"personal data of {', '.join(erased)} was erased on request; new "
                    "personal data about them cannot be stored. Record the event without "
                    "their personal fields, or register them as a new person if they gave "
                    "new consent.",
                    erased,
                )
        encoded: list[str] = []
        for event, fields in zip(events, fields_per_event, strict=True):
            if not fields:
                encoded.append(event.payload.model_dump_json())
            else:
                doc = seal(event.payload.model_dump(mode="json"), event.event_id, fields, keys)
                encoded.append(json.dumps(doc, separators=(",", ":")))
        return encoded

    async def _stored_append(
        self, conn: Conn, stream_id: str, events: Sequence[NewEvent]
    ) -> AppendResult | None:
        """The append of `events` as it is stored already (a retry), or None if none of
        their ids is stored; `EventIdConflictError` if only some are, or with other
        content or at another place."""
        existing = await conn.fetch(
            _SELECT + " WHERE event_id = ANY($1::uuid[]) ORDER BY position",
            [e.event_id for e in events])
        if not existing:
            return None
        return await self._idempotent_result(conn, stream_id, events, existing)

    async def _idempotent_result(
        self,
        conn: Conn,
        stream_id: str,
        events: Sequence[NewEvent],
        existing: list[asyncpg.Record],
    ) -> AppendResult:
        if len(existing) != len(events):
            raise EventIdConflictError(
                f"{len(existing)} of the {len(events)} events in this append are already "
                "stored; a retry must resend exactly the events of the original append"
            )
        stored = (await self._decoder(conn, existing)).typed(existing)
        for new, old in zip(events, stored, strict=True):
            if new.event_id != old.event_id or old.stream_id != stream_id:
                raise EventIdConflictError(
                    f"event {new.event_id} is already stored in stream {old.stream_id!r} "
                    "at another place; event ids must be unique"
                )
            if not _same_content(new.payload.model_dump(mode="json"),
                                 old.payload.model_dump(mode="json")) \
                    or new.metadata != old.metadata or new.occurred_at != old.occurred_at:
                raise EventIdConflictError(
                    f"event {new.event_id} is already stored with different content; "
                    "a retry must resend the same event, a new fact needs a new event id"
                )
        return AppendResult(stream_id, [e.position for e in stored], stored[-1].version,
                            already_stored=True)

    async def erase_subject(self, subject_id: str) -> bool:
        """Destroy the key of `subject_id`. Returns False if it was erased already.

        The events stay; their personal fields about this subject read as erased.
        """
        async with self._pool.acquire() as conn:
            return await subject_keys.erase(conn, subject_id)

    async def wrap_raw_keys(self) -> int:
        """Wrap the keys stored raw before migration 0007; every process runs this at
        start-up (`open_event_store`). Returns how many it wrapped."""
        return await subject_keys.wrap_raw_keys(self._pool, self._key_wrapper)

    # -- reading -------------------------------------------------------------------------

    async def read_stream(self, stream_id: str, from_version: int = 0,
                          limit: int | None = None) -> list[RecordedEvent]:
        """Events of one stream with version > from_version, in version order; at most
        `limit` of them (a page), or all."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                _SELECT + " WHERE stream_id = $1 AND stream_version > $2 "
                "ORDER BY stream_version LIMIT $3",
                stream_id, from_version, limit,
            )
            return (await self._decoder(conn, rows)).typed(rows)

    async def read_stream_withheld(self, stream_id: str, from_version: int = 0
                                   ) -> list[RecordedEvent]:
        """Like `read_stream`, with every personal field read as erased, whether or not
        its subject was: no key is fetched and nothing is decrypted.

        For what does not depend on personal data (the rights of a command) and for what
        is kept between requests: a state folded from these events holds nothing that
        erasing a person must destroy."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                _SELECT + " WHERE stream_id = $1 AND stream_version > $2 "
                "ORDER BY stream_version", stream_id, from_version)
        return RowDecoder(self._codec, None).typed(rows)

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to `limit` events with position > from_position, in commit order."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                _SELECT + " WHERE position > $1 ORDER BY position LIMIT $2",
                from_position, limit,
            )
            return (await self._decoder(conn, rows)).typed(rows)

    async def read_envelopes(self, from_position: int = 0, limit: int = 1000,
                             types: Collection[str] | None = None) -> list[EventEnvelope]:
        """Up to `limit` envelopes with position > from_position (of `types` only, if
        given), in commit order; the data is not read."""
        async with self._pool.acquire() as conn:
            if types is None:
                rows = await conn.fetch(
                    _SELECT_ENVELOPES + " WHERE position > $1 ORDER BY position LIMIT $2",
                    from_position, limit)
            else:
                rows = await conn.fetch(
                    _SELECT_ENVELOPES + " WHERE position > $1 AND event_type = ANY($3) "
                    "ORDER BY position LIMIT $2", from_position, limit, list(types))
        return [envelope(row) for row in rows]

    async def read_batch(self, conn: Conn, from_position: int, limit: int,
                         types: Collection[str] | None = None, *,
                         personal_data: bool = True, heads: bool = False) -> EventBatch:
        """The next `limit` positions of the log after `from_position`, for a subscriber:
        its events of `types` (all, if None) as lazy events, decoded on first access;
        without `personal_data`, every personal field reads as erased (withheld: no key
        is fetched, nothing is decrypted). With `heads`, also each stream's last version
        and position in those positions, of whatever type (`EventBatch.heads`).

        With `types`, only the rows of those types are fetched, but the batch still
        covers `limit` positions of the log (`last_position`, `passed`), so the
        subscriber's checkpoint moves past the events it does not read. Reads on `conn`,
        in the caller's transaction.
        """
        stream_heads: dict[str, StreamHead] = {}
        if types is None and not heads:
            rows = await conn.fetch(
                _SELECT + " WHERE position > $1 ORDER BY position LIMIT $2",
                from_position, limit)
            if not rows:
                return EventBatch([], from_position, 0)
            last, passed = rows[-1]["position"], len(rows)
        else:
            # The span first, then its rows up to its last position: an event committed
            # in between lies beyond it, so rows and heads describe the same span.
            if heads:
                by_stream = await conn.fetch(_SPAN_HEADS, from_position, limit)
                stream_heads = {r["stream_id"]: StreamHead(r["version"], r["last"])
                                for r in by_stream}
                passed = sum(r["passed"] for r in by_stream)
                last = max((h.position for h in stream_heads.values()), default=0)
            else:
                span = await conn.fetchrow(_SPAN, from_position, limit)
                assert span is not None
                passed, last = span["passed"], span["last"]
            if not passed:
                return EventBatch([], from_position, 0)
            where = " WHERE position > $1 AND position <= $2"
            if types is None:
                rows = await conn.fetch(_SELECT + where + " ORDER BY position",
                                        from_position, last)
            else:
                rows = await conn.fetch(
                    _SELECT + where + " AND event_type = ANY($3) ORDER BY position",
                    from_position, last, list(types))
        decoder = (await self._decoder(conn, rows) if personal_data
                   else RowDecoder(self._codec, None))
        return EventBatch(decoder.lazy(rows), last, passed, stream_heads)

    async def stream_version(self, stream_id: str) -> int:
        async with self._pool.acquire() as conn:
            version: int = await conn.fetchval(
                "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1",
                stream_id,
            )
            return version

    async def _decoder(self, conn: Conn, rows: Sequence[asyncpg.Record]) -> RowDecoder:
        """The decoder for `rows`, holding the keys of the subjects sealed in them: one
        query per batch, and none for a batch without personal data."""
        subjects = sealed_subjects_in(rows)
        # Unwrapped for this batch only: never kept between operations, never logged.
        keys = (await subject_keys.keys_for_reading(conn, self._key_wrapper, subjects)
                if subjects else {})
        return RowDecoder(self._codec, keys)


@dataclass(frozen=True, slots=True)
class StreamHead:
    """Where a stream stood at the end of a batch: its last event's version and position."""

    version: int
    position: int


@dataclass(frozen=True)
class EventBatch:
    """A subscriber's slice of the log: the events it reads, and how far the slice went."""

    events: list[RecordedEvent]
    last_position: int  # the last position passed over (the new checkpoint)
    passed: int  # positions passed over, read or not
    # Every stream with events in the slice, read or not: where it stood at its end
    # (only when asked for, `read_batch(heads=True)`).
    heads: Mapping[str, StreamHead] = field(default_factory=dict)


async def open_event_store(pool: asyncpg.Pool, key_wrapper: KeyWrapper) -> PostgresEventStore:
    """The store as a process starts it: keys written before key wrapping existed are
    wrapped first, so none stays raw beside the ciphertext for longer than a start-up."""
    store = PostgresEventStore(pool, key_wrapper=key_wrapper)
    wrapped = await store.wrap_raw_keys()
    if wrapped:
        log.info("subject_keys_wrapped", count=wrapped)
    return store


def _same_content(new: Any, old: Any) -> bool:
    """Compare payload JSON; a value erased since the first append matches anything,
    because after crypto-shredding it can no longer be compared."""
    if old == {"erased": True}:
        return True
    if isinstance(new, dict) and isinstance(old, dict):
        return new.keys() == old.keys() and all(_same_content(new[k], old[k]) for k in new)
    if isinstance(new, list) and isinstance(old, list):
        return len(new) == len(old) and all(
            _same_content(a, b) for a, b in zip(new, old, strict=True))
    return bool(new == old)
