"""Events stored under an old schema version read back in the current shape."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import ClassVar, Literal

import asyncpg
import pytest
from pydantic import TypeAdapter

from domain.event_codec import EventCodec
from domain.events import EventMetadata, EventPayload, NewEvent
from domain.upcasting import JsonDict, UpcasterRegistry, UpcastError
from infra.event_store import PostgresEventStore


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


async def test_old_schema_version_is_upcast_on_read(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool, codec=CODEC)
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
