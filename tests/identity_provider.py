"""A stand-in for the region's identity provider, on this machine: a JWKS served over
HTTP on 127.0.0.1 and tokens signed with its key (or with keys it does not publish)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
