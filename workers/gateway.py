"""The partner-facing HTTP gateway: referrals in, trajectory state out.

Partners (schools, GPs, police) refer a family with `POST /v1/referrals`; the gateway
validates the referral with the same domain rules the workflow applies, then starts the
family's trajectory workflow in Temporal. It holds no state of its own, so any number of
gateways can run side by side.

    python -m workers.gateway          # uvicorn on REGIE_GATEWAY_HOST:REGIE_GATEWAY_PORT

The OpenAPI document is at `/openapi.json`, the interactive docs at `/docs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any, Literal

import uvicorn
from fastapi import FastAPI, Header, Path, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.command_table import COMMAND_TABLE
from domain.commands import Command, PartnerSignal, ReferFamily, SignalKind
from domain.decide import decide_referral
from domain.errors import DomainError
from domain.trajectory import TrajectoryState
from infra.settings import Settings
from infra.structured_logging import configure_logging, get_logger
from infra.temporal import connect
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


class ReferralAccepted(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str
    workflow_id: str
    status: Literal["accepted"] = "accepted"
    version: int
    recorded: bool = Field(description="False when this referral was already recorded "
                                       "(a retry or a duplicate): nothing was done twice.")


class SignalBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    organisation: str = Field(min_length=1, max_length=200)
    kind: SignalKind
    description: str = Field(min_length=1, max_length=4000)


class SignalReceived(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str
    status: Literal["received"] = "received"


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error the gateway itself returns has this shape."""

    model_config = ConfigDict(frozen=True)
    error: str
    message: str
    fields: list[FieldError] | None = None


class GatewayError(Exception):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def _error_response(status_code: int, body: ErrorBody) -> JSONResponse:
    return JSONResponse(status_code=status_code, content=body.model_dump(exclude_none=True))


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


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
                    ) from err
            return self._client


def _unavailable(err: RPCError) -> GatewayError:
    return GatewayError(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "temporal_unavailable",
        f"the workflow engine did not answer ({err.status.name}: {err.message}); "
        "retry later",
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
        if error.get("type") == "json_invalid":
            # loc is ("body", <character offset>): name the body, keep the offset.
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            at = f" at character {loc[1]}" if len(loc) > 1 else ""
            seen["body"] = FieldError(field="body", message=f"not valid JSON{at}: {reason}")
            continue
        ctx_member = loc[-1] if loc and isinstance(loc[-1], str) and loc[-1] in (
            "str", "date", "Erased") else None
        path = _field_path(loc[:-1] if ctx_member is not None else loc)
        if path not in seen:
            seen[path] = FieldError(field=path, message=str(error.get("msg", "invalid")))
    return list(seen.values())


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = _field_errors(exc.errors())
    message = "; ".join(f"{f.field}: {f.message}" for f in fields)
    return _error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        ErrorBody(error="invalid_request", message=message, fields=fields),
    )


async def _on_domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return _error_response(status.HTTP_422_UNPROCESSABLE_CONTENT,
                           ErrorBody(error=exc.code, message=exc.message))


async def _on_gateway_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    return _error_response(exc.status_code, ErrorBody(error=exc.code, message=exc.message))


# -- the app -------------------------------------------------------------------------------


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    """Build the gateway. Tests pass a `client` (e.g. from a `WorkflowEnvironment`)."""
    settings = settings or Settings()
    link = TemporalLink(settings, client)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await link.client()
        except GatewayError as err:
            log.warning("temporal_unreachable_at_startup", reason=err.message)
        log.info("gateway_started", temporal=settings.effective_temporal_address,
                 task_queue=settings.task_queue)
        yield

    app = FastAPI(
        title="Regie partner gateway",
        version="1",
        summary="Refer families to Regie and follow their trajectory (1 Gezin 1 Plan).",
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(GatewayError, _on_gateway_error)

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
        tags=["referrals"],
        responses=_responses(409, 422, 503),
    )
    async def refer_family(
        command: ReferFamily,
        idempotency_key: Annotated[
            str,
            Header(alias="Idempotency-Key", min_length=1, max_length=200,
                   description="Unique per referral attempt; resend it on retries."),
        ],
    ) -> ReferralAccepted:
        """Refer a family. Opens the family's trajectory, or joins the one already open.

        A family never gets two trajectories: the workflow id is derived from the case id,
        and a later referral is recorded as an extra referral on the open trajectory.
        Resending a request with the same `Idempotency-Key`, or the same `referral_id`,
        records nothing twice (`recorded` is then false).
        """
        # Cheap first check of the referral's own rules, before reaching Temporal; the
        # workflow's update validator checks again against the trajectory's state.
        decide_referral(command, TrajectoryState())
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
        )
        try:
            # The idempotency key is the update id: Temporal answers a resent request
            # with the first one's result instead of carrying it out again.
            result = await temporal.execute_update_with_start_workflow(
                FamilyTrajectoryWorkflow.refer,
                ReferInput(command=command, actor=f"partner:{command.referral.organisation}"),
                start_workflow_operation=start_operation,
                id=f"referral-{idempotency_key}",
                rpc_timeout=UPDATE_TIMEOUT,
            )
        except WorkflowUpdateFailedError as err:
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
                raise _unavailable(err) from err
            raise
        log.info("referral_accepted", case_id=command.case_id, workflow_id=workflow_id,
                 referral_id=command.referral.referral_id, idempotency_key=idempotency_key)
        return ReferralAccepted(case_id=command.case_id, workflow_id=workflow_id,
                                version=result.version, recorded=result.recorded)

    @app.get(
        "/v1/trajectories/{case_id}",
        tags=["trajectories"],
        responses=_responses(404, 422, 503),
    )
    async def get_trajectory(
        case_id: Annotated[str, Path(min_length=1, max_length=100, pattern=CASE_ID_PATTERN)],
    ) -> TrajectoryState:
        """The current state of a family's trajectory."""
        temporal = await link.client()
        handle = temporal.get_workflow_handle(workflow_id_for(case_id))
        try:
            return await handle.query(FamilyTrajectoryWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise GatewayError(
                    status.HTTP_404_NOT_FOUND,
                    "trajectory_not_found",
                    f"there is no trajectory for case {case_id}; refer the family first "
                    "with POST /v1/referrals",
                ) from err
            if err.status in _TRANSIENT:
                raise _unavailable(err) from err
            raise

    @app.post(
        "/v1/trajectories/{case_id}/signals",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["signals"],
        responses=_responses(404, 422, 503),
    )
    async def send_signal(
        case_id: Annotated[str, Path(min_length=1, max_length=100, pattern=CASE_ID_PATTERN)],
        body: SignalBody,
        idempotency_key: Annotated[
            str,
            Header(alias="Idempotency-Key", min_length=1, max_length=200,
                   description="Unique per signal; a resent signal with the same key is "
                               "ignored."),
        ],
    ) -> SignalReceived:
        """A partner's signal about a family: a relapse (inside the aftercare window it
        reopens the trajectory) or a concern (recorded for the coordinator)."""
        temporal = await link.client()
        handle = temporal.get_workflow_handle(workflow_id_for(case_id))
        signal = PartnerSignal(idempotency_key=idempotency_key, organisation=body.organisation,
                               kind=body.kind, description=body.description)
        try:
            await handle.signal(FamilyTrajectoryWorkflow.partner_signal, signal,
                                rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            raise _rpc_error(err, case_id) from err
        log.info("signal_received", case_id=case_id, kind=body.kind.value,
                 idempotency_key=idempotency_key)
        return SignalReceived(case_id=case_id)

    for row in COMMAND_TABLE:
        if row.route is None or row.update is None:
            continue  # referrals and signals have their own routes above
        app.post(
            f"/v1/trajectories/{{case_id}}/{row.route.path}",
            tags=["caseworker commands"],
            summary=row.route.summary,
            description=(row.model.__doc__ or "") + COMMAND_NOTE,
            responses=_responses(404, 422, 503),
            response_model=CommandResult,
            operation_id=f"command_{row.update}",
        )(_command_endpoint(link, row.update, row.model))

    return app


COMMAND_NOTE = """

Refused commands answer 422 with the rule that refused them, and write nothing. Resending
a request with the same `Idempotency-Key` returns the first answer and does nothing twice.
"""


def _rpc_error(err: RPCError, case_id: str) -> GatewayError:
    if err.status == RPCStatusCode.NOT_FOUND:
        return GatewayError(
            status.HTTP_404_NOT_FOUND, "trajectory_not_found",
            f"there is no open trajectory for case {case_id}; refer the family first with "
            "POST /v1/referrals")
    if err.status in _TRANSIENT:
        return _unavailable(err)
    return GatewayError(status.HTTP_502_BAD_GATEWAY, "temporal_error",
                        f"the workflow engine refused the request ({err.status.name}: "
                        f"{err.message})")


CaseIdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=CASE_ID_PATTERN)]
CommandKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200,
                                   description="Unique per command; resend it on retries.")]


def _command_endpoint(link: TemporalLink, update: str, model: type[Command]
                      ) -> Callable[..., Awaitable[CommandResult]]:
    """The endpoint of one row of the command table: the body is that row's model."""

    async def endpoint(case_id: str, command: Command, idempotency_key: str) -> CommandResult:
        temporal = await link.client()
        handle = temporal.get_workflow_handle(workflow_id_for(case_id))
        try:
            result: CommandResult = await handle.execute_update(
                update, command, id=f"{model.__name__}-{idempotency_key}",
                result_type=CommandResult, rpc_timeout=UPDATE_TIMEOUT)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == "DomainError":
                code = str(cause.details[0]) if cause.details else "refused"
                raise DomainError(cause.message, code=code) from err
            raise
        except RPCError as err:
            raise _rpc_error(err, case_id) from err
        log.info("command_handled", case_id=case_id, command=model.__name__,
                 version=result.version, recorded=result.recorded)
        return result

    # FastAPI reads parameters from the signature; the body's model is the row's, known
    # only here, so the signature says so (inspect's documented `__signature__`).
    endpoint.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("case_id", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=CaseIdPath),
        inspect.Parameter("command", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=model),
        inspect.Parameter("idempotency_key", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=CommandKey),
    ], return_annotation=CommandResult)
    endpoint.__name__ = f"command_{update}"
    return endpoint


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    # log_config=None: uvicorn's lines go through the logging set up above instead of
    # uvicorn replacing it with its own handlers.
    uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port,
                log_config=None)


if __name__ == "__main__":
    main()
