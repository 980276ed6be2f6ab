"""Professionals' bearer tokens: verified against the identity provider, or, on the
local stack, issued by Regie itself.

Production: the region's identity provider (Keycloak, Entra ID, ...) signs the tokens;
`REGIE_OIDC_ISSUER`, `REGIE_OIDC_AUDIENCE` and `REGIE_OIDC_JWKS_URL` name it, and PyJWT
checks the signature against its published keys (JWKS), the issuer, the audience and
the expiry. Only asymmetric algorithms are accepted.

Local stack: without an OIDC issuer Regie is its own issuer. `regie token issue --as
pro-1` signs a short-lived token with an ES256 key under the data dir (created on first
use, readable by its owner only); the gateway verifies with the same key. Setting an
OIDC issuer, or `REGIE_DEV_ISSUER=false`, turns this off.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from infra.local_secrets import create_once
from infra.settings import Settings

DEV_ISSUER = "regie-dev-issuer"
DEV_AUDIENCE = "regie"
DEV_ALGORITHM = "ES256"
# Clock skew tolerated between the identity provider and this server.
LEEWAY = timedelta(seconds=30)
# A bearer token longer than this is not one we issue or accept (bounded work).
MAX_TOKEN_LENGTH = 8192
_KEY_FILE = "signing-key.pem"


class InvalidTokenError(Exception):
    """The token is not acceptable; the message says why, without echoing the token."""


class IdentityProviderUnavailableError(Exception):
    """The identity provider's keys could not be fetched: a 503, not the caller's fault."""


class DevIssuer:
    """Regie's own issuer for the local stack: one ES256 key under `<data_dir>/dev-issuer`."""

    def __init__(self, data_dir: Path) -> None:
        self._directory = data_dir / "dev-issuer"
        self._key: ec.EllipticCurvePrivateKey | None = None

    def _private_key(self) -> ec.EllipticCurvePrivateKey:
        if self._key is None:
            self._key = self._load_or_create()
        return self._key

    def _load_or_create(self) -> ec.EllipticCurvePrivateKey:
        path = self._directory / _KEY_FILE
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            # When the gateway and the CLI create it at once, one key wins and both use
            # it; only the stack's own user can read it, so only they can sign.
            create_once(path, key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise RuntimeError(f"{path} is not an EC private key")
        return loaded

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._private_key().public_key()

    @property
    def key_id(self) -> str:
        der = self.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(der).hexdigest()[:16]

    def issue(self, professional_id: str, minutes: int, claim: str = "sub",
              now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "iat": issued,
            "exp": issued + timedelta(minutes=minutes), "jti": str(uuid.uuid4()),
            claim: professional_id,
        }
        return jwt.encode(claims, self._private_key(), algorithm=DEV_ALGORITHM,
                          headers={"kid": self.key_id})


_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired; get a new one"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidIssuerError, "the token comes from another issuer"),
    (jwt.InvalidAudienceError, "the token is meant for another audience"),
    (jwt.InvalidAlgorithmError, "the token's signing algorithm is not accepted"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.PyJWKClientError, "the token is signed with a key the identity provider does "
                           "not publish"),
)


def _reason(error: Exception) -> str:
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "the token is not a valid signed token"


class TokenVerifier:
    """Checks a bearer token and returns the professional id its configured claim holds."""

    def __init__(self, settings: Settings) -> None:
        self._claim = settings.oidc_professional_claim
        self._jwks: jwt.PyJWKClient | None = None
        self._dev: DevIssuer | None = None
        if settings.oidc_issuer is not None:
            assert settings.oidc_jwks_url is not None and settings.oidc_audience is not None
            self._issuer = settings.oidc_issuer
            self._audience = settings.oidc_audience
            self._algorithms = list(settings.oidc_algorithms)
            # Keys are cached and fetched again when a token names an unknown `kid` (the
            # provider rotated its keys), at most once per cooldown.
            self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_jwk_set=True,
                                         lifespan=300, timeout=5)
        elif settings.dev_issuer_enabled:
            self._issuer, self._audience = DEV_ISSUER, DEV_AUDIENCE
            self._algorithms = [DEV_ALGORITHM]
            self._dev = DevIssuer(settings.data_dir)
        else:
            self._issuer = self._audience = ""
            self._algorithms = []

    @property
    def enabled(self) -> bool:
        return self._jwks is not None or self._dev is not None

    async def professional_id(self, token: str) -> str:
        claims = await self.claims(token)
        subject = claims.get(self._claim)
        if not isinstance(subject, str) or not subject:
            raise InvalidTokenError(f"the token's {self._claim} claim is not a directory id")
        return subject

    async def claims(self, token: str, audience: str | None = None) -> dict[str, Any]:
        """The token's claims once its signature, issuer, audience (`audience`, else the
        configured one: an OIDC id token is for the client id) and expiry check out."""
        if not self.enabled:
            raise InvalidTokenError("bearer tokens are not accepted here: no identity "
                                    "provider is configured")
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise InvalidTokenError("the token is not a valid signed token")
        try:
            key = await self._signing_key(token)
            claims = jwt.decode(
                token, key, algorithms=self._algorithms, audience=audience or self._audience,
                issuer=self._issuer, leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", self._claim]})
        except jwt.PyJWKClientConnectionError as error:
            raise IdentityProviderUnavailableError(
                "the identity provider's keys cannot be fetched; retry later") from error
        except jwt.PyJWTError as error:
            raise InvalidTokenError(_reason(error)) from None
        return claims

    async def _signing_key(self, token: str) -> Any:
        if self._dev is not None:
            return self._dev.public_key()
        assert self._jwks is not None
        # PyJWKClient fetches with urllib: off the event loop.
        return (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
