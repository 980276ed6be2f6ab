"""The one path to a case for every front door of the gateway.

The JSON routes and the workspace's pages read a case and give its commands through the
same functions: the case folded from the store, the caller's roles on it
(`domain.access`), the read check, and the command path (rights, idempotency key per
principal, the row's Temporal Update). So a rule lives once, whichever door a person
comes through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from domain.access import CaseRole, DirectoryFacts, Principal, Read
from domain.command_table import CommandRow
from domain.commands import Command
from domain.events import RecordedEvent
from domain.policy import RegionPolicy
from domain.trajectory import TrajectoryState

RolesOf = Callable[[str, Principal], Awaitable[
    tuple[TrajectoryState | None, frozenset[CaseRole], DirectoryFacts]]]


@dataclass(frozen=True)
class CaseDesk:
    # The case's events from the store (the source of truth), personal data as it is now.
    events: Callable[[str], Awaitable[list[RecordedEvent]]]
    # The case (None: no such case), the caller's roles on it, the directory facts used.
    roles: RolesOf
    # The case, if the caller may read it this way; `AccessRefused` otherwise.
    readable: Callable[[str, Principal, Read], Awaitable[TrajectoryState]]
    # Give `command` (a row of the command table) on a case with an idempotency key:
    # the result, or the first answer again (a `JSONResponse`) for a resent key.
    command: Callable[[CommandRow, str, Command, str, Principal], Awaitable[Any]]
    pool: Callable[[], asyncpg.Pool]
    policy: RegionPolicy
