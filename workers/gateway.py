"""The HTTP gateway: partners refer and signal, professionals act on their cases.

Partners (schools, GPs, police) refer a family with `POST /v1/referrals`; the gateway
validates the referral with the same domain rules the workflow applies, then starts the
family's trajectory workflow in Temporal. Professionals give the commands of
`domain/command_table.py`. Every request is authenticated (`infra/authentication.py`),
checked against the rights of `domain/access.py` and logged in the access log
(`infra/access_log.py`); idempotency keys are the caller's own (`infra/idempotency.py`).
Its state lives in PostgreSQL and Temporal, so any number of gateways can run side by
side.

    python -m workers.gateway          # uvicorn on REGIE_GATEWAY_HOST:REGIE_GATEWAY_PORT

The OpenAPI document is at `/openapi.json`, the interactive docs at `/docs`.
"""

# No `from __future__ import annotations`: the routes inside `create_app` annotate their
# parameters with dependencies of this app (`door.enter(...)`), which FastAPI must be able
# to evaluate, and string annotations could not see those local names.

import asyncio
import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any, Literal, TypeVar

import asyncpg
import uvicorn
from fastapi import Depends, FastAPI, Header, Path, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.access import (
    AccessRefused,
    CaseRole,
    DirectoryFacts,
    PartnerPrincipal,
    Principal,
    ProfessionalPrincipal,
    Read,
    check_command,
    check_read,
    check_referral,
    check_signal,
    professionals_named,
    roles_on_case,
)
from domain.case_view import CaseView, case_view
from domain.command_table import COMMAND_TABLE, CommandRow, decide
from domain.commands import Command, PartnerSignal, ReferFamily, SignalKind
from domain.decide import decide_referral
from domain.decision import DecisionContext
from domain.errors import DomainError
from domain.events import RecordedEvent
from domain.model import Frozen, Name, Text
from domain.persons import PartnerReferral
from domain.policy import RegionPolicy
from domain.signal_quota import signal_quota_wait
from domain.trajectory import Phase, TrajectoryState, fold, stream_id_for
from infra.authentication import Authenticator
from infra.database import create_pool, prepare_database
from infra.directory import access_facts
from infra.directory import organisation as directory_organisation
from infra.directory import professional as directory_professional
from infra.event_store import PostgresEventStore, open_event_store
from infra.garbage_collection import tune_for_throughput
from infra.idempotency import scoped_key
from infra.key_wrapping import key_wrapper_for
from infra.persons import PersonToMatch, match_family
from infra.policy_file import policy_from_env
from infra.settings import Settings
from infra.structured_logging import configure_logging, get_logger
from infra.temporal import connect
from workers.access_control import (
    AccessLogMiddleware,
    Door,
    GatewayError,
    note_reason,
    visit_of,
)
from workers.api_docs import mount_api_docs
from workers.case_desk import CaseDesk, RolesOf
from workers.codec_server import mount_codec_server
from workers.problems import (
    PROBLEM_JSON,
    RETRY_AFTER_BUSY,
    RETRY_AFTER_UNAVAILABLE,
    ErrorBody,
    FieldError,
    problem,
)
from workers.rate_limit import RateLimiter, retry_after
from workers.request_guard import RequestGuard, malformed_json_problem
from workers.rights_states import RightsStates
from workers.workspace import is_workspace, mount_workspace
from workflows.search_attributes import at_referral
from workflows.trajectory import (
    CommandResult,
    FamilyTrajectoryWorkflow,
    ReferInput,
    StartTrajectoryInput,
    workflow_id_for,
)

log = get_logger("regie.gateway")

# A query is answered by a worker; without one it would hang until Temporal gives up.
QUERY_TIMEOUT = timedelta(seconds=10)
HEALTH_TIMEOUT = timedelta(seconds=2)
UPDATE_TIMEOUT = timedelta(seconds=30)
# The same rule as `ReferFamily.case_id`, so a path that could never match a case is a
# clear 422 instead of a Temporal round trip.
CASE_ID_PATTERN = r"^[A-Za-z0-9._-]+$"


# -- the JSON contract -------------------------------------------------------------------


class Health(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: Literal["ok"] = "ok"
    temporal_reachable: bool


class ReferredPerson(BaseModel):
    model_config = ConfigDict(frozen=True)
    ref: str = Field(description="Your reference for the member, as you sent it.")
    person_id: str = Field(description="Regie's id for the person.")


class ReferralAccepted(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str = Field(description="Regie's id for the family's trajectory: use it to "
                                     "signal and to read the status.")
    workflow_id: str
    status: Literal["accepted"] = "accepted"
    version: int
    recorded: bool = Field(description="False when this referral was already recorded "
                                       "(a retry or a duplicate): nothing was done twice.")
    joined: bool = Field(default=False,
                         description="True when the family already had an open trajectory "
                                     "and the referral joined it.")
    members: tuple[ReferredPerson, ...] = ()


class SignalBody(Frozen):
    organisation: Name | None = Field(
        default=None,
        description="Your organisation's directory id; optional, as the API key says it. "
        "Naming another organisation is refused.")
    kind: SignalKind
    description: Text


class SignalReceived(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str
    status: Literal["received"] = "received"


class Coordinator(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    organisation: str


class TrajectoryStatus(BaseModel):
    """What a partner may know of a case it referred or works on: not the members, not
    the consents, not the plan."""

    model_config = ConfigDict(frozen=True)
    case_id: str
    phase: Phase | None
    coordinator: Coordinator | None
    next_evaluation_date: date | None


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    # Every route may also answer 413 (its body too large) and 500; the media type is
    # set to problem+json for all errors by `_problem_openapi`.
    return {code: {"model": ErrorBody, "description": HTTPStatus(code).phrase}
            for code in sorted({*codes, 413, 500})}


# -- Temporal ------------------------------------------------------------------------------


class TemporalLink:
    """The gateway's Temporal client, connected lazily.

    The gateway starts even when Temporal is down (so `/health` can say so, and a load
    balancer can tell the two apart); requests then retry the connection themselves.
    """

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(self._settings)
                except (RuntimeError, RPCError) as err:
                    raise GatewayError(
                        status.HTTP_503_SERVICE_UNAVAILABLE,
                        "temporal_unavailable",
                        "the workflow engine (Temporal at "
                        f"{self._settings.effective_temporal_address}) cannot be reached; "
                        "retry later",
                        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
                    ) from err
            return self._client


def _unavailable(err: RPCError, case_id: str | None = None) -> GatewayError:
    """A transient answer of Temporal as the caller should see it: busy (429) when the
    case has too much in flight (Temporal limits the updates running on one workflow),
    else unavailable (503); both say when to retry."""
    if err.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        about = f"case {case_id}" if case_id is not None else "this case"
        return GatewayError(
            status.HTTP_429_TOO_MANY_REQUESTS, "case_busy",
            f"{about} is handling other requests right now; nothing was done, retry "
            "shortly with the same Idempotency-Key",
            headers={"Retry-After": str(RETRY_AFTER_BUSY)})
    return GatewayError(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "temporal_unavailable",
        f"the workflow engine did not answer ({err.status.name}); retry later",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
    )


_TRANSIENT = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
              RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.CANCELLED}


# -- validation errors -------------------------------------------------------------------


def _field_path(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc]
    # "body" says nothing to a partner who sent only a body; headers and paths keep
    # their prefix so "header.Idempotency-Key" is unambiguous.
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def _field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """One entry per field, without echoing the input.

    FastAPI's default body repeats the submitted values; here those are names, birth
    dates and free text about children, which do not belong in error logs and proxies.
    Personal fields are unions (`str | Erased`), so pydantic reports one error per union
    member; the last loc element then names the member, and only the first message for a
    field is kept.
    """
    seen: dict[str, FieldError] = {}
    for error in errors:
        loc = tuple(error.get("loc", ()))
        ctx_member = loc[-1] if loc and isinstance(loc[-1], str) and loc[-1] in (
            "str", "date", "Erased") else None
        path = _field_path(loc[:-1] if ctx_member is not None else loc)
        if path not in seen:
            seen[path] = FieldError(field=path, message=str(error.get("msg", "invalid")))
    return list(seen.values())


def _answer(request: Request, status_code: int, code: str, message: str,
            fields: list[FieldError] | None = None,
            headers: Mapping[str, str] | None = None) -> Response:
    """An error in the gateway's one shape, or, for the workspace's pages, as a page of
    the workspace (a browser reads HTML; the message is the same)."""
    workspace = getattr(request.app.state, "workspace", None)
    if workspace is not None and is_workspace(request):
        page: Response = workspace.error_page(request, status_code, message, headers)
        return page
    return problem(status_code, code, message, fields=fields, headers=headers)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    invalid_json = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
    if invalid_json is not None:
        # The edge (workers/request_guard.py) refuses such a body before a route sees it;
        # this is the same answer for a body that reached a route some other way.
        reason = (invalid_json.get("ctx") or {}).get("error", "invalid JSON")
        note_reason(request, reason)
        return malformed_json_problem(f"the body is not valid JSON: {reason}")
    fields = _field_errors(exc.errors())
    message = "; ".join(f"{f.field}: {f.message}" for f in fields)
    note_reason(request, message)
    return _answer(request, status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_request",
                   message, fields=fields)


async def _on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    note_reason(request, exc.message)
    fields = [] if exc.field is None else [FieldError(field=exc.field, message=exc.message)]
    return _answer(request, status.HTTP_422_UNPROCESSABLE_CONTENT, exc.code, exc.message,
                   fields=fields)


async def _on_access_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AccessRefused)
    note_reason(request, exc.message)
    return _answer(request, status.HTTP_403_FORBIDDEN, exc.code, exc.message)


async def _on_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    note_reason(request, exc.message)
    return _answer(request, exc.status_code, exc.code, exc.message, headers=exc.headers)


# Starlette's own answers (no such route, method not allowed, a body it cannot read),
# which FastAPI would give as {"detail": ...}.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    if exc.status_code == status.HTTP_404_NOT_FOUND:
        message = f"there is no route {request.url.path!r}; see /openapi.json"
    elif exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        message = f"{request.method} is not allowed on this route; see /openapi.json"
    else:
        # Starlette's detail is its own text (never the caller's input).
        message = str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
    note_reason(request, message)
    return _answer(request, exc.status_code, code, message, headers=exc.headers)


def _edge_answers(path: str, operation: dict[str, Any]) -> set[int]:
    """What any route may answer before its own code runs, by the edge's rules
    (workers/request_guard.py, workers/access_control.py): 413 and 500 everywhere, 400 for
    a body that is no JSON document, and for every route behind the door 429 (a caller's
    rate limit) and 503 (the request's deadline, or the access log unreachable)."""
    codes = {413, 500}
    if "requestBody" in operation:
        codes.add(400)
    if path != "/health":
        codes |= {429, 503}
    return codes


def _problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document with every error answer as application/problem+json in the
    gateway's shape (FastAPI would declare its own 422 body, which is never sent)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, summary=app.summary,
                               description=app.description, routes=app.routes)
        error_schema = {"$ref": "#/components/schemas/ErrorBody"}
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                for code in _edge_answers(path, operation):
                    answers.setdefault(str(code), {"description": HTTPStatus(code).phrase})
                for code, answer in answers.items():
                    if code.isdigit() and int(code) >= 400:
                        answer["content"] = {PROBLEM_JSON: {"schema": error_schema}}
                        if code == "422":
                            answer["description"] = "Malformed request or refused by a rule"
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    return openapi


# -- the app -------------------------------------------------------------------------------


@dataclass
class Resources:
    """What the gateway opens at start-up: the database pool and the authenticator."""

    pool: asyncpg.Pool | None = None
    authenticator: Authenticator | None = None
    store: PostgresEventStore | None = None

    def require_store(self) -> PostgresEventStore:
        if self.store is None:
            raise RuntimeError("the gateway's event store is not open")
        return self.store

    def require_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("the gateway's database pool is not open")
        return self.pool

    def require_authenticator(self) -> Authenticator:
        if self.authenticator is None:
            raise RuntimeError("the gateway's authenticator is not set up")
        return self.authenticator


def create_app(settings: Settings | None = None, client: Client | None = None,
               store: PostgresEventStore | None = None, policy: RegionPolicy | None = None
               ) -> FastAPI:
    """Build the gateway. Tests pass a `client` (e.g. from a `WorkflowEnvironment`), a
    `store` and a `policy`; otherwise they come from the settings and the environment."""
    settings = settings or Settings()
    region_policy = policy or policy_from_env()
    link = TemporalLink(settings, client)
    resources = Resources(pool=None if store is None else store.pool, store=store)
    secret: list[bytes] = []

    def pseudonym_key() -> bytes:
        # Read once (from settings, or the local secret file under the data dir).
        if not secret:
            secret.append(settings.pseudonym_key())
        return secret[0]
    door = Door(resources.require_authenticator, resources.require_pool,
                RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
                settings.request_deadline_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        server = None
        key_wrapper = None
        if resources.store is None:
            dsn, server = await prepare_database(settings.database_url, settings.data_dir,
                                                 settings.database_name)
            resources.pool = await create_pool(dsn)
            key_wrapper = key_wrapper_for(settings)
            resources.store = await open_event_store(resources.pool, key_wrapper)
        assert resources.pool is not None
        resources.authenticator = Authenticator(settings, resources.pool)
        try:
            await link.client()
        except GatewayError as err:
            log.warning("temporal_unreachable_at_startup", reason=err.message)
        log.info("gateway_started", temporal=settings.effective_temporal_address,
                 task_queue=settings.task_queue, region=region_policy.region,
                 identity_provider=settings.oidc_issuer or "dev issuer"
                 if settings.dev_issuer_enabled else "none")
        try:
            yield
        finally:
            if store is None and resources.pool is not None:
                await resources.pool.close()
            if key_wrapper is not None:
                await key_wrapper.aclose()
            del server  # the embedded server stops with its last handle

    app = FastAPI(
        title="Regie gateway",
        version="1",
        summary="Refer families to Regie, follow their trajectory (1 Gezin 1 Plan) and act "
                "on your cases.",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        # /docs is served from the project's own copy of Swagger UI (works offline).
        docs_url=None,
        redoc_url=None,
    )
    mount_api_docs(app)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(AccessRefused, _on_access_refused)
    app.add_exception_handler(GatewayError, _on_gateway_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    # Inside the access log's middleware (added after it is outer): a refused body still
    # gets its X-Request-Id, and no route was entered, so nothing is written.
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware, door=door)
    app.openapi = _problem_openapi(app)  # type: ignore[method-assign]

    def named_by(state: TrajectoryState | None, principal: Principal) -> set[str]:
        """The professionals whose directory entries the access to this case needs."""
        named = professionals_named(state) if state is not None else set()
        if isinstance(principal, ProfessionalPrincipal):
            named.add(principal.professional_id)
        return named

    async def directory_facts(named: set[str]) -> DirectoryFacts:
        async with resources.require_pool().acquire() as conn:
            return await access_facts(conn, named, region_policy.region)

    async def facts(state: TrajectoryState | None, principal: Principal) -> DirectoryFacts:
        return await directory_facts(named_by(state, principal))

    async def case_events(case_id: str) -> list[RecordedEvent]:
        """The case's events from the store, the source of truth (written before the
        workflow applies them), with personal data as it is now: an erased person's
        fields read as erased."""
        return await resources.require_store().read_stream(stream_id_for(case_id))

    async def roles(case_id: str, principal: Principal,
                    events: list[RecordedEvent] | None = None
                    ) -> tuple[TrajectoryState | None, frozenset[CaseRole], DirectoryFacts]:
        """The case (None when there is none) and the caller's roles on it; `events`:
        the case's events when the caller has read them already."""
        if events is None:
            events = await case_events(case_id)
        state = fold(events) if events else None
        directory = await facts(state, principal)
        return state, roles_on_case(principal, state, directory), directory

    rights_states = RightsStates(lambda case_id, after: resources.require_store()
                                 .read_stream_withheld(stream_id_for(case_id), after))

    async def command_roles(case_id: str, principal: Principal
                            ) -> tuple[TrajectoryState | None, frozenset[CaseRole],
                                       DirectoryFacts]:
        """`roles` for a command: the same roles, from the case with its personal fields
        withheld (no rule of a command's rights reads them; see workers/rights_states.py),
        and the directory asked while the case is read. The state is for the rights check
        only: it never leaves the gateway."""
        # Who the case named when last seen here, asked for at once; facts for more
        # professionals than needed answer the same (each is looked up by id).
        guess = named_by(rights_states.kept(case_id), principal)
        state, directory = await _together(rights_states.state(case_id),
                                           directory_facts(guess))
        named = named_by(state, principal)
        if not named <= guess:  # the case named someone new since: ask for them too
            directory = await directory_facts(named)
        return state, roles_on_case(principal, state, directory), directory

    async def readable(case_id: str, principal: Principal, read: Read) -> TrajectoryState:
        state, case_roles, _ = await roles(case_id, principal)
        check_read(principal, case_roles, read, case_id)
        if state is None:  # only an operator gets this far without a case
            raise GatewayError(status.HTTP_404_NOT_FOUND, "trajectory_not_found",
                               f"there is no trajectory for case {case_id}")
        return state

    @app.get("/health", tags=["operations"])
    async def health() -> Health:
        """The gateway answers; `temporal_reachable` says whether it can reach Temporal."""
        try:
            temporal = await link.client()
            reachable = await temporal.service_client.check_health(timeout=HEALTH_TIMEOUT)
        except (GatewayError, RPCError):
            reachable = False
        return Health(temporal_reachable=reachable)

    @app.post(
        "/v1/referrals",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["partners"],
        responses=_responses(401, 403, 409, 422, 503),
        response_model=ReferralAccepted,
    )
    async def refer_family(
        request: Request,
        body: PartnerReferral,
        idempotency_key: IdempotencyKey,
        principal: Annotated[Principal, Depends(door.enter("refer"))],
    ) -> Any:
        """Refer a family (partners, with their API key). Opens the family's trajectory,
        or joins the one already open.

        Regie gives the persons and the case their ids (in the answer); your references
        are kept as references. A family never gets two trajectories: when a parent and
        a child of this referral are a parent and a child in an open trajectory (by BSN,
        or by name and birth date), the referral joins it, whoever referred before. A
        referral that shares only some persons with an open trajectory opens its own,
        marked for the team to look at. Resending a request with the same
        `Idempotency-Key` returns the first answer; the same key with another request is
        refused (409).
        """
        check_referral(principal, body.organisation or principal.id)
        organisation = principal.id
        # Cheap first check of the referral's own rules (with the partner's references as
        # ids), before any person is looked up or Temporal is reached; the workflow's
        # update validator checks again against the trajectory's state.
        decide_referral(ReferFamily(case_id="provisional", referral=body.referral(
            organisation, {m.ref: m.ref for m in body.members})), TrajectoryState())
        visit = visit_of(request)

        async def run() -> ReferralAccepted:
            temporal = await link.client()

            async def is_open(case_id: str) -> bool:
                return await _trajectory_open(temporal, case_id)

            async with resources.require_pool().acquire() as conn:
                match = await match_family(conn, pseudonym_key(), [
                    PersonToMatch(ref=m.ref, role=m.role, identifiers=m.identifiers())
                    for m in body.members], is_open)
            visit.case_id = match.case_id
            command = ReferFamily(case_id=match.case_id, referral=body.referral(
                organisation, match.person_ids, match.possible_matches))
            accepted = await _refer(link, settings, command, principal,
                                    scoped_key(principal.actor, idempotency_key),
                                    region_policy.region)
            return accepted.model_copy(update={
                "joined": match.joined,
                "members": tuple(ReferredPerson(ref=ref, person_id=pid)
                                 for ref, pid in match.person_ids.items())})

        answer = await door.once(principal, idempotency_key, "refer", None, body,
                                 status.HTTP_202_ACCEPTED, run)
        if isinstance(answer, JSONResponse) and visit.case_id is None:
            # The first answer again: its case is the one this request is about.
            visit.case_id = json.loads(bytes(answer.body)).get("case_id")
        return answer

    @app.get(
        "/v1/trajectories/{case_id}",
        tags=["professionals"],
        responses=_responses(401, 403, 404, 422, 503),
    )
    async def get_trajectory(
        case_id: CaseIdPath,
        principal: Annotated[Principal, Depends(door.enter(Read.STATE.value))],
    ) -> CaseView:
        """The whole case: for its team, its intake, the managers and process director on
        its ladder, and operators. Partners read `/status`."""
        return case_view(await readable(case_id, principal, Read.STATE))

    @app.get(
        "/v1/trajectories/{case_id}/status",
        tags=["partners"],
        responses=_responses(401, 403, 404, 422, 503),
    )
    async def get_status(
        case_id: CaseIdPath,
        principal: Annotated[Principal, Depends(door.enter(Read.STATUS.value))],
    ) -> TrajectoryStatus:
        """The minimal status of a case you referred or whose team includes your
        organisation: its phase, its coordinator and the next evaluation date."""
        state = await readable(case_id, principal, Read.STATUS)
        coordinator = None
        if state.coordinator_id is not None:
            async with resources.require_pool().acquire() as conn:
                person = await directory_professional(conn, state.coordinator_id)
                employer = None if person is None else await directory_organisation(
                    conn, person.organisation_id)
            if person is not None:
                coordinator = Coordinator(
                    name=person.name,
                    organisation=employer.name if employer else person.organisation_id)
        return TrajectoryStatus(
            case_id=case_id, phase=state.phase, coordinator=coordinator,
            next_evaluation_date=state.plan.evaluation_date if state.plan else None)

    @app.post(
        "/v1/trajectories/{case_id}/signals",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["partners"],
        responses=_responses(401, 403, 409, 422, 503),
        response_model=SignalReceived,
    )
    async def send_signal(
        case_id: CaseIdPath,
        body: SignalBody,
        idempotency_key: IdempotencyKey,
        principal: Annotated[Principal, Depends(door.enter("signal"))],
    ) -> Any:
        """A partner's signal about a family it referred or works with: a relapse (inside
        the aftercare window it reopens the trajectory), a concern, a stagnation or a
        failed contact."""
        events = await case_events(case_id)  # for the roles and the quota alike
        state, case_roles, _ = await roles(case_id, principal, events)
        check_signal(principal, case_roles, case_id, body.organisation)
        assert isinstance(principal, PartnerPrincipal)  # check_signal let only partners by
        signal = PartnerSignal(
            idempotency_key=scoped_key(principal.actor, idempotency_key),
            organisation=principal.organisation_id, kind=body.kind,
            description=body.description)
        now = datetime.now(UTC)
        wait = signal_quota_wait(events, principal.actor, now,
                                 region_policy.partner_signals_per_case_per_day)
        if wait is not None:
            seconds = retry_after(wait.total_seconds())
            raise GatewayError(
                status.HTTP_429_TOO_MANY_REQUESTS, "signal_quota_reached",
                f"organisation {principal.organisation_id} has sent "
                f"{region_policy.partner_signals_per_case_per_day} signals about case "
                f"{case_id} in the last 24 hours, the region's limit; the next may be sent "
                f"in {seconds} s. For anything urgent, call the case's coordinator",
                headers={"Retry-After": seconds})
        # The rules' answer before "received": a signal they would drop is refused now
        # (422 with why), not answered as if it were recorded.
        if state is not None:
            decide(signal, state, DecisionContext(now=now, policy=region_policy))

        async def run() -> SignalReceived:
            temporal = await link.client()
            handle = temporal.get_workflow_handle(workflow_id_for(case_id))
            try:
                await handle.signal(FamilyTrajectoryWorkflow.partner_signal, signal,
                                    rpc_timeout=QUERY_TIMEOUT)
            except RPCError as err:
                raise _rpc_error(err, case_id) from err
            log.info("signal_received", case_id=case_id, kind=body.kind.value)
            return SignalReceived(case_id=case_id)

        return await door.once(principal, idempotency_key, "signal", case_id, body,
                               status.HTTP_202_ACCEPTED, run)

    give_command = _command_path(link, door, command_roles)
    desk = CaseDesk(events=case_events, roles=roles, readable=readable,
                    command=give_command, pool=resources.require_pool, policy=region_policy)
    for row in COMMAND_TABLE:
        if row.route is None or row.update is None:
            continue  # referrals and signals have their own routes above
        app.post(
            f"/v1/trajectories/{{case_id}}/{row.route.path}",
            tags=["professionals"],
            summary=row.route.summary,
            description=(row.model.__doc__ or "") + _who_note(row.who),
            responses=_responses(401, 403, 404, 409, 422, 503),
            response_model=CommandResult,
            operation_id=f"command_{row.update}",
        )(_command_endpoint(door, give_command, row))

    # Operators decode Temporal payloads here (the Web UI, the temporal CLI).
    mount_codec_server(app, door, settings)
    # Caseworkers and team leads in a browser: the same desk, the same door.
    mount_workspace(app, door, desk, settings, resources.require_authenticator)
    return app


API_DESCRIPTION = """
Partners authenticate with their organisation's API key in the `X-API-Key` header;
professionals with a bearer token (`Authorization: Bearer <JWT>`) from the region's
identity provider. Every request about a case is checked against the caller's role on
that case and recorded in the access log; the `X-Request-Id` of each answer names its
row. Every write takes an `Idempotency-Key`, which is yours alone: the same key with the
same request returns the first answer, with a different request 409.
"""


def _who_note(who: frozenset[CaseRole]) -> str:
    roles = ", ".join(sorted(role.value.replace("_", " ") for role in who))
    return f"""

**Who:** {roles} (in your own name: a `by` naming someone else is refused, 403).
Refused commands answer 422 with the rule that refused them, and write nothing. Resending
a request with the same `Idempotency-Key` returns the first answer and does nothing twice.
"""


async def _refer(link: TemporalLink, settings: Settings, command: ReferFamily,
                 principal: Principal, update_key: str, region: str) -> ReferralAccepted:
    temporal = await link.client()
    workflow_id = workflow_id_for(command.case_id)
    start_operation = WithStartWorkflowOperation(
        FamilyTrajectoryWorkflow.run,
        StartTrajectoryInput(case_id=command.case_id),
        id=workflow_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A closed trajectory's stream already holds events; a new run would
        # start again at version 0 and every append would conflict.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        # Findable in the Web UI from the first moment; the workflow keeps them current.
        search_attributes=at_referral(region),
    )
    try:
        # The scoped idempotency key is the update id: Temporal answers a resent request
        # with the first one's result instead of carrying it out again.
        result = await temporal.execute_update_with_start_workflow(
            FamilyTrajectoryWorkflow.refer,
            ReferInput(command=command, actor=principal.actor),
            start_workflow_operation=start_operation,
            id=f"referral-{update_key}",
            rpc_timeout=UPDATE_TIMEOUT,
        )
    except WorkflowUpdateFailedError as err:
        # Update-with-start starts the workflow even when the referral is refused: a new
        # trajectory that recorded nothing is not left waiting for ever.
        await end_if_empty(temporal, command.case_id)
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == "DomainError":
            raise DomainError(cause.message) from err
        raise
    except WorkflowAlreadyStartedError as err:
        # Collect the start operation's copy of the error too, or asyncio logs it as
        # "never retrieved" when the operation is garbage collected.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await start_operation.workflow_handle()
        raise GatewayError(
            status.HTTP_409_CONFLICT,
            "trajectory_closed",
            f"the trajectory of case {command.case_id} has ended; a closed case is "
            "not reopened by a referral. Refer the family under a new case id, or "
            "ask the municipality to reopen the case",
        ) from err
    except RPCError as err:
        if err.status in _TRANSIENT:
            raise _unavailable(err, command.case_id) from err
        raise
    log.info("referral_accepted", case_id=command.case_id, workflow_id=workflow_id,
             referral_id=command.referral.referral_id, organisation=principal.id)
    return ReferralAccepted(case_id=command.case_id, workflow_id=workflow_id,
                            version=result.version, recorded=result.recorded)


async def end_if_empty(temporal: Client, case_id: str) -> bool:
    """End the trajectory of `case_id` if it is running with nothing recorded (its
    referral was refused); True if it was ended."""
    handle = temporal.get_workflow_handle(workflow_id_for(case_id))
    try:
        state = await handle.query(FamilyTrajectoryWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        if state.version > 0:
            return False
        await handle.terminate(reason="its first referral was refused: nothing recorded")
    except RPCError as err:
        log.warning("empty_trajectory_not_ended", case_id=case_id, status=err.status.name)
        return False
    return True


async def _trajectory_open(temporal: Client, case_id: str) -> bool:
    """Whether a referral may join this trajectory: running, or reserved by a referral
    that has not reached Temporal (yet). An ended one is not reopened by a referral."""
    try:
        described = await temporal.get_workflow_handle(workflow_id_for(case_id)).describe(
            rpc_timeout=QUERY_TIMEOUT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return True
        raise _rpc_error(err, case_id) from err
    return described.status == WorkflowExecutionStatus.RUNNING


_A = TypeVar("_A")
_B = TypeVar("_B")


async def _together(first: Coroutine[Any, Any, _A], second: Coroutine[Any, Any, _B]
                    ) -> tuple[_A, _B]:
    """Both at once (each on its own connection, so their round trips overlap). A failure
    of either cancels the other and is raised as itself, not wrapped in an exception
    group, so the error handlers see what the sequential code would have raised."""
    try:
        async with asyncio.TaskGroup() as group:
            one, two = group.create_task(first), group.create_task(second)
    except BaseExceptionGroup as failed:
        error = failed.exceptions[0]
        raise error from error.__cause__
    return one.result(), two.result()


def _rpc_error(err: RPCError, case_id: str) -> GatewayError:
    if err.status == RPCStatusCode.NOT_FOUND:
        return GatewayError(
            status.HTTP_404_NOT_FOUND, "trajectory_not_found",
            f"there is no open trajectory for case {case_id}; refer the family first with "
            "POST /v1/referrals")
    if err.status in _TRANSIENT:
        return _unavailable(err, case_id)
    # Temporal's own message stays in the log: it may name internals of the cluster.
    log.warning("temporal_refused", case_id=case_id, status=err.status.name,
                reason=err.message)
    return GatewayError(status.HTTP_502_BAD_GATEWAY, "temporal_error",
                        f"the workflow engine refused the request ({err.status.name})")


CaseIdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=CASE_ID_PATTERN)]
IdempotencyKey = Annotated[str, Header(
    alias="Idempotency-Key", min_length=1, max_length=200,
    description="Unique per request, and yours alone; resend it on retries.")]


def _command_path(link: TemporalLink, door: Door, roles: RolesOf
                  ) -> Callable[[CommandRow, str, Command, str, Principal], Awaitable[Any]]:
    """How a professional's command reaches its case, for every door (the JSON routes and
    the workspace's forms): the rights of `domain.access`, the idempotency key claimed for
    the principal, the row's Temporal Update with the authenticated actor."""

    async def give(row: CommandRow, case_id: str, command: Command, idempotency_key: str,
                   principal: Principal) -> Any:
        update = row.update
        assert update is not None
        model = row.model
        state, case_roles, directory = await roles(case_id, principal)
        if state is None and not case_roles:
            raise AccessRefused(f"you have no role on case {case_id} (or there is no such "
                                "case)")
        check_command(principal, case_roles, row.who, command,
                      state or TrajectoryState(), directory, case_id)
        # The recorded actor is the authenticated one, whatever the body said.
        given = command.model_copy(update={"actor": principal.actor})

        async def run() -> CommandResult:
            temporal = await link.client()
            handle = temporal.get_workflow_handle(workflow_id_for(case_id))
            try:
                result: CommandResult = await handle.execute_update(
                    update, given,
                    id=f"{model.__name__}-{scoped_key(principal.actor, idempotency_key)}",
                    result_type=CommandResult, rpc_timeout=UPDATE_TIMEOUT)
            except WorkflowUpdateFailedError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.type == "DomainError":
                    details = [str(d) for d in cause.details or ()]
                    raise DomainError(cause.message, code=details[0] if details else
                                      "refused", field=details[1] if len(details) > 1
                                      else None) from err
                raise
            except RPCError as err:
                raise _rpc_error(err, case_id) from err
            log.info("command_handled", case_id=case_id, command=model.__name__,
                     version=result.version, recorded=result.recorded)
            return result

        return await door.once(principal, idempotency_key, update, case_id, command,
                               status.HTTP_200_OK, run)

    return give


def _command_endpoint(door: Door, give: Callable[..., Awaitable[Any]], row: CommandRow
                      ) -> Callable[..., Awaitable[Any]]:
    """The endpoint of one row of the command table: the body is that row's model."""
    update = row.update
    assert update is not None
    model = row.model

    async def endpoint(case_id: str, command: Command, idempotency_key: str,
                       principal: Principal) -> Any:
        return await give(row, case_id, command, idempotency_key, principal)

    # FastAPI reads parameters from the signature; the body's model is the row's, known
    # only here, so the signature says so (inspect's documented `__signature__`).
    endpoint.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("case_id", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=CaseIdPath),
        inspect.Parameter("command", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=model),
        inspect.Parameter("idempotency_key", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=IdempotencyKey),
        inspect.Parameter("principal", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=Annotated[Principal, Depends(door.enter(update))]),
    ], return_annotation=CommandResult)
    endpoint.__name__ = f"command_{update}"
    return endpoint


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    tune_for_throughput()
    # log_config=None: uvicorn's lines go through the logging set up above instead of
    # uvicorn replacing it with its own handlers.
    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port,
                log_config=None)


if __name__ == "__main__":
    main()
