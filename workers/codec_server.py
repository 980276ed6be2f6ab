"""The codec server: Temporal's Web UI and CLI send the encrypted payloads of a history
here and show what comes back decoded. Operators only, and every decode is in the
access log.

    POST /codec/decode     Temporal's remote codec protocol: {"payloads": [...]} in and out,
    POST /codec/encode     each payload as protobuf JSON ({"metadata": {...}, "data": ...})
    GET  /codec/session    a page where an operator pastes a token for the Web UI
    POST /codec/session    with Authorization: Bearer: the token as an HttpOnly cookie
    DELETE /codec/session  ends that

The codec routes take an operator's bearer token, as every professional route does, or
the session cookie: the Web UI in a browser has no Regie token of its own, so an operator
starts a session on `/codec/session` and the Web UI calls the codec with its cookies
("include cross-origin credentials"). The cookie is HttpOnly, SameSite=Strict and scoped
to /codec; the codec routes take only JSON, so a browser on another origin cannot post
to them without a CORS preflight, which only the Web UI's origins pass.

After the codec server of the Temporal Python samples' encryption sample.
"""

# No `from __future__ import annotations`: FastAPI evaluates the routes' annotations,
# which name dependencies made in `mount_codec_server` (as in workers/gateway.py).

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, FastAPI, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from domain.access import Principal, ProfessionalPrincipal, check_codec
from infra.payload_codec import EncryptionCodec, PayloadDecryptionError, keyring_for
from infra.payload_keys import UnknownKeyError
from infra.settings import Settings
from workers.access_control import Door, note_reason
from workers.problems import problem

CODEC_PATH = "/codec"
SESSION_COOKIE = "regie_codec_session"
# What the Web UI sends: its namespace, a token where it has one, and the JSON body.
CORS_HEADERS = ("X-Namespace", "Authorization", "Content-Type")

Convert = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


class CodecSession(BaseModel):
    model_config = ConfigDict(frozen=True)
    operator: str
    expires_in_seconds: int


class CodecCors:
    """CORS on the codec routes alone: the Web UI's origins may call them from a browser,
    with credentials; the rest of the gateway answers no browser of another origin."""

    def __init__(self, app: ASGIApp, *, origins: Sequence[str]) -> None:
        self._app = app
        self._cors = CORSMiddleware(app, allow_origins=list(origins),
                                    allow_methods=["POST"], allow_headers=list(CORS_HEADERS),
                                    allow_credentials=True, max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == CODEC_PATH
                                        or path.startswith(CODEC_PATH + "/")):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def _problem(request: Request, status_code: int, code: str, message: str) -> JSONResponse:
    note_reason(request, message)
    return problem(status_code, code, message)


async def _convert(request: Request, convert: Convert) -> Response:
    if request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
        return _problem(request, status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "invalid_request",
                        "send the payloads as application/json")
    try:
        payloads = json_format.Parse(await request.body(), Payloads())
    except json_format.ParseError:
        # Not the parser's message: it may quote the body.
        return _problem(request, status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_request",
                        'expected {"payloads": [{"metadata": {...}, "data": "<base64>"}]}')
    try:
        converted = await convert(payloads.payloads)
    except (UnknownKeyError, PayloadDecryptionError) as error:
        return _problem(request, status.HTTP_422_UNPROCESSABLE_CONTENT,
                        "payload_not_decodable", str(error))
    return Response(json_format.MessageToJson(Payloads(payloads=converted)),
                    media_type="application/json")


def lazy_codec(settings: Settings) -> Callable[[], EncryptionCodec]:
    """The codec of the gateway's settings (the keys its Temporal client encrypts with),
    made on the first request: on the local stack that may create the keyring file."""
    made: list[EncryptionCodec] = []

    def codec() -> EncryptionCodec:
        if not made:
            made.append(EncryptionCodec(keyring_for(settings)))
        return made[0]

    return codec


def mount_codec_server(app: FastAPI, door: Door, settings: Settings) -> None:
    """Add the codec routes to the gateway, behind its door, with CORS for the Web UI's
    origins (`Settings.codec_origins`)."""
    codec = lazy_codec(settings)
    router = APIRouter(prefix=CODEC_PATH, tags=["operators"])
    decoding = door.enter("codec_decode", session_cookie=SESSION_COOKIE, reads=True)
    encoding = door.enter("codec_encode", session_cookie=SESSION_COOKIE)

    @router.post("/decode", responses={code: {} for code in (401, 403, 415, 422, 503)})
    async def decode(request: Request,
                     principal: Annotated[Principal, Depends(decoding)]) -> Response:
        """Decrypt payloads (Temporal's remote codec protocol), for operators. Payloads
        without Regie's encryption come back as they are."""
        check_codec(principal)
        return await _convert(request, codec().decode)

    @router.post("/encode", responses={code: {} for code in (401, 403, 415, 422)})
    async def encode(request: Request,
                     principal: Annotated[Principal, Depends(encoding)]) -> Response:
        """Encrypt payloads with the active key (the Web UI, to send a signal), for
        operators."""
        check_codec(principal)
        return await _convert(request, codec().encode)

    @router.get("/session", response_class=HTMLResponse, include_in_schema=False)
    async def session_page() -> HTMLResponse:
        return HTMLResponse(SESSION_PAGE)

    @router.post("/session", responses={code: {} for code in (401, 403)})
    async def start_session(
        request: Request, response: Response,
        principal: Annotated[Principal, Depends(door.enter("codec_session"))],
    ) -> CodecSession:
        """Keep an operator's bearer token in an HttpOnly cookie for /codec, so the Web UI
        in this browser can decode (with "include cross-origin credentials")."""
        check_codec(principal)
        assert isinstance(principal, ProfessionalPrincipal)  # check_codec let only them by
        token = request.headers["Authorization"].strip().partition(" ")[2].strip()
        # The door has verified the token; its own expiry bounds the cookie's.
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
        lifetime = max(0, int(expires - time.time())) if isinstance(expires, int | float) else 3600
        response.set_cookie(SESSION_COOKIE, token, max_age=lifetime, path=CODEC_PATH,
                            httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return CodecSession(operator=principal.professional_id, expires_in_seconds=lifetime)

    @router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
    async def end_session(request: Request) -> Response:
        """Forget the session cookie in this browser."""
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(SESSION_COOKIE, path=CODEC_PATH, httponly=True,
                               samesite="strict", secure=request.url.scheme == "https")
        return response

    app.include_router(router)
    app.add_middleware(CodecCors, origins=settings.codec_origins)


SESSION_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Regie: decode payloads</title>
<style>body{font-family:sans-serif;max-width:42em;margin:2em auto}
textarea{width:100%;height:6em}</style></head>
<body>
<h1>Decode Temporal payloads in this browser</h1>
<p>For operators. Paste a token (on the local stack: <code>regie token issue --as
OPERATOR</code>). It is kept in an HttpOnly cookie for <code>/codec</code> only, until the
token expires; every decode is recorded in the access log under your name.</p>
<form id="start"><textarea id="token" placeholder="eyJ..." autocomplete="off"></textarea>
<p><button type="submit">Start</button> <button type="button" id="end">End</button></p>
</form>
<p id="result" role="status"></p>
<p>Then, in the Web UI's codec settings (the data encoder icon): use this browser's
setting, the endpoint <code id="endpoint"></code>, and tick <em>Include cross-origin
credentials</em>.</p>
<script>
const result = document.getElementById("result");
document.getElementById("endpoint").textContent = location.origin + "/codec";
document.getElementById("start").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = document.getElementById("token");
  const answer = await fetch("/codec/session", {method: "POST",
    headers: {"Authorization": "Bearer " + field.value.trim()}});
  field.value = "";
  const body = await answer.json();
  result.textContent = answer.ok
    ? "Decoding on for " + body.operator + " for " + Math.round(body.expires_in_seconds / 60)
      + " minutes."
    : "Refused: " + body.message;
});
document.getElementById("end").addEventListener("click", async () => {
  await fetch("/codec/session", {method: "DELETE"});
  result.textContent = "Ended.";
});
</script>
</body></html>
"""
