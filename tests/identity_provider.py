"""A stand-in for the region's identity provider, on this machine: a JWKS served over
HTTP on 127.0.0.1 and tokens signed with its key (or with keys it does not publish); and
an OpenID provider with the authorisation-code flow (PKCE), for the workspace's sign-in."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.settings import Settings

ISSUER = "https://login.regio.example.nl/realms/jeugd"
AUDIENCE = "regie"
PUBLISHED = rsa.generate_private_key(public_exponent=65537, key_size=2048)
UNPUBLISHED = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@contextmanager
def serving_jwks() -> Iterator[str]:
    """The provider's JWKS URL while it serves (only PUBLISHED, as key-1)."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PUBLISHED.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/realms/jeugd/certs"
    server.shutdown()


def oidc_settings(jwks_url: str, **changes: Any) -> Settings:
    return Settings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=jwks_url,
                    oidc_professional_claim="preferred_username", **changes)


def token(*, key: rsa.RSAPrivateKey = PUBLISHED, kid: str = "key-1", issuer: str = ISSUER,
          audience: str = AUDIENCE, expires_in: timedelta = timedelta(minutes=5),
          who: str = "pro-1", algorithm: str = "RS256") -> str:
    now = datetime.now(UTC)
    return jwt.encode({"iss": issuer, "aud": audience, "iat": now, "exp": now + expires_in,
                       "sub": "0b5e-uuid-at-the-provider", "preferred_username": who},
                      key, algorithm=algorithm, headers={"kid": kid})


CLIENT_ID = "regie-werkplek"


@dataclass
class Provider:
    """The provider's addresses, and who it signs in next (its login page, in short)."""

    base_url: str
    who: str = "pro-1"
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # why token requests were refused

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/realms/jeugd/certs"

    @property
    def authorization_url(self) -> str:
        return f"{self.base_url}/realms/jeugd/auth"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/realms/jeugd/token"

    def settings(self, **changes: Any) -> Settings:
        return oidc_settings(self.jwks_url, oidc_client_id=CLIENT_ID,
                             oidc_authorization_url=self.authorization_url,
                             oidc_token_url=self.token_url, **changes)


@contextmanager
def serving_provider() -> Iterator[Provider]:
    """An OpenID provider on 127.0.0.1 with the authorisation-code flow and PKCE: its
    authorization endpoint signs `provider.who` in at once and sends the browser back
    with a code; its token endpoint gives an id token for a code, once, only with the
    verifier of the code's challenge and the same client and redirect URI."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PUBLISHED.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]})
    provider = Provider(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {"Content-Type": "application/json"}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body.encode())

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path.endswith("/certs"):
                self._send(200, jwks)
                return
            query = dict(parse_qsl(url.query))
            code = secrets.token_urlsafe(16)
            provider.codes[code] = {**query, "who": provider.who}
            back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
            self._send(302, "", {"Location": back})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            asked = provider.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            why = ("unknown or used code" if asked is None
                   else "wrong verifier" if challenge != asked["code_challenge"]
                   else "wrong client" if form.get("client_id") != asked["client_id"]
                   else "wrong redirect_uri" if form.get("redirect_uri") != asked["redirect_uri"]
                   else None)
            if why is not None or asked is None:
                provider.refused.append(why or "")
                self._send(400, json.dumps({"error": "invalid_grant"}))
                return
            now = datetime.now(UTC)
            id_token = jwt.encode(
                {"iss": ISSUER, "aud": asked["client_id"], "iat": now,
                 "exp": now + timedelta(minutes=5), "sub": "0b5e-uuid-at-the-provider",
                 "preferred_username": asked["who"], "nonce": asked["nonce"]},
                PUBLISHED, algorithm="RS256", headers={"kid": "key-1"})
            self._send(200, json.dumps({"id_token": id_token, "token_type": "Bearer",
                                        "access_token": "not-used"}))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
