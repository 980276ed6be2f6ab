"""The rows of one request go into the access log together: in their order, all or none."""

from __future__ import annotations

import asyncpg
import pytest

from infra.access_log import Access, Accessor, Outcome, read_access_log, record_accesses

WHO = Accessor(kind="professional", id="pro-1", organisation_id="wijkteam")


def _access(case_id: str, accessor: Accessor = WHO) -> Access:
    return Access(accessor=accessor, action="read_state", outcome=Outcome.ALLOWED,
                  request_id="req-1", case_id=case_id, status=200)


async def test_the_rows_of_a_request_are_written_in_their_order(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await record_accesses(conn, [])
        await record_accesses(conn, [_access("c-1"), _access("c-2"), _access("c-3")])
        rows = await read_access_log(conn, principal_id="pro-1")
    assert [(r.case_id, r.action, r.outcome, r.status, r.request_id, r.organisation_id)
            for r in rows] == [(f"c-{n}", "read_state", Outcome.ALLOWED, 200, "req-1",
                                "wijkteam") for n in (1, 2, 3)]


async def test_a_row_the_table_refuses_leaves_none_of_its_request(pool: asyncpg.Pool) -> None:
    # A named principal must have an id: the table's CHECK refuses the last row.
    nameless = Accessor.model_construct(kind="professional", id=None)
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await record_accesses(conn, [_access("c-1"), _access("c-2", nameless)])
        assert await read_access_log(conn) == []
