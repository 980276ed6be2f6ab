"""The workspace's session: a signed cookie naming the professional, for a short while.

After a sign-in (the identity provider's, or the local stack's dev page) the browser
holds one cookie: the professional's directory id, when the session ends, and the
session's CSRF token, signed with HMAC-SHA256. Nothing else is in it (no names, no case
data), and it is HttpOnly, SameSite=Strict and Secure when the workspace is served over
https. Each request checks the signature and the end; the Door then checks that the
professional is still active in the directory, as it does for a bearer token.

Before sign-in a second signed cookie carries what the login needs to remember: the
form's CSRF token, and for the identity provider the state, nonce and PKCE verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, ValidationError

SESSION_COOKIE = "regie_session"
LOGIN_COOKIE = "regie_login"
# A login has this long to come back from the identity provider.
LOGIN_MINUTES = 10
# Cookies larger than this are not ours: refuse before decoding.
_MAX_COOKIE = 2048


class Session(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    professional_id: str
    expires: datetime
    csrf: str


class PendingLogin(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    expires: datetime
    csrf: str
    state: str | None = None
    nonce: str | None = None
    verifier: str | None = None


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Signer:
    """Signs and checks the workspace's cookies with one key; `purpose` keeps a login
    cookie from passing as a session and the other way round."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        # Read when first needed: a gateway nobody signs in to makes no secret file.
        self._key_source = key
        self._key: bytes | None = None

    def _mac(self, purpose: str, body: bytes) -> str:
        if self._key is None:
            self._key = self._key_source()
        digest = hmac.new(self._key, purpose.encode() + b"\0" + body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, purpose: str, value: BaseModel) -> str:
        body = base64.urlsafe_b64encode(value.model_dump_json().encode()).decode().rstrip("=")
        return f"{body}.{self._mac(purpose, body.encode())}"

    def open(self, purpose: str, cookie: str | None) -> dict[str, Any] | None:
        if not cookie or len(cookie) > _MAX_COOKIE or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None


class Sessions:
    def __init__(self, signer: Signer, minutes: int) -> None:
        self._signer = signer
        self._lifetime = timedelta(minutes=minutes)

    def start(self, response: Response, request: Request, professional_id: str,
              now: datetime) -> Session:
        session = Session(professional_id=professional_id, expires=now + self._lifetime,
                          csrf=new_token())
        _set(response, request, SESSION_COOKIE, self._signer.sign("session", session),
             self._lifetime)
        response.delete_cookie(LOGIN_COOKIE, path="/werkplek")
        return session

    def current(self, request: Request, now: datetime) -> Session | None:
        data = self._signer.open("session", request.cookies.get(SESSION_COOKIE))
        if data is None:
            return None
        try:
            session = Session.model_validate(data)
        except ValidationError:
            return None
        return session if session.expires > now else None

    def end(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    def begin_login(self, response: Response, request: Request, pending: PendingLogin
                    ) -> None:
        _set(response, request, LOGIN_COOKIE, self._signer.sign("login", pending),
             timedelta(minutes=LOGIN_MINUTES), path="/werkplek")

    def pending_login(self, request: Request, now: datetime) -> PendingLogin | None:
        data = self._signer.open("login", request.cookies.get(LOGIN_COOKIE))
        if data is None:
            return None
        try:
            pending = PendingLogin.model_validate(data)
        except ValidationError:
            return None
        return pending if pending.expires > now else None


def _set(response: Response, request: Request, name: str, value: str, lifetime: timedelta,
         path: str = "/") -> None:
    # SameSite=Lax for the login cookie would be needed if the provider posted back; it
    # redirects (GET) to us from another site, and a Strict cookie is not sent on that
    # first cross-site navigation, so the login cookie is Lax and the session Strict.
    same_site: Literal["lax", "strict"] = "lax" if name == LOGIN_COOKIE else "strict"
    response.set_cookie(name, value, max_age=int(lifetime.total_seconds()), path=path,
                        httponly=True, samesite=same_site,
                        secure=request.url.scheme == "https")


def expiry(now: datetime) -> datetime:
    return now.astimezone(UTC) + timedelta(minutes=LOGIN_MINUTES)
