"""The event store contract. Every store implementation must pass all of it."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from domain.events import MemberRole, PartnerSignalRecorded, TrajectoryReferred
from domain.personal import Erased
from infra.event_store import (
    ConcurrencyError,
    EventIdConflictError,
    PostgresEventStore,
    SubjectErasedError,
)
from tests.factories import new_event, plain_payload, referral


@pytest.fixture(params=["postgres"])
def store(request: pytest.FixtureRequest, pg_store: PostgresEventStore) -> PostgresEventStore:
    # One parameter per implementation; a second store joins by adding its name here.
    assert request.param == "postgres"
    return pg_store


async def test_append_then_read_stream_round_trips(store: PostgresEventStore) -> None:
    events = [new_event() for _ in range(3)]
    result = await store.append("s-1", 0, events)
    assert result.last_version == 3
    assert result.positions == sorted(result.positions)
    assert len(set(result.positions)) == 3

    stored = await store.read_stream("s-1")
    assert [e.version for e in stored] == [1, 2, 3]
    assert [e.event_id for e in stored] == [e.event_id for e in events]
    assert [e.payload for e in stored] == [e.payload for e in events]
    assert [e.metadata for e in stored] == [e.metadata for e in events]
    assert [e.occurred_at for e in stored] == [e.occurred_at for e in events]
    assert all(e.stream_id == "s-1" and e.type == "ReferralAdded" for e in stored)
    assert all(e.schema_version == 1 for e in stored)
    assert [e.position for e in stored] == result.positions
    assert await store.read_stream("s-1", from_version=2) == stored[2:]
    assert await store.read_stream("no-such-stream") == []


async def test_wrong_expected_version_raises_and_writes_nothing(
    store: PostgresEventStore,
) -> None:
    await store.append("s-1", 0, [new_event()])
    with pytest.raises(ConcurrencyError, match="at version 1, not the expected 0") as info:
        await store.append("s-1", 0, [new_event(), new_event()])
    assert (info.value.expected, info.value.actual) == (0, 1)
    with pytest.raises(ConcurrencyError):
        await store.append("s-1", 5, [new_event()])
    assert len(await store.read_all()) == 1


async def test_racing_appends_to_one_stream_let_exactly_one_win(
    store: PostgresEventStore,
) -> None:
    outcomes = await asyncio.gather(
        *(store.append("contended", 0, [new_event()]) for _ in range(6)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, ConcurrencyError) for o in losers)
    assert [e.version for e in await store.read_stream("contended")] == [1]


async def test_retried_append_returns_original_positions_and_writes_nothing(
    store: PostgresEventStore,
) -> None:
    events = [new_event() for _ in range(2)]
    first = await store.append("s-1", 0, events)
    await store.append("s-1", 2, [new_event()])  # the stream moves on meanwhile

    retry = await store.append("s-1", 0, events)

    assert retry.positions == first.positions
    assert retry.already_stored
    assert len(await store.read_all()) == 3


async def test_same_event_id_with_other_content_is_refused(store: PostgresEventStore) -> None:
    event = new_event()
    await store.append("s-1", 0, [event])
    changed = event.model_copy(update={"payload": plain_payload(referral_id="other")})
    with pytest.raises(EventIdConflictError, match="different content"):
        await store.append("s-1", 1, [changed])
    with pytest.raises(EventIdConflictError, match="stream 's-1'"):
        await store.append("s-2", 0, [event])
    with pytest.raises(EventIdConflictError, match="1 of the 2 events"):
        await store.append("s-1", 1, [event, new_event()])
    fresh = new_event()
    with pytest.raises(EventIdConflictError, match="twice in one append"):
        await store.append("s-1", 1, [fresh, fresh])
    assert len(await store.read_all()) == 1


async def test_read_all_is_in_commit_order_and_pages(store: PostgresEventStore) -> None:
    for i in range(5):
        await store.append(f"s-{i % 2}", i // 2, [new_event()])
    everything = await store.read_all()
    positions = [e.position for e in everything]
    assert positions == sorted(positions) and len(positions) == 5
    page = await store.read_all(from_position=positions[1], limit=2)
    assert [e.position for e in page] == positions[2:4]


async def test_read_all_never_skips_a_position_under_racing_writers(
    store: PostgresEventStore,
) -> None:
    """Writers race; a reader tails read_all. Whatever it saw, in the order it saw it,
    must be exactly the final log: no position out of order, none filled in behind it."""
    writers, per_writer = 4, 60
    done = asyncio.Event()
    seen: list[int] = []

    async def write(w: int) -> None:
        version, rng = 0, random.Random(w)
        while version < per_writer:
            batch = [new_event() for _ in range(min(rng.randint(1, 5), per_writer - version))]
            await store.append(f"writer-{w}", version, batch)
            version += len(batch)

    async def tail() -> None:
        position = 0
        while True:
            finished = done.is_set()
            page = await store.read_all(position, 50)
            for event in page:
                assert event.position > position, "read_all went backwards"
                seen.append(event.position)
                position = event.position
            if finished and not page:
                return

    reader = asyncio.create_task(tail())
    await asyncio.gather(*(write(w) for w in range(writers)))
    done.set()
    await reader

    final = [e.position for e in await store.read_all(0, 10_000)]
    assert len(final) == writers * per_writer
    assert seen == final


async def test_personal_data_is_encrypted_and_erasable(
    store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    payload = TrajectoryReferred(case_id="case-9", referral=referral(
        parent="p-9", child="c-9", parent_name="Fatima El Amrani", child_name="Yusuf El Amrani"))
    event = new_event(payload)
    await store.append("trajectory-case-9", 0, [event])

    async def whole_database_text() -> str:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT e::text AS t FROM events e UNION ALL SELECT k::text FROM subject_keys k")
        return "\n".join(r["t"] for r in rows)

    dump = await whole_database_text()
    assert "Fatima" not in dump and "Yusuf" not in dump and "1985-03-14" not in dump
    assert "Basisschool De Linde" in dump  # non-personal data stays readable for operators

    (read,) = await store.read_stream("trajectory-case-9")
    assert isinstance(read.payload, TrajectoryReferred)
    parent, child = read.payload.referral.members
    assert (parent.name, child.name) == ("Fatima El Amrani", "Yusuf El Amrani")
    assert read.payload == payload

    assert await store.erase_subject("c-9") is True
    assert await store.erase_subject("c-9") is False  # erasing twice is harmless

    (after,) = await store.read_stream("trajectory-case-9")
    assert isinstance(after.payload, TrajectoryReferred)
    parent, child = after.payload.referral.members
    assert parent.name == "Fatima El Amrani"  # other people's data is untouched
    assert child.name == Erased() and child.birth_date == Erased()
    assert after.payload.referral.reasons[0].description == Erased()
    assert (child.person_id, child.role) == ("c-9", MemberRole.CHILD)
    assert (after.event_id, after.position, after.version) == (
        read.event_id, read.position, read.version)
    assert await store.read_all() == [after]

    async with pool.acquire() as conn:
        key = await conn.fetchval("SELECT key FROM subject_keys WHERE subject_id = 'c-9'")
    assert key is None
    dump = await whole_database_text()
    assert "Yusuf" not in dump

    # A retry of the original append still counts as the same event.
    assert (await store.append("trajectory-case-9", 0, [event])).already_stored
    # New personal data about the erased person is refused with a reason.
    with pytest.raises(SubjectErasedError, match="c-9 was erased"):
        await store.append("trajectory-case-9", 1, [new_event(TrajectoryReferred(
            case_id="case-9", referral=referral(parent="p-9", child="c-9")))])


async def test_erasing_an_unknown_subject_blocks_future_personal_data(
    store: PostgresEventStore,
) -> None:
    assert await store.erase_subject("never-seen") is True
    payload = plain_payload().model_copy(update={"referral": referral(child="never-seen")})
    with pytest.raises(SubjectErasedError):
        await store.append("s-1", 0, [new_event(payload)])


async def test_events_cannot_be_updated_or_deleted(pool: asyncpg.Pool,
                                                   store: PostgresEventStore) -> None:
    await store.append("s-1", 0, [new_event()])
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE events SET event_type = 'x'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM events")



async def test_free_text_about_the_family_is_sealed_with_the_family_key(
    store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    signal = PartnerSignalRecorded(
        idempotency_key="k-1", organisation="GGD", kind="concern", subject="family:case-3",
        description="Moeder drinkt weer", acted_on=False, note="noted for the coordinator")
    await store.append("trajectory-case-3", 0, [new_event(signal)])
    async with pool.acquire() as conn:
        raw = await conn.fetchval("SELECT data::text FROM events")
    assert "drinkt" not in raw
    assert "GGD" in raw
    await store.erase_subject("family:case-3")
    (read,) = await store.read_stream("trajectory-case-3")
    assert isinstance(read.payload, PartnerSignalRecorded)
    assert read.payload.description == Erased()
    assert read.payload.organisation == "GGD"
