"""Throughput of `PostgresEventStore` next to raw asyncpg on the same table layout.

Run: `python -m bench.eventstore [--events 20000] [--cases 10000] [--trials 3]`.

It prints figures and ratios; it asserts nothing about time (a shared 2-core machine is
far too noisy for that). It only raises when the store and the raw baseline did not
write the same rows, because then the comparison would be meaningless.

What is compared:

- append, 1 event per call: `store.append` against one INSERT per transaction.
- append, 100 events per call: `store.append` against `executemany` of 100 rows in one
  transaction.
- append, 100 events per call with personal data (a parent's name and birth date): the
  store only, to show what sealing costs next to the line above.
- envelopes: paging with `store.read_envelopes(position, limit=1000)` (no data) against
  a server-side cursor (prefetch 1000) selecting every column (target 0.8).
- read_all: paging with `store.read_all(position, limit=1000)` against that cursor, and
  against the same cursor plus `json.loads` of each row's data and metadata: the least
  any reader that looks at the events must do (target 0.8).
- read_all of the personal-data table against read_all of the plain one, back to back:
  what unsealing costs (target 0.5).
- in memory: the rows of those reads fetched once, then only their decoding timed: typed
  (as read_all decodes) against json.loads of data and metadata, and personal (keys
  fetched beforehand) against plain. What decoding alone costs, without the fetch that
  both sides of a read pay.
- rebuild: `infra.projections.rebuild` of the trajectory overview over a log of
  `--cases` trajectories of 10 events (4 with personal data, 5 read by the overview, the
  other 5 not even fetched: their streams' heads are counted in SQL),
  against a raw cursor over the same log, and against the overview as it was applied
  one event at a time before (`PerEventOverview`, measured once; the rows both write
  are compared). Target: 100,000 events/s.

Both sides get the same prebuilt `NewEvent` objects; the raw side serialises them in the
timed loop too (`model_dump_json`), because the store has to do the same work and the
baseline should be "the least a hand-written insert of these events costs".

Every measurement starts on its own freshly migrated, empty `events` table (one schema
each, selected through `search_path`), so store and raw start equally empty. Store and
raw run back to back within a trial, in alternating order, and each figure is the best
of the trials: noise on a shared machine only ever makes a run slower.

Database: the embedded PostgreSQL in a temporary directory, or the database named by
REGIE_DATABASE_URL; there only schemas named `bench_<random>_*` are created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import uuid4

import asyncpg

from domain.event_codec import DOMAIN_CODEC
from domain.events import (
    CareStarted,
    CheckInDue,
    ContactAttempted,
    CoordinatorAppointed,
    EventMetadata,
    EventPayload,
    FamilyMember,
    IntakeOutcome,
    IntakeRecorded,
    MemberRole,
    NewEvent,
    PartnerSignalRecorded,
    PlanAdopted,
    RecordedEvent,
    Referral,
    ReferralAdded,
    SignalKind,
    TrajectoryClosed,
    TrajectoryReferred,
    TrajectoryReopened,
)
from domain.family import family_subject
from domain.trajectory import Phase, next_phase
from infra import subject_keys
from infra.database import create_pool, ensure_database, migrate_database, start_embedded_postgres
from infra.event_store import PostgresEventStore
from infra.garbage_collection import tune_for_throughput
from infra.local_kek import EnvKeyring, Kek
from infra.pgtypes import Conn
from infra.projections import rebuild
from infra.stored_events import ROW_COLUMNS, RowDecoder, sealed_subjects_in
from infra.structured_logging import configure_logging
from infra.subscription import CatchUpSubscription
from infra.trajectory_overview import SUBSCRIBER

T = TypeVar("T")
U = TypeVar("U")

BENCH_DATABASE = "regie_bench"
READ_PAGE = 1000
BASE_TIME = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

# The same columns, in the same order, that the store writes.
RAW_INSERT = """INSERT INTO events (stream_id, stream_version, event_id, event_type,
                                    schema_version, occurred_at, metadata, data)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""

# Written out rather than imported from the store: the baseline must stay fixed when the
# store's own query changes, or an "optimisation" could move both sides at once.
RAW_SELECT = """SELECT position, stream_id, stream_version, event_id, event_type,
                       schema_version, occurred_at, recorded_at,
                       metadata::text AS metadata, data::text AS data
                FROM events ORDER BY position"""

# A digest of everything both sides wrote, to prove they wrote the same rows.
CONTENT_DIGEST = """SELECT count(*) AS n,
                           md5(coalesce(string_agg(concat_ws('|', position, stream_id,
                               stream_version, event_id, event_type, schema_version,
                               occurred_at, metadata::text, data::text), ','
                               ORDER BY position), '')) AS digest
                    FROM events"""


@dataclass(frozen=True)
class Call:
    """One append: what a caller passes to `store.append`."""

    stream_id: str
    expected_version: int
    events: tuple[NewEvent, ...]


@dataclass(frozen=True)
class Workload:
    single: list[Call]  # batch size 1
    batched: list[Call]  # batch size `--batch`, no personal data
    personal: list[Call]  # batch size `--batch`, with a parent's name and birth date

    @staticmethod
    def count(calls: Sequence[Call]) -> int:
        return sum(len(c.events) for c in calls)


# -- building the events (outside any timing) -------------------------------------------


def make_event(stream_id: str, n: int, *, personal: bool) -> NewEvent:
    members: tuple[FamilyMember, ...] = ()
    if personal:
        # One subject per stream (family), as in real use: the key is created by the
        # first append of the stream and reused by the later ones.
        members = (FamilyMember(
            person_id=f"{stream_id}-parent",
            role=MemberRole.PARENT,
            name="A. de Vries",
            birth_date=date(1986, 4, 12),
            has_parental_authority=True,
        ),)
    return NewEvent(
        event_id=uuid4(),
        occurred_at=BASE_TIME + timedelta(seconds=n),
        metadata=EventMetadata(actor="user:bench", correlation_id=stream_id),
        payload=ReferralAdded(
            case_id=stream_id,
            referral=Referral(
                referral_id=f"{stream_id}-referral-{n}",
                organisation="Wijkteam Noord",
                referrer="huisarts",
                members=members,
                reasons=(),
            ),
        ),
    )


def plan(total: int, batch: int, streams: int, *, tag: str, personal: bool) -> list[Call]:
    """`total` events in calls of `batch`, spread round-robin over `streams` streams."""
    versions: dict[str, int] = {}
    calls: list[Call] = []
    made = 0
    while made < total:
        size = min(batch, total - made)
        stream_id = f"{tag}-case-{len(calls) % streams:05d}"
        version = versions.get(stream_id, 0)
        events = tuple(
            make_event(stream_id, made + i, personal=personal) for i in range(size)
        )
        calls.append(Call(stream_id, version, events))
        versions[stream_id] = version + size
        made += size
    return calls


# A trajectory as the overview sees it: 10 events per case, 4 of them with personal data
# (41% in the production log this was measured against), 5 of them read by the overview.
def trajectory_events(case_id: str, n: int) -> list[NewEvent]:
    subject = family_subject(case_id)
    members = (FamilyMember(person_id=f"{case_id}-parent", role=MemberRole.PARENT,
                            name="A. de Vries", birth_date=date(1986, 4, 12),
                            has_parental_authority=True),)

    def referral(k: int) -> Referral:
        return Referral(referral_id=f"{case_id}-r{k}", organisation=f"Wijkteam {k % 3}",
                        referrer="huisarts", members=members, reasons=())

    def signal(k: int) -> PartnerSignalRecorded:
        return PartnerSignalRecorded(
            idempotency_key=f"{case_id}-s{k}", organisation="GGD", kind=SignalKind.CONCERN,
            subject=subject, description="Zorgen over de thuissituatie.", acted_on=False,
            note="")

    contact = ContactAttempted(by="pro-1", channel="phone", reached=False)
    payloads: list[EventPayload] = [
        TrajectoryReferred(case_id=case_id, referral=referral(0)),
        IntakeRecorded(outcome=IntakeOutcome.ACCEPTED, subject=subject),
        CoordinatorAppointed(member_id=f"pro-{n % 40}", caseload_before=3, caseload_cap=15,
                             subject=subject),
        CareStarted(), contact, signal(1), contact, signal(2), CheckInDue(check_in=1),
        ReferralAdded(case_id=case_id, referral=referral(1)),
    ]
    start = BASE_TIME + timedelta(minutes=n)
    return [NewEvent(event_id=uuid4(), occurred_at=start + timedelta(days=i),
                     metadata=EventMetadata(actor="user:bench", correlation_id=case_id),
                     payload=payload)
            for i, payload in enumerate(payloads)]


class PerEventOverview:
    """The overview as it was before batching: a round trip (or three) per event, with
    the status read back each time. The baseline for the rebuild; kept verbatim here so
    that it stays fixed while the real one changes."""

    handles: frozenset[type[EventPayload]] | None = None

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            await self.apply(conn, event)

    async def reset(self, conn: Conn) -> None:
        await conn.execute("TRUNCATE trajectory_overview")

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        payload = event.payload
        case_id = event.stream_id.removeprefix("trajectory-")
        if isinstance(payload, TrajectoryReferred):
            phase = next_phase(None, payload)
            assert phase is not None
            await conn.execute(
                """INSERT INTO trajectory_overview (case_id, status, referred_at,
                       referral_count, organisations, stream_version, last_position)
                   VALUES ($1, $2, $3, 1, ARRAY[$4], $5, $6)""",
                payload.case_id, phase.value, event.occurred_at,
                payload.referral.organisation, event.version, event.position,
            )
            return
        sets: dict[str, object] = {}
        status: str | None = await conn.fetchval(
            "SELECT status FROM trajectory_overview WHERE case_id = $1", case_id)
        phase = next_phase(None if status is None else Phase(status), payload)
        if phase is not None and phase.value != status:
            sets["status"] = phase.value
        if isinstance(payload, ReferralAdded):
            await conn.execute(
                """UPDATE trajectory_overview
                   SET referral_count = referral_count + 1,
                       organisations = CASE WHEN $2 = ANY(organisations) THEN organisations
                                            ELSE organisations || $2 END
                   WHERE case_id = $1""",
                case_id, payload.referral.organisation,
            )
        elif isinstance(payload, TrajectoryReopened):
            await conn.execute("UPDATE trajectory_overview SET reopen_count = "
                               "reopen_count + 1, closed_at = NULL WHERE case_id = $1",
                               case_id)
        elif isinstance(payload, CoordinatorAppointed):
            sets["coordinator_id"] = payload.member_id
        elif isinstance(payload, PlanAdopted):
            await conn.execute("UPDATE trajectory_overview SET first_plan_at = "
                               "coalesce(first_plan_at, $2) WHERE case_id = $1",
                               case_id, event.occurred_at)
        elif isinstance(payload, TrajectoryClosed):
            sets["closed_at"] = event.occurred_at
        columns = ["stream_version", "last_position", *sets]
        values = [event.version, event.position, *sets.values()]
        assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
        await conn.execute(f"UPDATE trajectory_overview SET {assignments} WHERE case_id = $1",
                           case_id, *values)


# -- the timed loops --------------------------------------------------------------------


async def store_append(store: PostgresEventStore, calls: Sequence[Call]) -> float:
    start = time.perf_counter()
    for call in calls:
        await store.append(call.stream_id, call.expected_version, call.events)
    return time.perf_counter() - start


def raw_rows(call: Call) -> list[tuple[Any, ...]]:
    return [
        (call.stream_id, call.expected_version + 1 + i, e.event_id, e.payload.type,
         e.payload.SCHEMA_VERSION, e.occurred_at, e.metadata.model_dump_json(),
         e.payload.model_dump_json())
        for i, e in enumerate(call.events)
    ]


async def raw_insert_each(conn: asyncpg.Connection, calls: Sequence[Call]) -> float:
    """Baseline for batch=1: one INSERT per (explicit) transaction, as the store has one."""
    start = time.perf_counter()
    for call in calls:
        (row,) = raw_rows(call)
        async with conn.transaction():
            await conn.execute(RAW_INSERT, *row)
    return time.perf_counter() - start


async def raw_executemany(conn: asyncpg.Connection, calls: Sequence[Call]) -> float:
    """Baseline for batched appends: executemany of one call's rows per transaction."""
    start = time.perf_counter()
    for call in calls:
        async with conn.transaction():
            await conn.executemany(RAW_INSERT, raw_rows(call))
    return time.perf_counter() - start


async def store_read_all(store: PostgresEventStore) -> tuple[float, int]:
    start = time.perf_counter()
    position = 0
    seen = 0
    while page := await store.read_all(position, limit=READ_PAGE):
        seen += len(page)
        position = page[-1].position
    return time.perf_counter() - start, seen


async def store_read_envelopes(store: PostgresEventStore) -> tuple[float, int]:
    start = time.perf_counter()
    position = 0
    seen = 0
    while page := await store.read_envelopes(position, limit=READ_PAGE):
        seen += len(page)
        position = page[-1].position
    return time.perf_counter() - start, seen


async def raw_cursor_read(conn: asyncpg.Connection) -> tuple[float, int]:
    start = time.perf_counter()
    seen = 0
    async with conn.transaction():
        async for _row in conn.cursor(RAW_SELECT, prefetch=READ_PAGE):
            seen += 1
    return time.perf_counter() - start, seen


async def raw_cursor_json_read(conn: asyncpg.Connection) -> tuple[float, int]:
    """The cursor above, plus parsing each row's data and metadata JSON."""
    start = time.perf_counter()
    seen = 0
    loads = json.loads
    async with conn.transaction():
        async for row in conn.cursor(RAW_SELECT, prefetch=READ_PAGE):
            loads(row["data"])
            loads(row["metadata"])
            seen += 1
    return time.perf_counter() - start, seen


async def decoding_in_memory(plain: asyncpg.Connection, personal: asyncpg.Connection,
                             keyring: EnvKeyring) -> tuple[float, float, float]:
    """What turning fetched rows into events costs, without the database: the rows of
    both tables fetched first, then decoded as `read_all` does (typed, the personal ones
    with their keys, fetched beforehand) and parsed as the raw reader does (json.loads
    of data and metadata). Seconds for: plain typed, plain json.loads, personal typed.

    The read ratios above with the fetch taken out: both sides of a read pay a fetch of
    about the same cost, which brings their ratio closer to 1 than this one; what is left
    of the gap is decoding."""
    query = f"SELECT {ROW_COLUMNS} FROM events ORDER BY position"
    plain_rows = await plain.fetch(query)
    personal_rows = await personal.fetch(query)
    keys = await subject_keys.keys_for_reading(personal, keyring,
                                               sealed_subjects_in(personal_rows))
    loads = json.loads
    start = time.perf_counter()
    for page in range(0, len(plain_rows), READ_PAGE):
        RowDecoder(DOMAIN_CODEC, {}).typed(plain_rows[page:page + READ_PAGE])
    typed = time.perf_counter()
    for row in plain_rows:
        loads(row["data"])
        loads(row["metadata"])
    parsed = time.perf_counter()
    for page in range(0, len(personal_rows), READ_PAGE):
        RowDecoder(DOMAIN_CODEC, keys).typed(personal_rows[page:page + READ_PAGE])
    unsealed = time.perf_counter()
    return typed - start, parsed - typed, unsealed - parsed


# -- one trial ----------------------------------------------------------------------------


def with_search_path(dsn: str, schema: str) -> str:
    """`dsn` with `search_path=schema`; asyncpg passes unknown DSN query parameters to the
    server as session settings, so the store's unqualified `events` resolves there."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "search_path"]
    query.append(("search_path", '"' + schema.replace('"', '""') + '"'))
    return urlunsplit(parts._replace(query=urlencode(query)))


class Schemas:
    """Fresh, migrated schemas, each with its own empty `events` table."""

    def __init__(self, admin: asyncpg.Connection, dsn: str, prefix: str) -> None:
        self._admin = admin
        self._dsn = dsn
        self._prefix = prefix
        self._made: list[str] = []

    async def new(self, name: str) -> str:
        schema = f"{self._prefix}_{name}"
        await self._admin.execute(f'CREATE SCHEMA "{schema}"')
        self._made.append(schema)
        dsn = with_search_path(self._dsn, schema)
        await migrate_database(dsn)
        return dsn

    async def drop_all(self) -> None:
        for schema in self._made:
            await self._admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        self._made.clear()


async def digest(conn: asyncpg.Connection) -> tuple[int, str]:
    row = await conn.fetchrow(CONTENT_DIGEST)
    assert row is not None
    return int(row["n"]), str(row["digest"])


async def same_rows(store_conn: asyncpg.Connection, raw_conn: asyncpg.Connection,
                    expected: int, what: str) -> None:
    store_digest, raw_digest = await digest(store_conn), await digest(raw_conn)
    if store_digest != raw_digest or store_digest[0] != expected:
        raise RuntimeError(
            f"{what}: store wrote {store_digest}, raw wrote {raw_digest}, expected "
            f"{expected} rows; the two sides are not comparable"
        )


Samples = dict[str, list[float]]


async def run_trial(dsn: str, schemas: Schemas, work: Workload, trial: int,
                    samples: Samples) -> None:
    # Alternate who goes first, so warm caches and background work (checkpoints,
    # autovacuum of the previous table) do not always favour the same side.
    store_first = trial % 2 == 0

    async def pair(store_side: Callable[[], Awaitable[T]],
                   raw_side: Callable[[], Awaitable[U]]) -> tuple[T, U]:
        if store_first:
            s = await store_side()
            return s, await raw_side()
        r = await raw_side()
        return await store_side(), r

    label = "warmup" if trial < 0 else f"t{trial}"
    dsns = {name: await schemas.new(f"{label}_{name}")
            for name in ("store1", "raw1", "storeN", "rawN", "personal")}
    pools = {name: await create_pool(dsns[name], min_size=1, max_size=2)
             for name in ("store1", "storeN", "personal")}
    conns = {name: await asyncpg.connect(dsns[name]) for name in dsns}
    try:
        # A KEK held in this process, as with REGIE_KEK.
        keyring = EnvKeyring(Kek.generate())
        stores = {name: PostgresEventStore(pool, key_wrapper=keyring)
                  for name, pool in pools.items()}

        n1, nn, np_ = (Workload.count(c) for c in (work.single, work.batched, work.personal))
        s, r = await pair(lambda: store_append(stores["store1"], work.single),
                          lambda: raw_insert_each(conns["raw1"], work.single))
        samples["append1.store"].append(n1 / s)
        samples["append1.raw"].append(n1 / r)
        await same_rows(conns["store1"], conns["raw1"], n1, "append batch=1")

        s, r = await pair(lambda: store_append(stores["storeN"], work.batched),
                          lambda: raw_executemany(conns["rawN"], work.batched))
        samples["appendN.store"].append(nn / s)
        samples["appendN.raw"].append(nn / r)
        await same_rows(conns["storeN"], conns["rawN"], nn, "append batched")

        s = await store_append(stores["personal"], work.personal)
        samples["appendP.store"].append(np_ / s)

        # All read the same table: the store's batched one (the personal reads their own).
        async def raw_reads() -> tuple[float, float]:
            r, r_seen = await raw_cursor_read(conns["storeN"])
            j, j_seen = await raw_cursor_json_read(conns["storeN"])
            if r_seen != nn or j_seen != nn:
                raise RuntimeError(f"raw read {r_seen} and {j_seen} (+ json) of {nn} events")
            return r, j

        async def store_reads() -> tuple[float, float, float]:
            e, e_seen = await store_read_envelopes(stores["storeN"])
            s, s_seen = await store_read_all(stores["storeN"])
            # Right after the plain read: the ratio of the two is what unsealing costs.
            p, p_seen = await store_read_all(stores["personal"])
            if e_seen != nn or s_seen != nn or p_seen != np_:
                raise RuntimeError(f"read {e_seen} envelopes, {s_seen} events and "
                                   f"{p_seen} personal of {nn} and {np_}")
            return e, s, p

        (e, s, p), (r, j) = await pair(store_reads, raw_reads)
        samples["env.store"].append(nn / e)
        samples["env.raw"].append(nn / r)
        samples["read.store"].append(nn / s)
        samples["read.raw"].append(nn / r)
        samples["readJ.store"].append(nn / s)
        samples["readJ.raw"].append(nn / j)
        samples["readP.store"].append(np_ / p)
        samples["readP.raw"].append(nn / s)

        t, j, u = await decoding_in_memory(conns["storeN"], conns["personal"], keyring)
        samples["decodeJ.store"].append(nn / t)
        samples["decodeJ.raw"].append(nn / j)
        samples["decodeP.store"].append(np_ / u)
        samples["decodeP.raw"].append(nn / t)
    finally:
        for conn in conns.values():
            await conn.close()
        for pool in pools.values():
            await pool.close()
        await schemas.drop_all()


# -- rebuilding a read model ---------------------------------------------------------------

OVERVIEW_DIGEST = """SELECT count(*) AS n,
                            md5(coalesce(string_agg(t::text, ',' ORDER BY case_id), ''))
                                AS digest
                     FROM trajectory_overview AS t"""


async def overview_digest(conn: asyncpg.Connection) -> tuple[int, str]:
    row = await conn.fetchrow(OVERVIEW_DIGEST)
    assert row is not None
    return int(row["n"]), str(row["digest"])


async def run_rebuilds(schemas: Schemas, log: Sequence[Call], trials: int,
                       samples: Samples) -> None:
    """The overview rebuilt from a log of trajectories, `trials` times, against the old
    per-event apply (once: it is slow) and a raw cursor over the same log (each trial)."""
    dsn = await schemas.new("rebuild")
    pool = await create_pool(dsn, min_size=1, max_size=2)
    conn = await asyncpg.connect(dsn)
    try:
        store = PostgresEventStore(pool, key_wrapper=EnvKeyring(Kek.generate()))
        for call in log:
            await store.append(call.stream_id, call.expected_version, call.events)
        total = Workload.count(log)

        old = CatchUpSubscription(store, "bench_per_event", PerEventOverview(),
                                  batch_size=500)
        start = time.perf_counter()
        if await old.catch_up() != total:
            raise RuntimeError("the per-event overview did not pass over the whole log")
        per_event = total / (time.perf_counter() - start)
        expected = await overview_digest(conn)

        for _ in range(trials):
            figures = await rebuild(store, SUBSCRIBER)
            if figures.events != total or await overview_digest(conn) != expected:
                raise RuntimeError(f"the rebuild passed {figures.events} of {total} events "
                                   "or wrote other rows than the per-event overview")
            r, r_seen = await raw_cursor_read(conn)
            if r_seen != total:
                raise RuntimeError(f"raw read {r_seen} of {total} events")
            samples["rebuild.store"].append(figures.events_per_second)
            samples["rebuild.raw"].append(total / r)
            samples["rebuildOld.store"].append(figures.events_per_second)
            # Measured once (it takes minutes at full size); the same figure each trial.
            samples["rebuildOld.raw"].append(per_event)
    finally:
        await conn.close()
        await pool.close()
        await schemas.drop_all()


# -- report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    label: str
    key: str
    has_raw: bool
    target: float | None  # a ratio, or with `absolute`, events/s
    absolute: bool = False


def report(samples: Samples, batch: int, trials: int) -> None:
    lines = [
        Line("append batch=1", "append1", True, None),
        Line(f"append batch={batch}", "appendN", True, 0.8),
        Line(f"append batch={batch} personal", "appendP", False, None),
        Line("envelopes vs raw cursor", "env", True, 0.8),
        Line("read_all vs raw cursor", "read", True, None),
        Line("read_all vs raw cursor + json", "readJ", True, 0.8),
        Line("read_all personal vs plain", "readP", True, 0.5),
        Line("in memory: typed vs json.loads", "decodeJ", True, None),
        Line("in memory: personal vs plain", "decodeP", True, None),
        Line("rebuild overview vs raw cursor", "rebuild", True, 100_000, absolute=True),
        Line("rebuild vs per-event apply", "rebuildOld", True, None),
    ]
    print(f"{'':32} {'ev/s':>11} {'base ev/s':>10} {'ratio':>6} {'target':>9}"
          f"   {'per-trial ratios':<}")
    for line in lines:
        if not samples.get(f"{line.key}.store"):
            continue
        store = max(samples[f"{line.key}.store"])
        if line.target is None:
            target = "-"
        elif line.absolute:
            target = f">={line.target / 1000:.0f}k/s"
        else:
            target = f">={line.target:.1f}"
        if not line.has_raw:
            print(f"{line.label:32} {store:11,.0f} {'-':>10} {'-':>6} {target:>9}")
            continue
        raw = max(samples[f"{line.key}.raw"])
        paired = sorted(s / r for s, r in zip(samples[f"{line.key}.store"],
                                              samples[f"{line.key}.raw"], strict=True))
        print(f"{line.label:32} {store:11,.0f} {raw:10,.0f} {store / raw:6.2f} "
              f"{target:>9}   {' '.join(f'{p:.2f}' for p in paired)}")
    print(f"""
ev/s: events / wall time of the whole loop, best (highest) of {trials} trials; base ev/s:
the baseline of the line, measured in the same trial. ratio: best / best baseline;
per-trial ratios: each trial's pair, run back to back in alternating order (sorted).
envelopes: store.read_envelopes (no data) vs a raw cursor reading every column.
read_all vs raw cursor + json: typed events vs a raw cursor that parses each row's data
and metadata. read_all personal vs plain: the same read of events with a parent's name
and birth date (sealed) vs events without. in memory: the rows of the same reads fetched
first, then only their decoding timed (typed as read_all does, vs json.loads of data and
metadata; personal with the keys fetched beforehand, vs plain): the two ratios above
without the fetch both sides pay, so what decoding alone costs. rebuild: the trajectory
overview from 0 over a log of trajectories (40% of the events with personal data), vs a
raw cursor over the same log and vs the overview as it was applied one event at a time.""")


# -- main ---------------------------------------------------------------------------------


async def run(dsn: str, source: str, args: argparse.Namespace, *,
              tune_gc: bool = True) -> None:
    """The benchmark on the database `dsn` (schemas `bench_<random>_*` only); `tune_gc`:
    set the garbage collector as the measured processes do (not inside the test suite,
    tests/test_benchmarks.py, whose process it would change for every later test)."""
    work = Workload(
        single=plan(args.single_events, 1, args.streams, tag="one", personal=False),
        batched=plan(args.events, args.batch, args.streams, tag="many", personal=False),
        personal=plan(args.events, args.batch, args.streams, tag="pii", personal=True),
    )
    # One append per trajectory, as its first steps arrive in one workflow step.
    log = [Call(f"trajectory-case-{n:06d}", 0, tuple(trajectory_events(f"case-{n:06d}", n)))
           for n in range(args.cases)]
    # The prebuilt events are ~800k GC-tracked objects. Left in the young generations,
    # every full collection walks them, which taxes whoever allocates most (the store's
    # read path by 3x) for objects that are not part of what is measured. Freezing moves
    # them out of the collector's sight; the code under test is collected as in its own
    # processes.
    if tune_gc:
        gc.collect()
        gc.freeze()
        # As the processes measured here run: the projector, the worker, `regie
        # projections rebuild` (it freezes again, which is harmless).
        tune_for_throughput()
    admin = await asyncpg.connect(dsn)
    schemas = Schemas(admin, dsn, f"bench_{uuid4().hex[:8]}")
    try:
        version = await admin.fetchval("SHOW server_version")
        fsync = await admin.fetchval("SHOW fsync")
        sync_commit = await admin.fetchval("SHOW synchronous_commit")
        print(f"PostgreSQL {version} ({source}; fsync={fsync}, "
              f"synchronous_commit={sync_commit})")
        print(f"events: batch=1 {Workload.count(work.single)}, batch={args.batch} "
              f"{Workload.count(work.batched)} (and as many with personal data), "
              f"over {args.streams} streams; {args.trials} trials after a warm-up; "
              f"rebuild log: {args.cases} trajectories, {Workload.count(log)} events\n")

        # Warm-up: connection setup, statement preparation and pydantic's first-call
        # work would otherwise land in the first trial only.
        warm = Workload(work.single[:50], work.batched[:5], work.personal[:5])
        await run_trial(dsn, schemas, warm, -1, defaultdict(list))

        samples: Samples = defaultdict(list)
        for trial in range(args.trials):
            await run_trial(dsn, schemas, work, trial, samples)
            print(f"  trial {trial + 1}/{args.trials} done", flush=True)
        if args.cases:
            await run_rebuilds(schemas, log, args.trials, samples)
            print(f"  rebuilds of {Workload.count(log)} events done", flush=True)
        print()
        report(samples, args.batch, args.trials)
    finally:
        await schemas.drop_all()
        await admin.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.eventstore",
        description="Event store append/read throughput next to raw asyncpg.",
    )
    parser.add_argument("--events", type=int, default=20_000,
                        help="events for the batched appends and the reads (default 20000)")
    parser.add_argument("--single-events", type=int, default=None,
                        help="events for the batch=1 appends (default: --events / 10, "
                             "because each is a commit of its own)")
    parser.add_argument("--batch", type=int, default=100,
                        help="events per call for the batched appends (default 100)")
    parser.add_argument("--streams", type=int, default=200,
                        help="distinct streams the appends are spread over (default 200)")
    parser.add_argument("--cases", type=int, default=10_000,
                        help="trajectories (10 events each) in the log the overview is "
                             "rebuilt from (default 10000; 0 skips the rebuild)")
    parser.add_argument("--trials", type=int, default=3,
                        help="repetitions; the best of them is printed (default 3)")
    args = parser.parse_args(argv)
    if args.single_events is None:
        args.single_events = max(1, args.events // 10)
    for name in ("events", "single_events", "batch", "streams", "trials"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    # The subscriber's per-batch debug lines would land in the figures' output.
    configure_logging("WARNING")
    server: Any = None
    url = os.environ.get("REGIE_DATABASE_URL")
    if url:
        dsn, source = url, "REGIE_DATABASE_URL"
    else:
        # Started outside the event loop: it blocks until the server accepts connections.
        server = start_embedded_postgres(
            Path(tempfile.mkdtemp(prefix="regie-bench-")) / "pg", delete_on_exit=True
        )
        asyncio.run(ensure_database(server.get_uri(), BENCH_DATABASE))
        dsn, source = server.get_uri(BENCH_DATABASE), "embedded"
    asyncio.run(run(dsn, source, args))
    # `server` stays referenced until here; it stops (and its data is deleted) at exit.
    del server


if __name__ == "__main__":
    main()
