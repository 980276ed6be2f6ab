"""The access log (NEN 7513): every read and write of case data, and every refusal.

One row per access: who (principal and organisation, and the key a partner used), what
(the action), which case or person, when, the outcome and the request id. The table is
append-only (a trigger refuses UPDATE, DELETE and TRUNCATE). The gateway writes a row
for each request about a case; the `regie` CLI for each of its reads.

    regie audit --case CASE_ID | --principal ID | --since 2026-11-01 [--json]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.access import PartnerPrincipal, Principal
from infra.pgtypes import Conn

PrincipalKind = Literal["partner", "professional", "cli", "anonymous"]


class Outcome(StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"  # authenticated, but not allowed (403)
    UNAUTHENTICATED = "unauthenticated"  # no valid credentials (401)
    FAILED = "failed"  # allowed, but it did not happen (invalid, refused by the rules, down)


class Accessor(BaseModel):
    """Who accessed: a principal of the gateway, an operator at the CLI, or nobody known."""

    model_config = ConfigDict(frozen=True)
    kind: PrincipalKind
    id: str | None = None
    organisation_id: str | None = None
    credential_id: str | None = None

    @classmethod
    def of(cls, principal: Principal | None) -> Accessor:
        if principal is None:
            return cls(kind="anonymous")
        if isinstance(principal, PartnerPrincipal):
            return cls(kind="partner", id=principal.organisation_id,
                       organisation_id=principal.organisation_id,
                       credential_id=principal.key_id)
        return cls(kind="professional", id=principal.professional_id,
                   organisation_id=principal.organisation_id)


class Access(BaseModel):
    model_config = ConfigDict(frozen=True)
    accessor: Accessor
    action: str
    outcome: Outcome
    request_id: str
    case_id: str | None = None
    person_id: str | None = None
    status: int | None = None
    reason: str | None = None


class LoggedAccess(BaseModel):
    model_config = ConfigDict(frozen=True)
    seq: int
    at: datetime
    principal_kind: PrincipalKind
    principal_id: str | None
    organisation_id: str | None
    credential_id: str | None
    action: str
    case_id: str | None
    person_id: str | None
    outcome: Outcome
    status: int | None
    request_id: str
    reason: str | None


async def record_access(conn: Conn, access: Access) -> None:
    await record_accesses(conn, [access])


async def record_accesses(conn: Conn, accesses: Sequence[Access]) -> None:
    """All of `accesses` in one statement, in their order: one round trip for a request
    that read many cases, and all of its rows or none (no half-logged answer)."""
    if not accesses:
        return
    columns: list[list[str | int | None]] = [[] for _ in range(11)]
    for access in accesses:
        who = access.accessor
        for column, value in zip(columns, (
                who.kind, who.id, who.organisation_id, who.credential_id, access.action,
                access.case_id, access.person_id, access.outcome.value, access.status,
                access.request_id, access.reason), strict=True):
            column.append(value)
    await conn.execute(
        """INSERT INTO access_log (principal_kind, principal_id, organisation_id,
               credential_id, action, case_id, person_id, outcome, status, request_id,
               reason)
           SELECT principal_kind, principal_id, organisation_id, credential_id, action,
                  case_id, person_id, outcome, status, request_id, reason
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                       $6::text[], $7::text[], $8::text[], $9::int[], $10::text[],
                       $11::text[])
                WITH ORDINALITY AS row (principal_kind, principal_id, organisation_id,
                    credential_id, action, case_id, person_id, outcome, status,
                    request_id, reason, n)
           ORDER BY n""",
        *columns)


async def read_access_log(conn: Conn, *, case_id: str | None = None,
                          principal_id: str | None = None, since: datetime | None = None,
                          limit: int = 1000) -> list[LoggedAccess]:
    """Matching rows, oldest first (the latest `limit` of them)."""
    rows = await conn.fetch(
        """SELECT * FROM (
               SELECT * FROM access_log
               WHERE ($1::text IS NULL OR case_id = $1)
                 AND ($2::text IS NULL OR principal_id = $2)
                 AND ($3::timestamptz IS NULL OR at >= $3)
               ORDER BY seq DESC LIMIT $4) latest
           ORDER BY seq""",
        case_id, principal_id, since, limit)
    return [LoggedAccess.model_validate(dict(r)) for r in rows]
