"""Turning event payloads into stored JSON and back, without I/O.

The store encrypts the personal fields this codec points at and decrypts them before
`decode` runs; the codec itself never sees a key.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from domain.events import EVENT_ADAPTER, EVENT_TYPES, EventPayload
from domain.model import FROM_STORE
from domain.upcasting import UPCASTERS, JsonDict, UpcasterRegistry


class UnknownEventTypeError(Exception):
    pass


class EventCodec:
    def __init__(
        self,
        adapter: TypeAdapter[Any],
        types: dict[str, type[EventPayload]],
        upcasters: UpcasterRegistry,
    ) -> None:
        self._adapter = adapter
        self._types = types
        self._upcasters = upcasters

    def payload_class(self, event_type: str) -> type[EventPayload]:
        try:
            return self._types[event_type]
        except KeyError:
            raise UnknownEventTypeError(
                f"unknown event type {event_type!r}; known: {sorted(self._types)}"
            ) from None

    def current_version(self, event_type: str) -> int:
        return self.payload_class(event_type).SCHEMA_VERSION

    def decode_json(self, event_type: str, schema_version: int, raw: str) -> EventPayload:
        """Fast path: current schema, no personal data to unseal."""
        if schema_version == self.current_version(event_type):
            payload: EventPayload = self._adapter.validate_json(raw, context=FROM_STORE)
            return payload
        return self.decode(event_type, schema_version, json.loads(raw))

    def decode(self, event_type: str, schema_version: int, data: JsonDict) -> EventPayload:
        target = self.current_version(event_type)
        if schema_version != target:
            data = self._upcasters.upcast(event_type, schema_version, target, data)
        payload: EventPayload = self._adapter.validate_python(data, context=FROM_STORE)
        return payload


DOMAIN_CODEC = EventCodec(EVENT_ADAPTER, dict(EVENT_TYPES), UPCASTERS)
