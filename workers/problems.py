"""The gateway's one error shape: RFC 9457 problem details, served as
`application/problem+json`.

Every error answer, whoever gives it (a route, the door, the body guard, the router for
an unknown path, the catch-all for a bug), is built here, so a caller parses one shape.
The members `error`, `message` and `fields` came first and stay for the callers that read
them; `type`, `title`, `status` and `detail` are RFC 9457's.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"
# Seconds a caller should wait before retrying a 503 or a 429.
RETRY_AFTER_UNAVAILABLE = 5
RETRY_AFTER_BUSY = 1


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error the gateway returns has this shape (RFC 9457 problem details, plus the
    gateway's own `error`, `message` and `fields`)."""

    model_config = ConfigDict(frozen=True)
    type: str = Field(description="A URI naming the kind of problem: "
                                  "`urn:regie:error:<error>`.")
    title: str = Field(description="The HTTP status's phrase.")
    status: int = Field(description="The HTTP status code of this answer.")
    detail: str = Field(description="What went wrong, for a person; the same as `message`.")
    error: str = Field(description="A stable code for programs (e.g. `invalid_request`).")
    message: str
    fields: list[FieldError] | None = Field(
        default=None, description="For a malformed request: each field and its problem; "
                                  "submitted values are never echoed.")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(status_code: int, error: str, message: str,
            fields: list[FieldError] | None = None,
            headers: Mapping[str, str] | None = None) -> ProblemResponse:
    body = ErrorBody(type=f"urn:regie:error:{error}", title=HTTPStatus(status_code).phrase,
                     status=status_code, detail=message, error=error, message=message,
                     fields=fields)
    return ProblemResponse(status_code=status_code, headers=headers,
                           content=body.model_dump(exclude_none=True))
