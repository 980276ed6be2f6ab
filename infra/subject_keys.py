"""The person keys in `subject_keys`, stored only wrapped under a KEK (infra/key_wrapping).

Unwrapped keys live in memory for one operation (an append, a read) and are never logged.
Erasure removes the wrapped key; a copy of it that survives in WAL archives or backups
stays unreadable once its KEK is destroyed after a rotation (`rotate_kek`).

Concurrency:
- An append locks its subjects' rows (FOR SHARE, in subject order) and unwraps every key
  it will use after taking the lock, also the ones it has just wrapped itself. A KEK
  destroyed meanwhile therefore fails the append (which rolls back, its new rows with it)
  instead of committing a key nobody can open.
- Wrapping raw keys at start-up and re-wrapping after a rotation take the rows FOR
  UPDATE in subject order, a batch per transaction, so processes doing it at once each
  wrap a row once and never deadlock with each other.
- Destroying the old KEKs happens under a table lock that keeps out new rows, and only
  when that lock shows no live key under them any more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from infra.key_wrapping import (
    KeyUnwrapError,
    KeyWrapper,
    KeyWrappingError,
    RotatableKeyWrapper,
    WrappedKey,
)
from infra.personal_data import new_key
from infra.pgtypes import Conn

BATCH_SIZE = 500

_COLUMNS = "subject_id, raw_key, wrapped_key, kek_id"


async def keys_for_writing(conn: Conn, wrapper: KeyWrapper, subjects: Iterable[str]
                           ) -> tuple[dict[str, bytes], list[str]]:
    """The keys of `subjects`, made (wrapped) for those who have none yet, and the
    subjects among them who are erased. Call inside the append's transaction: the rows
    stay locked FOR SHARE until it ends, so an erasure waits for the append."""
    wanted = sorted(set(subjects))
    known = {r["subject_id"] for r in await conn.fetch(
        "SELECT subject_id FROM subject_keys WHERE subject_id = ANY($1::text[])", wanted)}
    new = [s for s in wanted if s not in known]
    if new:
        wrapped = await asyncio.gather(*(wrapper.wrap(s, new_key()) for s in new))
        # A concurrent append may make the same subject's key first: theirs wins.
        await conn.execute(
            """INSERT INTO subject_keys (subject_id, wrapped_key, kek_id)
               SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[])
               ON CONFLICT (subject_id) DO NOTHING""",
            new, [w.ciphertext for w in wrapped], [w.kek_id for w in wrapped])
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM subject_keys WHERE subject_id = ANY($1::text[]) "
        "ORDER BY subject_id FOR SHARE", wanted)
    opened = await _open(wrapper, rows)
    erased = sorted(s for s, k in opened.items() if k is None)
    return {s: k for s, k in opened.items() if k is not None}, erased


async def keys_for_reading(conn: Conn, wrapper: KeyWrapper, subjects: Iterable[str]
                           ) -> dict[str, bytes | None]:
    """The keys of `subjects`; None for an erased subject (or one never seen)."""
    wanted = sorted(set(subjects))
    query = f"SELECT {_COLUMNS} FROM subject_keys WHERE subject_id = ANY($1::text[])"
    try:
        return await _open(wrapper, await conn.fetch(query, wanted))
    except KeyUnwrapError:
        # A rotation may have re-wrapped a row after we read it and destroyed the old
        # KEK before we unwrapped: the row as it is now opens. Once; a second failure is
        # real (a lost or wrong KEK) and must not read as erased.
        return await _open(wrapper, await conn.fetch(query, wanted))


async def erase(conn: Conn, subject_id: str) -> bool:
    """Destroy `subject_id`'s key (wrapped or, before start-up wrapping, raw). False if
    it was erased already. Also for a subject never seen: nothing may be stored later."""
    status = await conn.fetchval(
        """INSERT INTO subject_keys (subject_id, erased_at) VALUES ($1, now())
           ON CONFLICT (subject_id) DO UPDATE
               SET raw_key = NULL, wrapped_key = NULL, kek_id = NULL, erased_at = now()
           WHERE subject_keys.erased_at IS NULL
           RETURNING true""",
        subject_id)
    # Drop the dead row version that still holds the key from the heap. (WAL archives
    # and base backups keep it, wrapped, until its KEK is destroyed: see rotate_kek.)
    await conn.execute("VACUUM subject_keys")
    return bool(status)


async def wrap_raw_keys(pool: asyncpg.Pool, wrapper: KeyWrapper,
                        batch_size: int = BATCH_SIZE) -> int:
    """Wrap every key still stored raw (written before migration 0007) and clear the raw
    column; returns how many. Idempotent, and safe with other processes doing the same."""
    return await _rewrap_where(pool, wrapper, "raw_key IS NOT NULL", (), None, batch_size)


async def rewrap_all(pool: asyncpg.Pool, wrapper: KeyWrapper, kek_id: str,
                     batch_size: int = BATCH_SIZE) -> int:
    """Re-wrap every live key that is not under `kek_id` (the current KEK) under it, a
    transaction per batch; returns how many."""
    return await _rewrap_where(pool, wrapper, _NOT_UNDER, (kek_id,), kek_id, batch_size)


async def destroy_other_keks(pool: asyncpg.Pool, wrapper: RotatableKeyWrapper, kek_id: str,
                             batch_size: int = BATCH_SIZE) -> tuple[list[str], int]:
    """Destroy every KEK but `kek_id`, once no live key is wrapped under another one.
    Returns the destroyed ids and how many keys were re-wrapped on the way (keys made
    under the old KEK by a process that had not yet seen the rotation)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rewrapped = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            # Keeps out new keys (and changes) while we check and destroy: whatever is
            # inserted after this lock is released was wrapped after the destruction, or
            # fails its own unwrap check (keys_for_writing) and rolls back.
            await conn.execute("LOCK TABLE subject_keys IN SHARE ROW EXCLUSIVE MODE")
            stragglers = await conn.fetch(
                f"SELECT {_COLUMNS} FROM subject_keys WHERE {_NOT_UNDER} "
                "ORDER BY subject_id LIMIT $2", kek_id, batch_size)
            if not stragglers:
                # Destroyed while no key needs the old KEKs. Nothing is written in this
                # transaction, so whether it commits does not matter any more.
                return await wrapper.destroy_all_but(kek_id), rewrapped
            await _rewrap_rows(conn, wrapper, stragglers, kek_id)
        rewrapped += len(stragglers)


@dataclass(frozen=True)
class KekUsage:
    kek_id: str | None  # None: no KEK (raw keys, or erased)
    state: str          # "wrapped", "raw" (not yet wrapped) or "erased"
    subjects: int


async def kek_usage(conn: Conn) -> list[KekUsage]:
    rows = await conn.fetch(
        """SELECT kek_id,
                  CASE WHEN wrapped_key IS NOT NULL THEN 'wrapped'
                       WHEN raw_key IS NOT NULL THEN 'raw' ELSE 'erased' END AS state,
                  count(*) AS subjects
           FROM subject_keys GROUP BY 1, 2 ORDER BY 2 DESC, 3 DESC, 1""")
    return [KekUsage(r["kek_id"], r["state"], r["subjects"]) for r in rows]


# -- internals ------------------------------------------------------------------------------

# A live key not (yet) under the KEK $1: wrapped under another one, or still raw.
_NOT_UNDER = "((wrapped_key IS NOT NULL AND kek_id <> $1) OR raw_key IS NOT NULL)"


async def _open(wrapper: KeyWrapper, rows: Sequence[asyncpg.Record]
                ) -> dict[str, bytes | None]:
    async def one(row: asyncpg.Record) -> bytes | None:
        if row["wrapped_key"] is not None:
            return await wrapper.unwrap(row["subject_id"], WrappedKey(
                row["kek_id"], bytes(row["wrapped_key"])))
        if row["raw_key"] is not None:  # not yet wrapped (before start-up wrapping ran)
            return bytes(row["raw_key"])
        return None

    if getattr(wrapper, "unwraps_locally", False):
        # A keyring in this process never waits: one key after another spares a task
        # per key, which cost three times the unwrap itself (a batch of reads opens
        # hundreds). A remote keeper (Vault) is asked for all of them at once.
        opened = [await one(r) for r in rows]
    else:
        opened = await asyncio.gather(*(one(r) for r in rows))
    return {r["subject_id"]: k for r, k in zip(rows, opened, strict=True)}


async def _rewrap_where(pool: asyncpg.Pool, wrapper: KeyWrapper, condition: str,
                        args: tuple[str, ...], kek_id: str | None, batch_size: int) -> int:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    total = 0
    limit = f"${len(args) + 1}"
    while True:
        async with pool.acquire() as conn, conn.transaction():
            # FOR UPDATE waits for rows another process is re-wrapping and then re-checks
            # the condition, so such rows drop out of this batch instead of being done
            # twice. The batch may then come back short or empty while rows remain.
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM subject_keys WHERE {condition} "
                f"ORDER BY subject_id LIMIT {limit} FOR UPDATE", *args, batch_size)
            await _rewrap_rows(conn, wrapper, rows, kek_id)
            total += len(rows)
            if not rows and not await conn.fetchval(
                    f"SELECT EXISTS (SELECT 1 FROM subject_keys WHERE {condition})", *args):
                break
    if total:
        async with pool.acquire() as conn:
            # The old row versions (raw keys, or keys under the old KEK) leave the heap.
            await conn.execute("VACUUM subject_keys")
    return total


async def _rewrap_rows(conn: Conn, wrapper: KeyWrapper, rows: Sequence[asyncpg.Record],
                       kek_id: str | None) -> None:
    if not rows:
        return
    keys = await _open(wrapper, rows)
    wrapped = await asyncio.gather(*(
        wrapper.wrap(subject, key) for subject, key in keys.items() if key is not None))
    if kek_id is not None and any(w.kek_id != kek_id for w in wrapped):
        # Someone rotated again meanwhile; going on would chase a moving target.
        raise KeyWrappingError(f"the current KEK is no longer {kek_id}: another rotation "
                             "ran meanwhile; run `regie keys rotate-kek` again")
    subjects = [s for s, k in keys.items() if k is not None]
    await conn.execute(
        """UPDATE subject_keys AS k SET raw_key = NULL, wrapped_key = u.wrapped, kek_id = u.kek
           FROM unnest($1::text[], $2::bytea[], $3::text[]) AS u(subject, wrapped, kek)
           WHERE k.subject_id = u.subject""",
        subjects, [w.ciphertext for w in wrapped], [w.kek_id for w in wrapped])
