"""Which cases a professional may find in their lists, straight from the event store.

The workspace's "my cases" and escalation board start from the cases that name a
professional: as a team member, as the appointed coordinator, or as the assignee of an
escalation level (for a manager also those of the people they manage). These are
candidates only: each is folded from its stream and shown only where the rights of
`domain.access` give the reader a role on it now (a team member who left is named in the
stream, but has no role any more). No personal data is read here: ids only.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.pgtypes import Conn

_STREAM_PREFIX = "trajectory-"
# A list page shows at most this many cases; a caseload is capped far below it.
MAX_CASES = 500


async def reports_of(conn: Conn, manager_id: str) -> list[str]:
    """The professionals the directory says `manager_id` manages."""
    rows = await conn.fetch("SELECT id FROM directory_professionals WHERE manager_id = $1 "
                            "AND active ORDER BY id", manager_id)
    return [r["id"] for r in rows]


async def cases_naming(conn: Conn, professional_ids: Sequence[str]) -> list[str]:
    """Cases whose events name one of `professional_ids` as team member, coordinator or
    escalation assignee, newest activity first."""
    rows = await conn.fetch(
        """SELECT substr(stream_id, $3) AS case_id, max(position) AS last
           FROM events
           WHERE stream_id LIKE 'trajectory-%'
             AND ((event_type = 'TeamMemberAdded'
                   AND data->'member'->>'member_id' = ANY($1::text[]))
               OR (event_type = 'CoordinatorAppointed'
                   AND data->>'member_id' = ANY($1::text[]))
               OR (event_type = 'EscalationLevelAssigned'
                   AND data->>'assignee_id' = ANY($1::text[])))
           GROUP BY stream_id ORDER BY last DESC LIMIT $2""",
        list(professional_ids), MAX_CASES, len(_STREAM_PREFIX) + 1)
    return [r["case_id"] for r in rows]


async def cases_with_escalations(conn: Conn) -> list[str]:
    """Cases that ever had an escalation episode (for those who read every case)."""
    rows = await conn.fetch(
        """SELECT substr(stream_id, $2) AS case_id, max(position) AS last FROM events
           WHERE event_type = 'EscalationOpened' AND stream_id LIKE 'trajectory-%'
           GROUP BY stream_id ORDER BY last DESC LIMIT $1""",
        MAX_CASES, len(_STREAM_PREFIX) + 1)
    return [r["case_id"] for r in rows]


async def professional_names(conn: Conn, professional_ids: Sequence[str]) -> dict[str, str]:
    """Professionals' names from the directory (people at work, not families)."""
    rows = await conn.fetch("SELECT id, name FROM directory_professionals "
                            "WHERE id = ANY($1::text[])", list(professional_ids))
    return {r["id"]: r["name"] for r in rows}
