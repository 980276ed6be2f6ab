"""The gateway's door: who is calling, the access log row of each request, and
idempotency keys per principal.

Each route about a case depends on `Door.enter(action)`: it records what the request is
about (action, case), then authenticates the caller, answering 401 when that fails. The
middleware (`Door.log_requests`) writes one access-log row per such request once its
answer is known: allowed, refused (403), unauthenticated (401) or failed (anything else),
with the reason a refusal gave. A read whose row cannot be written is not answered (503):
no access to case data goes unlogged.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from fastapi import Request, Response, Security, status
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.access import Principal
from infra.access_log import Access, Accessor, Outcome, record_accesses
from infra.authentication import API_KEY_HEADER, Authenticator, UnauthenticatedError
from infra.idempotency import ClaimKind, claim_key, complete_key, fingerprint, release_key
from infra.structured_logging import get_logger
from infra.tokens import IdentityProviderUnavailableError
from workers.problems import RETRY_AFTER_UNAVAILABLE, problem
from workers.rate_limit import RateLimiter, retry_after

log = get_logger("regie.gateway.access")

REQUEST_ID_HEADER = "X-Request-Id"
# Only a well-formed case id goes into the log: the path is the caller's to choose.
_LOGGABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

# Declared so the OpenAPI document names both schemes; the checking is `Door.enter`'s.
partner_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="PartnerApiKey",
                           description="A partner organisation's API key "
                                       "(`regie partner key create ORG`).")
professional_token = HTTPBearer(auto_error=False, scheme_name="ProfessionalToken",
                                bearerFormat="JWT",
                                description="A professional's token from the region's "
                                            "identity provider (locally: `regie token "
                                            "issue --as ID`).")


class AccessLogMiddleware:
    """`Door.log_requests` around the app. Plain ASGI: Starlette's `BaseHTTPMiddleware`
    (`app.middleware("http")`) passes every answer through memory streams and a task
    group, which cost over a millisecond a request."""

    def __init__(self, app: ASGIApp, door: Door) -> None:
        self._app = app
        self._door = door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        await self._door.log_requests(self._app, scope, receive, send)


class GatewayError(Exception):
    """An answer the gateway gives itself (401, 404, 409, 429, 503, ...), in its error
    shape; `headers` such as `Retry-After` go with it."""

    def __init__(self, status_code: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers


@dataclass
class Visit:
    """What one request is about, for its access-log row."""

    action: str
    case_id: str | None
    principal: Principal | None = None
    reason: str | None = None
    reads: bool = False  # case data leaves with the answer, whatever the method
    # Further cases whose data leaves with the answer (a list of cases): one access-log
    # row each, with this request's id.
    cases_read: list[str] = field(default_factory=list)


def visit_of(request: Request) -> Visit:
    visit = getattr(request.state, "visit", None)
    if not isinstance(visit, Visit):
        raise RuntimeError("the route did not go through Door.enter")
    return visit


def note_reason(request: Request, reason: str) -> None:
    """The message of a refusal or failure, for the access log."""
    visit = getattr(request.state, "visit", None)
    if isinstance(visit, Visit):
        visit.reason = reason


def _outcome(status_code: int) -> Outcome:
    if status_code < 400:
        return Outcome.ALLOWED
    if status_code == status.HTTP_401_UNAUTHORIZED:
        return Outcome.UNAUTHENTICATED
    if status_code == status.HTTP_403_FORBIDDEN:
        return Outcome.REFUSED
    return Outcome.FAILED


class Door:
    def __init__(self, authenticator: Callable[[], Authenticator],
                 pool: Callable[[], asyncpg.Pool], limiter: RateLimiter | None = None,
                 deadline_seconds: float | None = None) -> None:
        # Callables: the pool exists only once the app's lifespan has started.
        self._authenticator = authenticator
        self._pool = pool
        self._limiter = limiter
        self._deadline = deadline_seconds

    def enter(self, action: str, *, session_cookie: str | None = None,
              reads: bool = False) -> Callable[..., Awaitable[Principal]]:
        """A dependency: authenticate the caller of `action` and note the visit.

        `session_cookie`: a cookie that may carry a professional's bearer token instead
        of the Authorization header (the codec server's, for the Web UI in a browser).
        `reads`: the action reads case data though it is not a GET (decoding payloads),
        so it is not answered when its access-log row cannot be written."""

        async def dependency(
            request: Request,
            api_key: Annotated[str | None, Security(partner_key)],
            bearer: Annotated[Any, Security(professional_token)],
        ) -> Principal:
            visit = self._visit(request, action, reads)
            authorization = request.headers.get("Authorization")
            if authorization is None and api_key is None and session_cookie is not None:
                token = request.cookies.get(session_cookie)
                authorization = f"Bearer {token}" if token else None
            return await self._admit(visit, self._authenticator().principal(
                api_key, authorization))

        return dependency

    def enter_session(self, action: str, session: Callable[[Request], Awaitable[Principal]]
                      ) -> Callable[..., Awaitable[Principal]]:
        """A dependency like `enter`, for a browser's page or form: the caller is the
        professional of the signed session `session` reads from the request (the
        workspace's cookie). The same access log, the same rate limit."""

        async def dependency(request: Request) -> Principal:
            visit = self._visit(request, action, reads=False)
            return await self._admit(visit, session(request))

        return dependency

    @staticmethod
    def _visit(request: Request, action: str, reads: bool) -> Visit:
        case_id = request.path_params.get("case_id")
        visit = Visit(action=action, case_id=case_id if isinstance(case_id, str)
                      and _LOGGABLE_ID.match(case_id) else None, reads=reads)
        request.state.visit = visit
        return visit

    async def _admit(self, visit: Visit, principal: Awaitable[Principal]) -> Principal:
        try:
            visit.principal = await principal
        except UnauthenticatedError as error:
            raise GatewayError(status.HTTP_401_UNAUTHORIZED, "unauthenticated", str(error),
                               headers={"WWW-Authenticate": "Bearer"}) from None
        except IdentityProviderUnavailableError as error:
            raise GatewayError(status.HTTP_503_SERVICE_UNAVAILABLE,
                               "identity_provider_unavailable", str(error),
                               headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
                               ) from None
        if self._limiter is not None:
            wait = self._limiter.admit(visit.principal.actor)
            if wait is not None:
                raise GatewayError(
                    status.HTTP_429_TOO_MANY_REQUESTS, "rate_limited",
                    f"too many requests from {visit.principal.actor}; slow down and "
                    f"retry after {retry_after(wait)} s",
                    headers={"Retry-After": retry_after(wait)})
        return visit.principal

    async def log_requests(self, app: ASGIApp, scope: Scope, receive: Receive,
                           send: Send) -> None:
        """Answer the request with `app` and write its access-log rows before the answer
        leaves (`AccessLogMiddleware`): a read whose rows cannot be written is answered
        503 instead. Past the deadline, before `app` has answered, the answer is 503 and
        whatever `app` still answers is dropped (it runs on to its end: a command under way
        is not cut off halfway)."""
        request = Request(scope)
        request_id = uuid.uuid4().hex
        request.state.request_id = request_id
        loop = asyncio.get_running_loop()
        started: asyncio.Future[Message] = loop.create_future()
        # Whether `app`'s answer goes out (True) or is dropped (False): decided once the
        # access log has its rows.
        passes: asyncio.Future[bool] = loop.create_future()

        async def held(message: Message) -> None:
            if message["type"] == "http.response.start":
                if not started.done():
                    started.set_result(message)
                if await passes:
                    MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
                    await send(message)
            elif passes.done() and passes.result():
                await send(message)

        async def answer() -> None:
            await app(scope, receive, held)

        # A task of its own, so the deadline ends the wait for its answer, not its work.
        answering = asyncio.create_task(answer())
        first: list[asyncio.Future[Any]] = [started, answering]
        try:
            try:
                async with asyncio.timeout(self._deadline):
                    await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            except TimeoutError:
                # A deadline of the gateway's own: the caller hears within it, and resends
                # with the same Idempotency-Key (a command still under way is done once).
                log.warning("request_deadline_passed", request_id=request_id,
                            path=request.url.path)
                note_reason(request, "the request took longer than the gateway's deadline")
                own: Response | None = problem(
                    status.HTTP_503_SERVICE_UNAVAILABLE, "deadline_passed",
                    "the request took too long; resend it with the same Idempotency-Key",
                    headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})
            else:
                if not started.done():  # `app` ended without answering
                    answering.result()  # its error, as it raised it
                    raise RuntimeError("No response returned.")
                own = None
            status_code = own.status_code if own is not None else started.result()["status"]
            if not await self._logged(request, request_id, status_code):
                own = problem(
                    status.HTTP_503_SERVICE_UNAVAILABLE, "access_log_unavailable",
                    "the access log cannot be written; retry later",
                    headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})
            passes.set_result(own is None)
            if own is not None:
                own.headers[REQUEST_ID_HEADER] = request_id
                await own(scope, receive, send)
                with contextlib.suppress(Exception):  # its answer was not sent
                    await answering
            else:
                await answering
        finally:
            if not answering.done():  # this request was cancelled (the caller left)
                answering.cancel()

    async def _logged(self, request: Request, request_id: str, status_code: int) -> bool:
        """Write the request's access-log rows; False when a read could not be logged (the
        case data must not leave then)."""
        visit = getattr(request.state, "visit", None)
        if not isinstance(visit, Visit):
            return True
        access = Access(accessor=Accessor.of(visit.principal), action=visit.action,
                        outcome=_outcome(status_code), request_id=request_id,
                        case_id=visit.case_id, status=status_code, reason=visit.reason)
        also = [Access(accessor=access.accessor, action=visit.action,
                       outcome=access.outcome, request_id=request_id, case_id=case_id,
                       status=status_code, reason=visit.reason)
                for case_id in visit.cases_read]
        try:
            async with self._pool().acquire() as conn:
                await record_accesses(conn, [access, *also])
        except (OSError, asyncpg.PostgresError) as error:
            log.error("access_log_unwritable", request_id=request_id,
                      action=visit.action, error=type(error).__name__)
            # Fail closed: case data leaves only with its access on record.
            return not (request.method == "GET" or visit.reads)
        return True

    async def once(self, principal: Principal, key: str, action: str, case_id: str | None,
                   request: BaseModel, success_status: int,
                   run: Callable[[], Awaitable[BaseModel]]) -> Any:
        """Run `run` once per (principal, key); the same key with the same request
        returns the first answer, with another request 409."""
        scope = principal.actor
        print_ = fingerprint(action, case_id, request.model_dump_json())
        async with self._pool().acquire() as conn:
            claim = await claim_key(conn, scope, key, print_)
        if claim.kind is ClaimKind.CONFLICT:
            raise GatewayError(status.HTTP_409_CONFLICT, "idempotency_key_reused",
                            "this Idempotency-Key was used before for a different request; "
                            "use a new key for a new request (nothing was done)")
        if claim.kind is ClaimKind.REPLAY:
            return JSONResponse(status_code=claim.status or success_status,
                                content=claim.response)
        try:
            result = await run()
        except Exception:
            # Refused, invalid or the engine down: the key is free for a corrected
            # request. (A cancelled request keeps its claim; resending it carries on.)
            async with self._pool().acquire() as conn:
                await release_key(conn, scope, key, print_)
            raise
        async with self._pool().acquire() as conn:
            await complete_key(conn, scope, key, success_status, result.model_dump(mode="json"))
        return result
