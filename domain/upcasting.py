"""Upcasters turn an event stored under an older schema version into the current shape.

Register one function per step, named `upcast_vX_vY` by convention; reading applies the
steps in order (v1 -> v2 -> v3) until the payload class's `SCHEMA_VERSION` is reached.
Upcasters work on plain JSON dicts, after personal data was decrypted (or marked erased).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JsonDict = dict[str, Any]
Upcaster = Callable[[JsonDict], JsonDict]


class UpcastError(Exception):
    pass


class UpcasterRegistry:
    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: `fn` turns `event_type` data at `from_version` into `from_version + 1`."""

        def decorate(fn: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._steps:
                raise ValueError(f"an upcaster for {event_type} v{from_version} already exists")
            self._steps[key] = fn
            return fn

        return decorate

    def upcast(self, event_type: str, version: int, target: int, data: JsonDict) -> JsonDict:
        if version > target:
            raise UpcastError(
                f"{event_type} was stored as schema v{version}, newer than this code's "
                f"v{target}; deploy the newer code before reading it"
            )
        while version < target:
            step = self._steps.get((event_type, version))
            if step is None:
                raise UpcastError(
                    f"no upcaster from {event_type} v{version} to v{version + 1}; "
                    "register one in domain.upcasting"
                )
            data = step(dict(data))
            version += 1
        return data


# The registry for the domain's own events. No event has changed shape yet.
UPCASTERS = UpcasterRegistry()
