"""The gateway's edge: what a request body must be before any route parses it, and what
a bug looks like from outside.

- A body is at most `REGIE_MAX_BODY_BYTES`: a larger `Content-Length` is answered 413
  before a byte is read, and a body without one (chunked) is counted as it streams and
  answered 413 once it passes the limit. Nothing is parsed, nothing written.
- A JSON body that is no JSON document (cut short, not UTF-8, nested past reason) is
  refused 400 `malformed_json`, saying where it broke: the request itself is broken, not
  one of its fields.
- A JSON body with a key twice is refused the same way (400, naming the key): JSON
  parsers disagree on which value wins, so a proxy or an audit that reads the first may
  see another request than the gateway that would read the last.
- An exception no handler knew becomes a 500 in the gateway's error shape: the traceback
  goes to the log, never to the caller (it may hold personal data or internals).

Pure ASGI rather than a `BaseHTTPMiddleware`: it reads the body once, itself, and hands
the route the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.structured_logging import get_logger
from workers.problems import FieldError, ProblemResponse, problem

log = get_logger("regie.gateway.edge")


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def malformed_json(body: bytes) -> str | None:
    """Why `body` is not one unambiguous JSON document, or None when it is."""
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    except DuplicateKey as duplicate:
        # The key is the caller's own text: only a short, printable one is named.
        key = duplicate.key
        named = repr(key) if len(key) <= 100 and key.isprintable() else "a key"
        return f"the JSON body has {named} twice in one object; send each key once"
    except UnicodeDecodeError:
        return "the body is not UTF-8; send JSON in UTF-8"
    except json.JSONDecodeError as error:
        # msg and pos describe the document's shape, never echo its content.
        return f"the body is not valid JSON: {error.msg} at character {error.pos}"
    except RecursionError:
        return "the JSON body is nested too deeply"
    except ValueError:
        return "the body is not valid JSON"
    return None


def malformed_json_problem(reason: str) -> ProblemResponse:
    """The one answer to a body that is no usable JSON document."""
    return problem(status.HTTP_400_BAD_REQUEST, "malformed_json", reason,
                   fields=[FieldError(field="body", message=reason)])


def _is_json(scope: Scope) -> bool:
    """Whether a route would read the body as JSON: FastAPI does so for a JSON media type
    and also when the request names none."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = bytes(value).split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self._app = app
        self._max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            body = await self._read(scope, receive)
            if isinstance(body, Response):
                await body(scope, receive, send_noting_start)
                return
            await self._app(scope, _replay(body, receive), send_noting_start)
        except Exception:
            log.exception("unhandled_error", method=scope.get("method"),
                          path=scope.get("path"))
            if started:
                raise  # half an answer is out; only the server can cut the connection
            await problem(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal_error",
                          "the gateway failed to answer this request; it has been logged. "
                          "Retry later, or tell the operators the X-Request-Id"
                          )(scope, receive, send_noting_start)

    async def _read(self, scope: Scope, receive: Receive) -> bytes | Response:
        """The whole body, or the answer that refuses it."""
        declared = _declared_length(scope)
        if declared is not None and declared > self._max:
            return self._too_large(scope, declared)
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                return self._too_large(scope, None)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and _is_json(scope):
            reason = malformed_json(body)
            if reason is not None:
                log.info("request_body_malformed_json", path=scope.get("path"))
                return malformed_json_problem(reason)
        return body

    def _too_large(self, scope: Scope, declared: int | None) -> Response:
        log.warning("request_body_too_large", method=scope.get("method"),
                    path=scope.get("path"), limit=self._max, declared=declared)
        return problem(status.HTTP_413_CONTENT_TOO_LARGE, "body_too_large",
                       f"the request body is larger than {self._max} bytes; nothing was "
                       "done")


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, as one message; then the connection's own messages (a disconnect
    while the route works)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
