"""Turning rows of the `events` table into events: envelopes, typed events, lazy events.

Three ways to read a row, from cheapest to dearest:

- `EventEnvelope`: position, stream, version, type and when; the data is not read.
- A lazy event (`LazyRecordedEvent`): the envelope now, the payload decoded when a reader
  first touches `.payload`. A projection that skips an event by its `type` never pays
  for its JSON, nor for unsealing its personal fields.
- A typed event (`RecordedEvent`): decoded at once, as `read_stream`/`read_all` return.

A `RowDecoder` serves one batch of rows: it holds the batch's subject keys (fetched once
per batch, unwrapped for this batch only, never logged) and one cipher per subject, so a
batch of a hundred events about one family opens its key once. Rows without personal data
are validated straight from the jsonb text with the event union's TypeAdapter; rows with
sealed values are parsed, unsealed (or marked erased, when the key is gone) and validated.
Old schema versions go through the upcasters either way (domain/event_codec.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg
from pydantic import PrivateAttr

from domain.event_codec import EventCodec
from domain.events import EventMetadata, EventPayload, RecordedEvent
from domain.model import FROM_STORE
from infra.personal_data import ERASED_VALUE, SEALED, Unsealer, sealed_subjects

# The columns of a full row, in `events` order; `data` and `metadata` as their jsonb text.
ROW_COLUMNS = """position, stream_id, stream_version, event_id, event_type, schema_version,
                 occurred_at, recorded_at, metadata::text AS metadata, data::text AS data"""
ENVELOPE_COLUMNS = "position, stream_id, stream_version, event_type, recorded_at"

# A sealed value as PostgreSQL prints jsonb: keys of one length in byte order, so "s" (the
# subject) comes after "c" and "n". Finding subjects in the text spares a JSON parse of
# every sealed row just to learn whose keys the batch needs.
_SEALED_KEY = f'"{SEALED}":'
# A whole sealed value; group 1 is its subject.
_SEALED_VALUE = re.compile(
    r'\{"\$sealed": \{"c": "[^"]*", "n": "[^"]*", "s": "((?:[^"\\]|\\.)*)"\}\}')
_ERASED_TEXT = json.dumps(ERASED_VALUE)


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """What every stored event has, without its data."""

    position: int
    stream_id: str
    version: int
    event_type: str
    recorded_at: datetime


def envelope(row: asyncpg.Record) -> EventEnvelope:
    return EventEnvelope(row["position"], row["stream_id"], row["stream_version"],
                         row["event_type"], row["recorded_at"])


def sealed_subjects_in(rows: Iterable[asyncpg.Record]) -> set[str]:
    """The subjects whose keys `rows` need, read from the jsonb text."""
    subjects: set[str] = set()
    for row in rows:
        data: str = row["data"]
        if SEALED not in data:
            continue
        found = _SEALED_VALUE.findall(data)
        if len(found) != data.count(_SEALED_KEY):
            # Not printed as expected (a key named "$sealed" in free text, another
            # server's formatting): ask the parsed document instead of guessing.
            subjects |= sealed_subjects(json.loads(data))
            continue
        subjects.update(json.loads(f'"{s}"') if "\\" in s else s for s in found)
    return subjects


class RowDecoder:
    """Decodes the rows of one batch; holds that batch's keys and nothing longer.

    Without keys (`keys=None`) personal data is *withheld*: every sealed value reads as
    erased, and nothing is decrypted. For readers that must not hold personal data (the
    read models, infra/subscription.py): they cannot copy it where erasure does not
    reach, and they pay neither the key query nor the decryption.
    """

    def __init__(self, codec: EventCodec, keys: Mapping[str, bytes | None] | None) -> None:
        self._codec = codec
        self._withheld = keys is None
        self._unsealer = Unsealer(keys or {})
        self._metadata: dict[str, EventMetadata] = {}

    def payload(self, row: asyncpg.Record) -> EventPayload:
        data: str = row["data"]
        if SEALED in data:
            if self._withheld:
                # In the text, sparing the parse: what unsealing without a key gives.
                text, replaced = _SEALED_VALUE.subn(_ERASED_TEXT, data)
                if replaced == data.count(_SEALED_KEY):
                    return self._codec.decode_json(row["event_type"], row["schema_version"],
                                                   text)
                # Printed otherwise (see sealed_subjects_in): the parsed document, with
                # no keys, marks every sealed value erased just the same.
            doc = self._unsealer.unseal(json.loads(data), row["event_id"])
            return self._codec.decode(row["event_type"], row["schema_version"], doc)
        return self._codec.decode_json(row["event_type"], row["schema_version"], data)

    def metadata(self, row: asyncpg.Record) -> EventMetadata:
        # Events appended together share their metadata: parse each distinct text once
        # per batch (EventMetadata is frozen, so the events can share the instance).
        text: str = row["metadata"]
        metadata = self._metadata.get(text)
        if metadata is None:
            metadata = self._metadata[text] = EventMetadata.model_validate_json(
                text, context=FROM_STORE)
        return metadata

    def typed(self, rows: Sequence[asyncpg.Record]) -> list[RecordedEvent]:
        """Every row decoded now."""
        events: list[RecordedEvent] = []
        for row in rows:
            fields = _envelope_fields(row)
            fields["metadata"] = self.metadata(row)
            fields["payload"] = self.payload(row)
            events.append(_built(RecordedEvent, fields, None))
        return events

    def lazy(self, rows: Sequence[asyncpg.Record]) -> list[RecordedEvent]:
        """Every row as a `LazyRecordedEvent`: its payload and its metadata are decoded on
        first access (a read model rarely asks who did it)."""
        return [_built(LazyRecordedEvent, _envelope_fields(row),
                       {"_row": row, "_decoder": self})
                for row in rows]


def _envelope_fields(row: asyncpg.Record) -> dict[str, Any]:
    """The fields of a `RecordedEvent` that come from typed columns as they are."""
    return {
        "event_id": row["event_id"],
        "occurred_at": row["occurred_at"],
        "stream_id": row["stream_id"],
        "version": row["stream_version"],
        "position": row["position"],
        "recorded_at": row["recorded_at"],
    }


_FIELDS_SET = set(RecordedEvent.model_fields)
_LAZY_FIELDS = frozenset({"payload", "metadata"})
_set = object.__setattr__


def _built(cls: type[RecordedEvent], fields: dict[str, Any],
           private: dict[str, Any] | None) -> RecordedEvent:
    """An instance of `cls` from values that are already what its fields hold.

    What `model_construct` does, without its per-field loop over defaults (every field is
    given, or for a lazy event loaded on first access): the envelope comes from typed
    columns, the metadata and the payload are validated by their own models. Measured
    about four times faster than `model_construct`, and a read builds one per event. The
    set of fields is shared: a frozen model never changes it.
    """
    event = cls.__new__(cls)
    _set(event, "__dict__", fields)
    _set(event, "__pydantic_fields_set__", _FIELDS_SET)
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", private)
    return event


class LazyRecordedEvent(RecordedEvent):
    """A stored event whose payload (decoded and unsealed) and metadata are read on first
    access.

    `type` answers from the row, so a reader can skip events by type without decoding
    them. Comparing, copying and dumping decode everything first, so a lazy event
    behaves as the `RecordedEvent` it stands for; put it into another model only after
    touching `.payload` (or use `recorded()`), because pydantic reads fields directly.
    """

    _row: asyncpg.Record | None = PrivateAttr(default=None)
    _decoder: RowDecoder | None = PrivateAttr(default=None)

    @property
    def type(self) -> str:
        # Through __dict__ and __pydantic_private__ directly: pydantic's lookup of a
        # private attribute goes through __getattr__, which costs more than the rest of
        # skipping an event.
        if "payload" in self.__dict__:
            return super().type
        private = self.__pydantic_private__
        assert private is not None
        event_type: str = private["_row"]["event_type"]
        return event_type

    @property
    def decoded(self) -> bool:
        """Whether the payload was decoded (for tests of laziness)."""
        return "payload" in self.__dict__

    def recorded(self) -> RecordedEvent:
        """The plain `RecordedEvent`, decoded."""
        self._load()
        return _built(RecordedEvent, dict(self.__dict__), None)

    def _load(self) -> None:
        """Decode what was not read yet, before pydantic reads the fields directly."""
        self._field("payload")
        self._field("metadata")

    def _field(self, name: str) -> Any:
        value = self.__dict__.get(name)
        if value is None:
            private = self.__pydantic_private__
            assert private is not None
            decoder: RowDecoder = private["_decoder"]
            row = private["_row"]
            value = decoder.payload(row) if name == "payload" else decoder.metadata(row)
            self.__dict__[name] = value
        return value

    if not TYPE_CHECKING:
        # Only for `payload` and `metadata`, left out of __dict__ until first read; every
        # other name goes to pydantic's own lookup (private attributes, errors).
        def __getattr__(self, name: str) -> Any:
            if name in _LAZY_FIELDS:
                return self._field(name)
            return super().__getattr__(name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyRecordedEvent):
            other = other.recorded()
        return self.recorded() == other

    __hash__ = None  # type: ignore[assignment]  # as for RecordedEvent: unhashable

    def model_dump(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._load()
        return super().model_dump(*args, **kwargs)

    def model_dump_json(self, *args: Any, **kwargs: Any) -> str:
        self._load()
        return super().model_dump_json(*args, **kwargs)

    def __repr_args__(self) -> Any:
        self._load()
        return super().__repr_args__()

    def __copy__(self) -> LazyRecordedEvent:
        self._load()
        return super().__copy__()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> LazyRecordedEvent:
        self._load()
        return super().__deepcopy__(memo)
