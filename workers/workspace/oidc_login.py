"""Signing in at the region's identity provider: the OpenID Connect authorisation-code
flow with PKCE (RFC 7636), state and nonce.

1. `authorization_redirect`: the browser goes to the provider with a fresh state (against
   a forged callback), a nonce (against a replayed id token) and the S256 challenge of a
   fresh code verifier (against an intercepted code); the three are kept in the signed
   login cookie.
2. `exchange_code`: the provider sends the browser back with a code and the state; the
   state must match, and the code is exchanged at the token endpoint (with the verifier
   and, if it has one, the client's secret) for an id token.
3. The id token is checked by the gateway's `TokenVerifier` (the provider's JWKS, the
   issuer, the expiry), for the client id as audience, and its nonce must match. Its
   configured claim names the professional in the directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

import httpx

from infra.settings import Settings
from infra.tokens import IdentityProviderUnavailableError, InvalidTokenError, TokenVerifier
from workers.workspace.session import PendingLogin, new_token

TOKEN_TIMEOUT = 10.0


class LoginFailed(Exception):
    """The sign-in did not succeed; the message is for the person signing in."""


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def configured(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id
                and settings.oidc_authorization_url and settings.oidc_token_url)


def authorization_redirect(settings: Settings, redirect_uri: str, pending: PendingLogin
                           ) -> tuple[str, PendingLogin]:
    """Where to send the browser, and the login to remember (with state, nonce and
    verifier)."""
    assert settings.oidc_authorization_url is not None and settings.oidc_client_id
    remembered = pending.model_copy(update={
        "state": new_token(), "nonce": new_token(), "verifier": new_token()})
    assert remembered.verifier is not None
    query = urlencode({
        "response_type": "code", "client_id": settings.oidc_client_id,
        "redirect_uri": redirect_uri, "scope": "openid", "state": remembered.state,
        "nonce": remembered.nonce, "code_challenge": challenge(remembered.verifier),
        "code_challenge_method": "S256"})
    separator = "&" if "?" in settings.oidc_authorization_url else "?"
    return f"{settings.oidc_authorization_url}{separator}{query}", remembered


async def exchange_code(settings: Settings, verifier: TokenVerifier, redirect_uri: str,
                        pending: PendingLogin, code: str | None, state: str | None,
                        error: str | None) -> str:
    """The professional's directory id from the provider's answer, or `LoginFailed`."""
    if error is not None:
        raise LoginFailed("the identity provider did not sign you in")
    if (state is None or pending.state is None
            or not hmac.compare_digest(state.encode(), pending.state.encode())):
        raise LoginFailed("this sign-in does not match the one started here; start again")
    if not code or len(code) > 4096:
        raise LoginFailed("the identity provider sent no code; start again")
    assert settings.oidc_token_url is not None and settings.oidc_client_id is not None
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": settings.oidc_client_id, "code_verifier": pending.verifier or ""}
    auth: httpx.Auth | None = None
    if settings.oidc_client_secret is not None:  # a confidential client: HTTP Basic
        auth = httpx.BasicAuth(settings.oidc_client_id,
                               settings.oidc_client_secret.get_secret_value())
    try:
        async with httpx.AsyncClient(timeout=TOKEN_TIMEOUT, auth=auth) as http:
            answer = await http.post(settings.oidc_token_url, data=form,
                                     headers={"Accept": "application/json"})
    except httpx.HTTPError as err:
        raise IdentityProviderUnavailableError(
            "the identity provider cannot be reached; retry later") from err
    if answer.status_code != 200:
        raise LoginFailed("the identity provider refused the sign-in; start again")
    try:
        id_token = answer.json().get("id_token")
    except ValueError:
        id_token = None
    if not isinstance(id_token, str):
        raise LoginFailed("the identity provider sent no id token")
    try:
        claims = await verifier.claims(id_token, audience=settings.oidc_client_id)
    except InvalidTokenError as err:
        raise LoginFailed(f"the id token is not acceptable: {err}") from None
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or pending.nonce is None or not hmac.compare_digest(
            nonce.encode(), pending.nonce.encode()):
        raise LoginFailed("the id token was not issued for this sign-in; start again")
    subject = claims.get(settings.oidc_professional_claim)
    if not isinstance(subject, str) or not subject:
        raise LoginFailed("the id token does not name a professional")
    return subject
