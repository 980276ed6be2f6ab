"""Events stored under an old schema version read back in the current shape."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import ClassVar, Literal

import asyncpg
import pytest
from pydantic import TypeAdapter

from domain.event_codec import EventCodec
from domain.events import EventMetadata, EventPayload, NewEvent, StagnationFound
from domain.personal import Erased
from domain.stagnation import AgreementOverdue, Reported
from domain.upcasting import JsonDict, UpcasterRegistry, UpcastError
from infra.event_store import PostgresEventStore
from infra.key_wrapping import KeyWrapper
from infra.personal_data import new_key, seal


class ContactAttempted(EventPayload):
    """v1 stored only `result`; v2 names the channel and calls the result `outcome`."""

    SCHEMA_VERSION: ClassVar[int] = 2
    type: Literal["ContactAttempted"] = "ContactAttempted"
    case_id: str
    channel: str
    outcome: str


registry = UpcasterRegistry()


@registry.register("ContactAttempted", from_version=1)
def upcast_v1_v2(data: JsonDict) -> JsonDict:
    return {"type": data["type"], "case_id": data["case_id"], "channel": "unknown",
            "outcome": data["result"]}


CODEC = EventCodec(TypeAdapter(ContactAttempted), {"ContactAttempted": ContactAttempted},
                   registry)


async def test_old_schema_version_is_upcast_on_read(pool: asyncpg.Pool,
                                                    key_wrapper: KeyWrapper) -> None:
    store = PostgresEventStore(pool, key_wrapper=key_wrapper, codec=CODEC)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO events (stream_id, stream_version, event_id, event_type,
                                   schema_version, occurred_at, metadata, data)
               VALUES ('s-1', 1, $1, 'ContactAttempted', 1, now(), $2, $3)""",
            uuid.uuid4(), EventMetadata(actor="legacy").model_dump_json(),
            json.dumps({"type": "ContactAttempted", "case_id": "c", "result": "no answer"}),
        )
    # model_construct: ContactAttempted is a test-only event outside the domain union.
    current = NewEvent.model_construct(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
        metadata=EventMetadata(actor="new"),
        payload=ContactAttempted(  # type: ignore[arg-type]
            case_id="c", channel="phone", outcome="reached"),
    )
    await store.append("s-1", 1, [current])

    old, new = await store.read_stream("s-1")
    upcast: object = old.payload  # a test-only type, outside the domain union
    assert upcast == ContactAttempted(case_id="c", channel="unknown", outcome="no answer")
    assert new.payload == current.payload
    assert (await store.read_all())[0].payload == old.payload


def test_missing_upcaster_is_a_clear_error() -> None:
    with pytest.raises(UpcastError, match="no upcaster from X v2 to v3"):
        UpcasterRegistry().upcast("X", 2, 3, {})


def test_event_from_newer_code_is_not_misread() -> None:
    with pytest.raises(UpcastError, match="newer than this code"):
        UpcasterRegistry().upcast("X", 4, 3, {})


def test_an_upcaster_step_is_registered_once() -> None:
    with pytest.raises(ValueError, match="already exists"):
        registry.register("ContactAttempted", 1)(upcast_v1_v2)


async def test_stagnation_findings_stored_under_v1_read_as_v2(
        pool: asyncpg.Pool, key_wrapper: KeyWrapper) -> None:
    """Rows written before findings were typed: one plain (an agreement id with ':'), one
    with a reported stagnation's words sealed with the family's key, as v1 sealed them."""
    store = PostgresEventStore(pool, key_wrapper=key_wrapper)  # the domain's codec, upcasters
    subject = "family:case-v1"
    key = new_key()
    reported_id = uuid.uuid4()
    sealed = seal({"type": "StagnationFound", "rule": "reported", "key": "report-1",
                   "evidence": "reported by pro-1", "due": "2025-04-16T09:00:00Z",
                   "subject": subject, "details": "Vader is weer vertrokken"},
                  reported_id, [(("details",), subject)], {subject: key})
    plain = {"type": "StagnationFound", "rule": "agreement_overdue",
             "key": "agreement:a:1:2025-04-15", "evidence": "agreement a:1 was due",
             "due": "2025-04-16T00:00:00Z", "subject": "", "details": None}
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO subject_keys (subject_id, raw_key) VALUES ($1, $2)",
                           subject, key)
        for version, event_id, data in ((1, uuid.uuid4(), plain), (2, reported_id, sealed)):
            await conn.execute(
                """INSERT INTO events (stream_id, stream_version, event_id, event_type,
                                       schema_version, occurred_at, metadata, data)
                   VALUES ('trajectory-case-v1', $1, $2, 'StagnationFound', 1, now(), $3,
                           $4)""",
                version, event_id, EventMetadata(actor="system:deadline").model_dump_json(),
                json.dumps(data))
    assert "vertrokken" not in json.dumps(sealed)

    overdue, reported = await store.read_stream("trajectory-case-v1")
    assert isinstance(overdue.payload, StagnationFound)
    assert overdue.payload.about == AgreementOverdue(agreement_id="a:1", due=date(2025, 4, 15))
    assert isinstance(reported.payload, StagnationFound)
    assert reported.payload.about == Reported(report=1)
    assert reported.payload.details == "Vader is weer vertrokken"

    await store.erase_subject(subject)
    (_, erased) = await store.read_stream("trajectory-case-v1")
    assert isinstance(erased.payload, StagnationFound)
    assert erased.payload.details == Erased() and erased.payload.about == Reported(report=1)
