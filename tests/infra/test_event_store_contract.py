"""The event store contract. Every store implementation must pass all of it."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.event_store import AppendEventsInput, EventStoreActivities
from domain.events import MemberRole, PartnerSignalRecorded, TrajectoryReferred
from domain.personal import Erased
from infra.event_store import (
    ConcurrencyError,
    EventDataRejectedError,
    EventIdConflictError,
    PostgresEventStore,
    SubjectErasedError,
)
from infra.key_wrapping import KeyUnwrapError, KeyWrapper, WrappedKey
from infra.subject_keys import destroy_other_keks, rewrap_all
from tests.factories import new_event, plain_payload, referral
from tests.key_keepers import SELF_ROTATING, Keeper, new_wrapper
from tests.vault_transit_server import Transit


@pytest.fixture(params=SELF_ROTATING)
async def keeper(request: pytest.FixtureRequest, tmp_path: Path,
                 vault: tuple[str, Transit]) -> AsyncIterator[Keeper]:
    """Where the store's KEK lives: the keyring file (local stack) or Vault transit."""
    keeper = Keeper(request.param, new_wrapper(request.param, tmp_path, vault[0]))
    yield keeper
    await keeper.wrapper.aclose()


@pytest.fixture
def store(pool: asyncpg.Pool, keeper: Keeper) -> PostgresEventStore:
    # The one store implementation (PostgreSQL), once per KEK keeper. Another store would
    # join as another fixture parameter.
    return PostgresEventStore(pool, key_wrapper=keeper.wrapper)


async def whole_database_text(pool: asyncpg.Pool) -> str:
    """Every row of every table as text: what a dump, a base backup or a WAL archive of
    the database could show."""
    async with pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public'")
        assert len(tables) > 5
        texts = [await conn.fetchval(f"SELECT string_agg(r::text, E'\\n') FROM {t['t']} r")
                 for t in tables]
    return "\n".join(t for t in texts if t)


async def raw_keys(pool: asyncpg.Pool, wrapper: KeyWrapper) -> dict[str, bytes]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT subject_id, wrapped_key, kek_id FROM subject_keys "
                                "WHERE wrapped_key IS NOT NULL")
    return {r["subject_id"]: await wrapper.unwrap(r["subject_id"], WrappedKey(
        r["kek_id"], bytes(r["wrapped_key"]))) for r in rows}


def shows_key(dump: str, key: bytes) -> bool:
    # bytea reads as hex in text; base64 is how JSON or a careless log would carry it.
    return key.hex() in dump or base64.b64encode(key).decode() in dump


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


async def test_a_personal_append_that_conflicts_leaves_no_key_behind(
    store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # The keys are made before the table lock (infra/event_store.py): they must go with
    # the append they were made for when it is refused.
    await store.append("trajectory-case-9", 0, [new_event()])
    with pytest.raises(ConcurrencyError):
        await store.append("trajectory-case-9", 0, [new_event(referral_of_the_el_amranis())])
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM subject_keys") == 0
    assert len(await store.read_all()) == 1


async def test_racing_personal_appends_about_the_same_new_people_all_land(
    store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # Six streams, each appending about the same two people nobody has stored yet: each
    # append makes their keys or meets the one that made them first; none waits forever
    # or fails, and each person ends with one key that opens every event.
    streams = [f"trajectory-case-{n}" for n in range(6)]
    await asyncio.gather(*(store.append(s, 0, [new_event(referral_of_the_el_amranis())])
                           for s in streams))
    async with pool.acquire() as conn:
        assert sorted(await conn.fetchval(
            "SELECT array_agg(subject_id) FROM subject_keys")) == ["c-9", "p-9"]
    for stream in streams:
        (event,) = await store.read_stream(stream)
        assert isinstance(event.payload, TrajectoryReferred)
        assert event.payload.referral.members[0].name == "Fatima El Amrani"


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
    store: PostgresEventStore, pool: asyncpg.Pool, keeper: Keeper
) -> None:
    payload = TrajectoryReferred(case_id="case-9", referral=referral(
        parent="p-9", child="c-9", parent_name="Fatima El Amrani", child_name="Yusuf El Amrani"))
    event = new_event(payload)
    await store.append("trajectory-case-9", 0, [event])

    dump = await whole_database_text(pool)
    assert "Fatima" not in dump and "Yusuf" not in dump and "1985-03-14" not in dump
    assert "Basisschool De Linde" in dump  # non-personal data stays readable for operators
    child_key = (await raw_keys(pool, keeper.wrapper))["c-9"]
    assert not shows_key(dump, child_key)

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
        row = await conn.fetchrow("SELECT raw_key, wrapped_key, kek_id FROM subject_keys "
                                  "WHERE subject_id = 'c-9'")
    assert row is not None and tuple(row) == (None, None, None)
    # As pg_dump would see it: no plaintext of either person, no key in any form.
    dump = await whole_database_text(pool)
    assert "Yusuf" not in dump and "2014-09-02" not in dump and "Fatima" not in dump
    assert not shows_key(dump, child_key)

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


def referral_of_the_el_amranis() -> TrajectoryReferred:
    return TrajectoryReferred(case_id="case-9", referral=referral(
        parent="p-9", child="c-9", parent_name="Fatima El Amrani", child_name="Yusuf El Amrani"))


async def test_person_keys_are_stored_only_wrapped(
    store: PostgresEventStore, pool: asyncpg.Pool, keeper: Keeper
) -> None:
    await store.append("trajectory-case-9", 0, [new_event(referral_of_the_el_amranis())])

    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT subject_id, raw_key, wrapped_key, kek_id FROM subject_keys")
    assert sorted(r["subject_id"] for r in rows) == ["c-9", "p-9"]
    assert all(r["raw_key"] is None and r["wrapped_key"] and r["kek_id"] for r in rows)
    keys = await raw_keys(pool, keeper.wrapper)
    dump = await whole_database_text(pool)
    assert len(set(keys.values())) == 2
    assert not any(shows_key(dump, k) for k in keys.values())


async def test_a_wrapped_key_moved_to_another_person_does_not_unwrap(
    store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await store.append("trajectory-case-9", 0, [new_event(referral_of_the_el_amranis())])
    async with pool.acquire() as conn:
        await conn.execute(
            """UPDATE subject_keys AS child SET wrapped_key = parent.wrapped_key,
                                                kek_id = parent.kek_id
               FROM subject_keys AS parent
               WHERE child.subject_id = 'c-9' AND parent.subject_id = 'p-9'""")

    # Refused outright: the child's data neither opens with the parent's key nor reads
    # as erased.
    with pytest.raises(KeyUnwrapError, match="c-9"):
        await store.read_stream("trajectory-case-9")


async def test_after_a_kek_rotation_and_destruction_old_copies_of_keys_are_dead(
    store: PostgresEventStore, pool: asyncpg.Pool, keeper: Keeper
) -> None:
    payload = referral_of_the_el_amranis()
    await store.append("trajectory-case-9", 0, [new_event(payload)])
    async with pool.acquire() as conn:
        # The rows as a base backup or an archived WAL segment keeps them.
        backup = await conn.fetch("SELECT subject_id, wrapped_key, kek_id FROM subject_keys")
    await store.erase_subject("c-9")

    new_id = await keeper.rotate()
    assert await rewrap_all(pool, keeper.wrapper, new_id, batch_size=1) == 1  # p-9 only
    destroyed, late = await destroy_other_keks(pool, keeper.wrapper, new_id)

    assert late == 0
    assert {r["kek_id"] for r in backup} <= set(destroyed)
    for row in backup:  # the erased child's key too: gone for good
        with pytest.raises(KeyUnwrapError):
            await keeper.fresh().unwrap(row["subject_id"], WrappedKey(
                row["kek_id"], bytes(row["wrapped_key"])))
    (read,) = await PostgresEventStore(pool, key_wrapper=keeper.fresh()).read_stream(
        "trajectory-case-9")
    assert isinstance(read.payload, TrajectoryReferred)
    parent, child = read.payload.referral.members
    assert parent.name == "Fatima El Amrani" and child.name == Erased()
    async with pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT array_agg(DISTINCT kek_id) FROM subject_keys WHERE kek_id IS NOT NULL"
        ) == [new_id]


async def test_data_the_store_cannot_hold_is_refused_at_once_and_writes_nothing(
        store: PostgresEventStore) -> None:
    # A NUL character, which jsonb cannot hold. Built without validation: the gateway's
    # models refuse it first; this is the store's own line of defence.
    bad = plain_payload()
    bad = bad.model_construct(**{**dict(bad), "referral": bad.referral.model_construct(
        **{**dict(bad.referral), "referrer": "jgz\x00"})})
    with pytest.raises(EventDataRejectedError) as refused:
        await store.append("s-nul", 0, [new_event(bad)])
    assert "\x00" not in str(refused.value) and "jgz" not in str(refused.value)
    assert await store.read_stream("s-nul") == []
    # No lock is left held: the next append to the same stream goes through.
    assert (await store.append("s-nul", 0, [new_event()])).last_version == 1


async def test_the_append_activity_fails_a_data_refusal_without_retrying(
        store: PostgresEventStore) -> None:
    bad = plain_payload()
    bad = bad.model_construct(**{**dict(bad), "referral": bad.referral.model_construct(
        **{**dict(bad.referral), "referrer": "jgz\x00"})})
    activities = EventStoreActivities(store)
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.append_events, AppendEventsInput(
            stream_id="s-nul-2", expected_version=0, events=[new_event(bad)]))
    assert (refused.value.type, refused.value.non_retryable) == ("EventDataRejectedError", True)
