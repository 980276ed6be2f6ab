"""The door's access-log middleware on its own: each answer leaves with its request id and
only after its rows are written; a read whose rows cannot be written is answered 503, a
write keeps its answer; past the deadline the answer is 503 and the route still runs to
its end."""

# No `from __future__ import annotations`: FastAPI evaluates the routes' annotations, which
# name the local `door`.

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, cast

import asyncpg
import httpx
from fastapi import Depends, FastAPI, Request

from domain.access import Principal, ProfessionalPrincipal
from infra.authentication import Authenticator
from workers.access_control import REQUEST_ID_HEADER, AccessLogMiddleware, Door

ME = ProfessionalPrincipal(professional_id="pro-1", organisation_id="wijkteam")


class Conn:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    async def execute(self, _sql: str, *columns: list[Any]) -> None:
        self._rows.extend(zip(*columns, strict=True))


class Pool:
    """What the door needs of a pool: rows written, or (`down`) the database gone."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.rows: list[tuple[Any, ...]] = []

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Conn]:
        if self.down:
            raise OSError("connection refused")
        yield Conn(self.rows)


def _app(pool: Pool, deadline: float = 30) -> tuple[FastAPI, list[str]]:
    def no_authenticator() -> Authenticator:
        raise AssertionError("sessions only here")

    door = Door(no_authenticator, lambda: cast(asyncpg.Pool, pool), None, deadline)
    finished: list[str] = []

    async def session(_: Request) -> Principal:
        return ME

    app = FastAPI()
    app.add_middleware(AccessLogMiddleware, door=door)

    @app.get("/v1/trajectories/{case_id}")
    async def read(case_id: str,
                   _: Annotated[Principal, Depends(door.enter_session("read_state",
                                                                      session))]
                   ) -> dict[str, str]:
        return {"case_id": case_id, "name": "Ouder Een"}

    @app.post("/v1/trajectories/{case_id}/slow")
    async def slow(case_id: str,
                   _: Annotated[Principal, Depends(door.enter_session("slow", session))]
                   ) -> dict[str, str]:
        await asyncio.sleep(0.2)
        finished.append(case_id)
        return {"case_id": case_id}

    return app, finished


async def _call(app: FastAPI, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gateway") as http:
        return await http.request(method, path)


async def test_an_answer_leaves_with_its_request_id_and_its_row() -> None:
    pool = Pool()
    app, _ = _app(pool)
    answer = await _call(app, "GET", "/v1/trajectories/c-1")
    assert answer.status_code == 200 and answer.json()["name"] == "Ouder Een"
    [row] = pool.rows
    assert row[0:2] == ("professional", "pro-1")
    assert (row[4], row[5], row[7], row[8]) == ("read_state", "c-1", "allowed", 200)
    assert row[9] == answer.headers[REQUEST_ID_HEADER]


async def test_a_read_that_cannot_be_logged_is_not_answered_a_write_is() -> None:
    app, finished = _app(Pool(down=True))
    refused = await _call(app, "GET", "/v1/trajectories/c-1")
    assert refused.status_code == 503
    assert refused.json()["error"] == "access_log_unavailable"
    assert "Ouder Een" not in refused.text
    assert refused.headers["Retry-After"] and refused.headers[REQUEST_ID_HEADER]
    written = await _call(app, "POST", "/v1/trajectories/c-2/slow")
    assert written.status_code == 200 and written.headers[REQUEST_ID_HEADER]
    assert finished == ["c-2"]


async def test_past_the_deadline_the_answer_is_503_and_the_route_runs_on() -> None:
    pool = Pool()
    app, finished = _app(pool, deadline=0.01)
    late = await _call(app, "POST", "/v1/trajectories/c-3/slow")
    assert late.status_code == 503 and late.json()["error"] == "deadline_passed"
    assert late.headers["Retry-After"] and late.headers[REQUEST_ID_HEADER]
    [row] = pool.rows
    assert (row[4], row[7], row[8]) == ("slow", "failed", 503)
    assert row[10] == "the request took longer than the gateway's deadline"
    assert finished == ["c-3"]  # the command was not cut off halfway
