"""Who answers at each step of the escalation ladder (opschaling), from the directory.

    1. the care coordinator;
    2. the manager of the professional concerned (whose agreement is overdue), or else
       of the coordinator;
    3. the region's process director (regionale procesregisseur jeugd).

The directory is read at every call, never cached in the workflow: a manager who changes
between two steps of a running escalation is the one the next step reaches. A step whose
person is unknown goes up the ladder, and the note says why, so nobody is left waiting
on a person the directory does not know. Only the top of the ladder can fail: without a
process director there is nobody left to escalate to, and an operator must act.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from pydantic import Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.model import Frozen, Id, Name
from domain.notifications import RecipientRole
from infra.directory import Professional, manager_of, process_director, professional, region
from infra.pgtypes import Conn

Level = Annotated[int, Field(ge=1, le=3)]


class ResolveAssigneeInput(Frozen):
    case_id: Id
    region_id: Id
    level: Level
    coordinator_id: Id | None = None
    # The professional whose agreement is overdue, if the stagnation is about one.
    concerned_professional_id: Id | None = None


class Assignee(Frozen):
    level: Level  # the level actually reached: higher than asked when a step was skipped
    assignee_id: Id
    name: Name
    role: RecipientRole
    organisation_id: Id | None  # whose webhook receives the notification
    note: str  # why this person; says which steps were skipped and why


class DirectoryIncomplete(Exception):
    """Nobody at the top of the ladder: only an operator importing a directory helps."""


class DirectoryActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="resolve_escalation_assignee")
    async def resolve_escalation_assignee(self, request: ResolveAssigneeInput) -> Assignee:
        async with self._pool.acquire() as conn, conn.transaction(
                isolation="repeatable_read", readonly=True):
            # One snapshot: an import committing mid-call cannot mix two directories.
            try:
                return await resolve_assignee(conn, request)
            except DirectoryIncomplete as error:
                # Retrying cannot help until someone imports a directory; fail the
                # activity at once so the workflow can report it.
                raise ApplicationError(str(error), type="DirectoryIncomplete",
                                       non_retryable=True) from None


async def resolve_assignee(conn: Conn, request: ResolveAssigneeInput) -> Assignee:
    """The assignee for `request.level`, or the first one above it who is known."""
    notes: list[str] = []
    if request.level == 1:
        coordinator = await _known(conn, request.coordinator_id, "coordinator", notes)
        if coordinator is not None:
            return _assignee(1, coordinator, RecipientRole.COORDINATOR,
                             f"coordinator of case {request.case_id}", notes)
        notes.append("escalated to the manager")
    if request.level <= 2:
        subject_id = request.concerned_professional_id or request.coordinator_id
        if subject_id is None:
            notes.append("no coordinator or professional concerned is named, so no manager "
                         "can be found; escalated straight to the regional process director")
        else:
            manager = await manager_of(conn, subject_id)
            if manager is not None:
                whose = ("the professional concerned" if request.concerned_professional_id
                         else "the coordinator")
                return _assignee(2, manager, RecipientRole.MANAGER,
                                 f"manager of {subject_id} ({whose})", notes)
            notes.append(f"no manager known for {subject_id} in the directory; escalated "
                         "straight to the regional process director")
    director = await process_director(conn, request.region_id)
    if director is None:
        known = await region(conn, request.region_id)
        what = ("is not in the organisation directory" if known is None or not known.active
                else "has no active process director in the organisation directory")
        raise DirectoryIncomplete(
            f"case {request.case_id}: region {request.region_id} {what}, so the escalation "
            "has nobody to reach; import a directory that names the region's process "
            "director (`regie directory import FILE`)")
    return _assignee(3, director, RecipientRole.PROCESS_DIRECTOR,
                     f"process director of region {request.region_id}", notes)


async def _known(conn: Conn, professional_id: str | None, role: str,
                 notes: list[str]) -> Professional | None:
    if professional_id is None:
        notes.append(f"no {role} appointed")
        return None
    found = await professional(conn, professional_id)
    if found is None:
        notes.append(f"{role} {professional_id} is not in the directory")
        return None
    if not found.active:
        notes.append(f"{role} {professional_id} is no longer active in the directory")
        return None
    return found


def _assignee(level: int, person: Professional, role: RecipientRole, why: str,
              skipped: list[str]) -> Assignee:
    return Assignee(level=level, assignee_id=person.id, name=person.name, role=role,
                    organisation_id=person.organisation_id, note="; ".join([*skipped, why]))
