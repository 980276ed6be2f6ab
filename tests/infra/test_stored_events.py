"""Reading no more than a reader uses: envelopes, types pushed down, lazy payloads."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg
import pytest
from pydantic import ValidationError

from domain.events import (
    EventMetadata,
    EventPayload,
    RecordedEvent,
    TrajectoryReferred,
)
from domain.personal import Erased
from infra import subject_keys
from infra.event_store import PostgresEventStore
from infra.personal_data import Unsealer
from infra.pgtypes import Conn
from infra.stored_events import LazyRecordedEvent
from infra.subscription import CatchUpSubscription
from infra.trajectory_overview import SUBSCRIBER, TrajectoryOverviewProjection
from tests.factories import new_event, referral


async def append_undecodable(pool: asyncpg.Pool, stream_id: str, version: int,
                             event_type: str) -> None:
    """A row of `event_type` whose data no model accepts: reading it typed fails."""
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO events (stream_id, stream_version, event_id, event_type,
                                   schema_version, occurred_at, metadata, data)
               VALUES ($1, $2, $3, $4, 1, now(), $5, '{"not": "an event"}')""",
            stream_id, version, uuid.uuid4(), event_type,
            EventMetadata(actor="test").model_dump_json())


def referred(case_id: str, child: str) -> TrajectoryReferred:
    return TrajectoryReferred(case_id=case_id, referral=referral(
        parent=f"{case_id}-parent", child=child))


class Referrals:
    """Reads referrals only."""

    handles: frozenset[type[EventPayload]] | None = frozenset({TrajectoryReferred})

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            assert isinstance(event.payload, TrajectoryReferred)
            self.seen.append(event.payload.case_id)

    async def reset(self, conn: Conn) -> None:
        self.seen.clear()


async def test_events_of_types_a_projection_does_not_handle_are_never_decoded(
        pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    await pg_store.append("trajectory-a", 0, [new_event(referred("a", "a-child"))])
    await append_undecodable(pool, "trajectory-a", 2, "ContactAttempted")
    await pg_store.append("trajectory-b", 0, [new_event(referred("b", "b-child"))])
    with pytest.raises(ValidationError):  # the row really cannot be decoded
        await pg_store.read_all()

    projection = Referrals()
    subscription = CatchUpSubscription(pg_store, "referrals", projection, batch_size=2)
    assert await subscription.catch_up() == 3  # passed over, read or not
    assert projection.seen == ["a", "b"]
    assert await subscription.checkpoint() == max(
        e.position for e in await pg_store.read_envelopes())

    # The overview reads every event's envelope, but the payload only of the types it
    # needs: the undecodable contact attempt still moves the case's version.
    overview = CatchUpSubscription(pg_store, SUBSCRIBER, TrajectoryOverviewProjection())
    assert await overview.catch_up() == 3
    async with pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT stream_version FROM trajectory_overview WHERE case_id = 'a'") == 2


async def test_a_batch_tells_where_each_stream_stands_whatever_it_fetched(
        pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    await pg_store.append("trajectory-a", 0, [new_event(referred("a", "a-child"))])
    await append_undecodable(pool, "trajectory-a", 2, "ContactAttempted")
    await pg_store.append("trajectory-b", 0, [new_event(referred("b", "b-child"))])
    await append_undecodable(pool, "trajectory-a", 3, "ContactAttempted")
    envelopes = await pg_store.read_envelopes()
    async with pool.acquire() as conn:
        first = await pg_store.read_batch(conn, 0, 3, ["TrajectoryReferred"], heads=True)
        rest = await pg_store.read_batch(conn, first.last_position, 3,
                                         ["TrajectoryReferred"], heads=True)
        plain = await pg_store.read_batch(conn, 0, 3, ["TrajectoryReferred"])
    assert [e.stream_id for e in first.events] == ["trajectory-a", "trajectory-b"]
    assert (first.passed, first.last_position) == (3, envelopes[2].position)
    assert {s: (h.version, h.position) for s, h in first.heads.items()} == {
        "trajectory-a": (2, envelopes[1].position),
        "trajectory-b": (1, envelopes[2].position)}
    # Only a contact attempt is left: nothing fetched, but its stream moved.
    assert rest.events == [] and rest.passed == 1
    assert {s: (h.version, h.position) for s, h in rest.heads.items()} == {
        "trajectory-a": (3, envelopes[3].position)}
    assert plain.heads == {} and (plain.passed, plain.last_position) == (3, first.last_position)


async def test_envelopes_are_read_without_the_data(
        pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    await pg_store.append("trajectory-a", 0, [new_event(referred("a", "a-child"))])
    await append_undecodable(pool, "trajectory-a", 2, "ContactAttempted")
    envelopes = await pg_store.read_envelopes()
    assert [(e.stream_id, e.version, e.event_type) for e in envelopes] == [
        ("trajectory-a", 1, "TrajectoryReferred"), ("trajectory-a", 2, "ContactAttempted")]
    assert [e.position for e in envelopes] == sorted(e.position for e in envelopes)
    only = await pg_store.read_envelopes(types=["ContactAttempted"])
    assert [e.event_type for e in only] == ["ContactAttempted"]
    assert await pg_store.read_envelopes(envelopes[-1].position) == []


async def test_personal_fields_are_unsealed_only_when_the_payload_is_read(
        pg_store: PostgresEventStore, pool: asyncpg.Pool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [f"case-{i}" for i in range(3)]
    for case in cases:
        await pg_store.append(f"trajectory-{case}", 0, [new_event(referred(case, f"{case}-c"))])
    opened: list[str] = []
    original_open = Unsealer._open

    def counting_open(self: Unsealer, sealed: dict[str, str], *args: object) -> object:
        opened.append(sealed["s"])
        return original_open(self, sealed, *args)  # type: ignore[arg-type]

    key_reads: list[int] = []
    original_keys = subject_keys.keys_for_reading

    async def counting_keys(*args: object) -> object:
        key_reads.append(1)
        return await original_keys(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(Unsealer, "_open", counting_open)
    monkeypatch.setattr(subject_keys, "keys_for_reading", counting_keys)

    async with pool.acquire() as conn:
        batch = await pg_store.read_batch(conn, 0, 100)
    assert key_reads == [1]  # the batch's keys, once
    events = batch.events
    assert [(e.type, e.stream_id, e.version) for e in events] == [
        ("TrajectoryReferred", f"trajectory-{case}", 1) for case in cases]
    assert opened == []
    assert all(isinstance(e, LazyRecordedEvent) and not e.decoded for e in events)

    first = events[0].payload
    assert isinstance(first, TrajectoryReferred)
    assert first.referral.members[1].name == "Sam de Vries"
    assert opened and set(opened) <= {"case-0-parent", "case-0-c"}
    assert not any(isinstance(e, LazyRecordedEvent) and e.decoded for e in events[1:])
    # Read lazily or at once, it is the same event.
    assert events == await pg_store.read_all()
    assert [e.model_dump() for e in events] == [e.model_dump() for e in await pg_store.read_all()]


async def test_a_lazy_event_parses_its_metadata_only_when_it_is_read(
        pg_store: PostgresEventStore, pool: asyncpg.Pool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for case in ("a", "b"):
        await pg_store.append(f"trajectory-{case}", 0, [new_event(referred(case, f"{case}-c"))])
    parsed: list[str] = []
    original = EventMetadata.model_validate_json

    def counting(text: str | bytes, **kwargs: object) -> EventMetadata:
        parsed.append(str(text))
        return original(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(EventMetadata, "model_validate_json", counting)
    async with pool.acquire() as conn:
        events = (await pg_store.read_batch(conn, 0, 10)).events
    # A read model that folds payloads and envelopes never pays for who did it.
    assert [(e.type, e.version) for e in events] == [("TrajectoryReferred", 1)] * 2
    assert all(isinstance(e.payload, TrajectoryReferred) for e in events)
    assert parsed == []
    typed = await pg_store.read_all()
    parsed.clear()
    assert events[0].metadata == typed[0].metadata
    assert len(parsed) == 1
    assert events == typed


async def test_an_erased_subject_reads_as_erased_from_a_lazy_event_too(
        pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    await pg_store.append("trajectory-a", 0, [new_event(referred("a", "a-child"))])
    async with pool.acquire() as conn:
        before = (await pg_store.read_batch(conn, 0, 10)).events
        assert await pg_store.erase_subject("a-child")
        after = (await pg_store.read_batch(conn, 0, 10)).events
    # Keys are held per batch: an event read before the erasure decodes as it was then
    # (as an event decoded at once would have), one read after it reads as erased.
    (kept,) = before
    (erased,) = after
    assert isinstance(erased.payload, TrajectoryReferred)
    parent, child = erased.payload.referral.members
    assert child.name == Erased() and child.birth_date == Erased()
    assert erased.payload.referral.reasons[0].description == Erased()
    assert parent.name == "Anna de Vries"
    assert isinstance(kept.payload, TrajectoryReferred)
    assert kept.payload.referral.members[1].name == "Sam de Vries"


class Names:
    """A (wrongful) read model that tries to copy names out of referrals."""

    handles: frozenset[type[EventPayload]] | None = frozenset({TrajectoryReferred})

    def __init__(self) -> None:
        self.names: list[object] = []

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            assert isinstance(event.payload, TrajectoryReferred)
            referral_ = event.payload.referral
            self.names += [m.name for m in referral_.members]
            self.names += [r.description for r in referral_.reasons]

    async def reset(self, conn: Conn) -> None:
        self.names.clear()


async def test_read_models_are_handed_no_personal_data_and_open_no_key(
        pg_store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    for case in ("a", "b"):
        await pg_store.append(f"trajectory-{case}", 0,
                              [new_event(referred(case, f"{case}-child"))])
    opened: list[object] = []

    async def no_keys(*args: object) -> object:
        opened.append(args)
        raise AssertionError("a subscription asked for subject keys")

    def no_open(*args: object) -> object:
        opened.append(args)
        raise AssertionError("a subscription decrypted a personal field")

    monkeypatch.setattr(subject_keys, "keys_for_reading", no_keys)
    monkeypatch.setattr(Unsealer, "_open", no_open)
    projection = Names()
    assert await CatchUpSubscription(pg_store, "names", projection).catch_up() == 2
    # Every personal field reads as erased: nothing personal can reach a read model,
    # where erasure would not find it.
    assert projection.names and all(name == Erased() for name in projection.names)
    assert opened == []


async def test_text_rules_guard_what_is_written_not_what_is_read(
        pg_store: PostgresEventStore, pool: asyncpg.Pool) -> None:
    """Text stored under older rules still reads; the rules still refuse new text."""
    payload = referred("a", "a-child")
    stored = payload.model_dump(mode="json")
    stored["referral"]["organisation"] = "Wijkteam\tNoord"  # not one line
    with pytest.raises(ValidationError, match="control character"):
        TrajectoryReferred.model_validate(stored)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO events (stream_id, stream_version, event_id, event_type,
                                   schema_version, occurred_at, metadata, data)
               VALUES ('trajectory-a', 1, $1, 'TrajectoryReferred', 1, now(), $2, $3)""",
            uuid.uuid4(), EventMetadata(actor="test").model_dump_json(), json.dumps(stored))
    (event,) = await pg_store.read_all()
    assert isinstance(event.payload, TrajectoryReferred)
    assert event.payload.referral.organisation == "Wijkteam\tNoord"
