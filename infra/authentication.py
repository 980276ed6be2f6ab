"""Who is calling: a partner's API key or a professional's bearer token, to a principal.

Identity comes from here and nowhere else: never from a request body. A partner sends
`X-API-Key: regie_pk_...` (`infra.partner_keys`); a professional sends `Authorization:
Bearer <JWT>` (`infra.tokens`), whose configured claim names them in the directory,
where they must be active.
"""

from __future__ import annotations

import asyncpg

from domain.access import Principal, ProfessionalPrincipal
from infra.partner_keys import authenticate_key
from infra.settings import Settings
from infra.tokens import InvalidTokenError, TokenVerifier

API_KEY_HEADER = "X-API-Key"


class UnauthenticatedError(Exception):
    """No valid credentials (401). The message says what to send, never echoes them."""


class Authenticator:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self._tokens = TokenVerifier(settings)
        self._pool = pool

    async def principal(self, api_key: str | None, authorization: str | None) -> Principal:
        if api_key is not None and authorization is not None:
            raise UnauthenticatedError(f"send one credential: {API_KEY_HEADER} (partners) or "
                                       "Authorization: Bearer (professionals), not both")
        if api_key is not None:
            async with self._pool.acquire() as conn:
                partner = await authenticate_key(conn, api_key.strip())
            if partner is None:
                raise UnauthenticatedError("the API key is not valid (unknown or revoked)")
            return partner
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise UnauthenticatedError("the Authorization header must be "
                                           "'Bearer <token>'")
            try:
                professional_id = await self._tokens.professional_id(token.strip())
            except InvalidTokenError as error:
                raise UnauthenticatedError(str(error)) from None
            return await self._professional(professional_id)
        raise UnauthenticatedError(f"no credentials: partners send {API_KEY_HEADER}, "
                                   "professionals Authorization: Bearer <token>")

    @property
    def tokens(self) -> TokenVerifier:
        """The verifier of the identity provider's tokens (the workspace checks the id
        token of an OIDC sign-in with it)."""
        return self._tokens

    async def professional(self, professional_id: str) -> ProfessionalPrincipal:
        """The principal of a professional signed in another way (the workspace's
        session): they must still be active in the directory, as a token's must."""
        return await self._professional(professional_id)

    async def _professional(self, professional_id: str) -> ProfessionalPrincipal:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT p.id, p.organisation_id, p.operator
                   FROM directory_professionals p
                   JOIN directory_organisations o ON o.id = p.organisation_id
                   WHERE p.id = $1 AND p.active AND o.active""", professional_id)
        if row is None:
            # The token is genuine, but Regie does not know this person (any more).
            raise UnauthenticatedError("the token names someone who is not an active "
                                       "professional in the directory")
        return ProfessionalPrincipal(professional_id=row["id"],
                                     organisation_id=row["organisation_id"],
                                     operator=row["operator"])
