"""Professionals' tokens: checked against a JWKS served on this machine by the test, as
the region's identity provider would serve it; and the local dev issuer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from infra.settings import Settings
from infra.tokens import (
    DevIssuer,
    IdentityProviderUnavailableError,
    InvalidTokenError,
    TokenVerifier,
)
from tests.identity_provider import (
    AUDIENCE,
    ISSUER,
    PUBLISHED,
    UNPUBLISHED,
    oidc_settings,
    token,
)


async def test_a_valid_token_names_the_professional_by_the_configured_claim(
        jwks_url: str) -> None:
    verifier = TokenVerifier(oidc_settings(jwks_url))
    assert await verifier.professional_id(token()) == "pro-1"


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("expired", lambda: token(expires_in=timedelta(minutes=-5)), "expired"),
    ("wrong issuer", lambda: token(issuer="https://evil.example.nl"), "another issuer"),
    ("wrong audience", lambda: token(audience="other-app"), "another audience"),
    ("unknown key", lambda: token(key=UNPUBLISHED, kid="key-2"), "does not publish"),
    ("published kid, other key", lambda: token(key=UNPUBLISHED), "does not verify"),
    ("empty claim", lambda: token(who=""), "preferred_username"),
])
async def test_bad_tokens_are_refused_with_the_reason(
        jwks_url: str, name: str, make: Any, reason: str) -> None:
    verifier = TokenVerifier(oidc_settings(jwks_url))
    with pytest.raises(InvalidTokenError, match=reason):
        await verifier.professional_id(make())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_symmetric_and_unsigned_tokens_are_refused(jwks_url: str) -> None:
    verifier = TokenVerifier(oidc_settings(jwks_url))
    now = int(datetime.now(UTC).timestamp())
    claims = _b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300,
                              "preferred_username": "pro-1"}).encode())
    # The classic confusion: HS256 with the provider's public key as the HMAC secret,
    # made by hand (PyJWT refuses to make it).
    public_pem = PUBLISHED.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = _b64(json.dumps({"alg": "HS256", "kid": "key-1"}).encode()) + "." + claims
    forged = signing_input + "." + _b64(
        hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
    unsigned = _b64(json.dumps({"alg": "none", "kid": "key-1"}).encode()) + "." + claims + "."
    for bad in (forged, unsigned):
        with pytest.raises(InvalidTokenError):
            await verifier.professional_id(bad)


def test_only_asymmetric_algorithms_can_be_configured(jwks_url: str) -> None:
    with pytest.raises(ValueError, match="HS256"):
        oidc_settings(jwks_url, oidc_algorithms=("RS256", "HS256"))
    with pytest.raises(ValueError, match="REGIE_OIDC_JWKS_URL"):
        Settings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE)


async def test_an_unreachable_identity_provider_is_not_the_callers_fault() -> None:
    verifier = TokenVerifier(oidc_settings("http://127.0.0.1:9/certs"))
    with pytest.raises(IdentityProviderUnavailableError):
        await verifier.professional_id(token())


async def test_the_dev_issuer_signs_with_a_private_key_under_the_data_dir(
        tmp_path: Path, jwks_url: str) -> None:
    settings = Settings(data_dir=tmp_path)
    issued = DevIssuer(tmp_path).issue("pro-1", minutes=5)
    assert await TokenVerifier(settings).professional_id(issued) == "pro-1"
    key_file = tmp_path / "dev-issuer" / "signing-key.pem"
    assert key_file.stat().st_mode & 0o077 == 0  # only its owner can read it
    # A token of another machine's dev issuer does not pass.
    other = DevIssuer(tmp_path / "elsewhere").issue("pro-1", minutes=5)
    with pytest.raises(InvalidTokenError):
        await TokenVerifier(settings).professional_id(other)
    # With an identity provider set, the dev issuer's tokens are refused.
    with pytest.raises(InvalidTokenError):
        await TokenVerifier(oidc_settings(jwks_url, data_dir=tmp_path)).professional_id(
            issued)
    assert not Settings(data_dir=tmp_path, dev_issuer=False).dev_issuer_enabled
