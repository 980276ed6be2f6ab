"""Person keys written before key wrapping (raw, migration 0006) are wrapped when a
process starts, once, also with several processes starting together; a rotation's
destruction waits for keys made under the old KEK meanwhile."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from domain.events import EventMetadata, TrajectoryReferred
from domain.personal import personal_values
from infra.database import create_pool, drop_database, ensure_database, with_database
from infra.event_store import PostgresEventStore, open_event_store
from infra.key_wrapping import KeyWrapper, WrappedKey
from infra.local_kek import FileKeyring, Kek, wrap_with
from infra.migrations import MIGRATIONS_DIR, migrate
from infra.personal_data import new_key, seal
from infra.subject_keys import destroy_other_keks, rewrap_all, wrap_raw_keys
from tests.factories import new_event, referral

BEFORE_WRAPPING = 6  # the last migration that stored keys raw


@pytest.fixture
async def old_database(pg_admin_dsn: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database at migration 0006, as every deployment was before key wrapping."""
    name = f"regie_old_{uuid.uuid4().hex[:12]}"
    await ensure_database(pg_admin_dsn, name)
    old = tmp_path / "migrations"
    old.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql"))[:BEFORE_WRAPPING]:
        shutil.copy(path, old / path.name)
    dsn = with_database(pg_admin_dsn, name)
    conn = await asyncpg.connect(dsn)
    try:
        assert await migrate(conn, old) == list(range(1, BEFORE_WRAPPING + 1))
    finally:
        await conn.close()
    yield dsn
    await drop_database(pg_admin_dsn, name)


async def write_as_before(conn: asyncpg.Connection, case: str, parent: str,
                          child: str) -> dict[str, bytes]:
    """A referral stored as the store did before 0007: sealed, its keys raw."""
    payload = TrajectoryReferred(case_id=case, referral=referral(
        parent=parent, child=child, parent_name=f"Ouder {case}", child_name=f"Kind {case}"))
    keys = {parent: new_key(), child: new_key()}
    event_id = uuid.uuid4()
    doc = seal(payload.model_dump(mode="json"), event_id, personal_values(payload), keys)
    await conn.executemany("INSERT INTO subject_keys (subject_id, key) VALUES ($1, $2)",
                           list(keys.items()))
    await conn.execute(
        """INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version,
                               occurred_at, metadata, data)
           VALUES ($1, 1, $2, 'TrajectoryReferred', 1, now(), $3, $4)""",
        f"trajectory-{case}", event_id, EventMetadata(actor="partner:x").model_dump_json(),
        json.dumps(doc))
    return keys


async def test_keys_stored_raw_before_the_migration_are_wrapped_at_start_up(
    old_database: str, key_wrapper: KeyWrapper
) -> None:
    conn = await asyncpg.connect(old_database)
    try:
        written: dict[str, bytes] = {}
        for i in range(7):
            written |= await write_as_before(conn, f"old-{i}", f"p-{i}", f"c-{i}")
        await migrate(conn)  # 0007 onwards: the raw keys are still there
        # A process of the old version, still running, fails instead of reading the
        # wrapped keys to come as erased.
        with pytest.raises(asyncpg.UndefinedColumnError):
            await conn.fetch("SELECT subject_id, key FROM subject_keys")
        assert await conn.fetchval("SELECT count(*) FROM subject_keys WHERE raw_key IS NOT NULL"
                                   ) == 14
    finally:
        await conn.close()
    pools = [await create_pool(old_database, max_size=2) for _ in range(3)]
    try:
        # Three processes start at once, each wrapping in batches of 2.
        counts = await asyncio.gather(*(wrap_raw_keys(p, key_wrapper, 2)
                                        for p in pools))
        assert sum(counts) == 14  # every key wrapped exactly once

        store = await open_event_store(pools[0], key_wrapper)
        assert await store.wrap_raw_keys() == 0  # and a later start has nothing to do
        async with pools[0].acquire() as pooled:
            rows = await pooled.fetch("SELECT * FROM subject_keys")
            dump = "\n".join(
                [r["t"] for r in await pooled.fetch("SELECT k::text AS t FROM subject_keys k")])
        assert all(r["raw_key"] is None and r["wrapped_key"] is not None for r in rows)
        for subject, key in written.items():
            assert key.hex() not in dump
            row = next(r for r in rows if r["subject_id"] == subject)
            assert await key_wrapper.unwrap(subject, WrappedKey(
                row["kek_id"], bytes(row["wrapped_key"]))) == key
        (event,) = await store.read_stream("trajectory-old-3")
        assert isinstance(event.payload, TrajectoryReferred)
        assert [m.name for m in event.payload.referral.members] == ["Ouder old-3",
                                                                    "Kind old-3"]
    finally:
        for p in pools:
            await p.close()


async def test_a_raw_key_not_yet_wrapped_still_reads_and_erases(
    old_database: str, key_wrapper: KeyWrapper
) -> None:
    conn = await asyncpg.connect(old_database)
    try:
        await write_as_before(conn, "old-1", "p-1", "c-1")
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(old_database, max_size=2)
    try:
        # A process of the new code that has not wrapped yet (another one is starting).
        store = PostgresEventStore(pool, key_wrapper=key_wrapper)
        (event,) = await store.read_stream("trajectory-old-1")
        assert isinstance(event.payload, TrajectoryReferred)
        assert event.payload.referral.members[1].name == "Kind old-1"
        assert await store.erase_subject("c-1") is True
        assert await store.wrap_raw_keys() == 1  # p-1; c-1 has no key left to wrap
        async with pool.acquire() as pooled:
            assert await pooled.fetchval("SELECT count(*) FROM subject_keys "
                                       "WHERE raw_key IS NOT NULL OR kek_id IS NULL") == 1
    finally:
        await pool.close()


async def test_destruction_waits_for_keys_made_under_the_old_kek_meanwhile(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    keyring = FileKeyring(tmp_path / "keyring.json")
    store = PostgresEventStore(pool, key_wrapper=keyring)
    await store.append("trajectory-c", 0, [new_event(
        TrajectoryReferred(case_id="c", referral=referral(parent="p-1", child="c-1")))])
    keyring_file = json.loads(keyring.path.read_text())
    old = Kek(base64.b64decode(keyring_file["keks"][keyring_file["current"]]))
    new_id = await keyring.rotate()
    assert await rewrap_all(pool, keyring, new_id) == 2
    # A worker that had not yet seen the rotation made a key under the old KEK.
    late_key = new_key()
    late = wrap_with(old, "p-late", late_key)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO subject_keys (subject_id, wrapped_key, kek_id) "
                           "VALUES ('p-late', $1, $2)", late.ciphertext, late.kek_id)

    destroyed, rewrapped = await destroy_other_keks(pool, keyring, new_id)

    assert destroyed == [old.id] and rewrapped == 1
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT wrapped_key, kek_id FROM subject_keys "
                                  "WHERE subject_id = 'p-late'")
    assert row is not None and row["kek_id"] == new_id
    assert await keyring.unwrap("p-late", WrappedKey(new_id, bytes(row["wrapped_key"]))) \
        == late_key
