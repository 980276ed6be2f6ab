"""Partner organisations' API keys: created, shown once, stored as a digest, revocable.

    regie partner key create ORG     prints a new key for ORG (a directory organisation)
    regie partner key revoke KEY_ID  the key stops working at once
    regie partner key list [ORG]     key ids, organisation, created, last used, revoked

A key is 256 random bits (`secrets.token_urlsafe`), so its SHA-256 digest is enough to
store: there is nothing to guess, and a stolen table does not give the keys. The lookup
is by digest, so the key itself never has to be parsed. Each organisation may hold
several keys, to rotate them without a gap.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.access import PartnerPrincipal
from infra.pgtypes import Conn

KEY_PREFIX = "regie_pk_"
# A longer header is not one of our keys; refusing it early keeps hashing bounded.
MAX_KEY_LENGTH = 200
# `last_used_at` is for operators ("is this key still in use?"), not an audit trail (the
# access log is): refreshing it at most once a minute spares a write per request.
LAST_USED_RESOLUTION = "1 minute"


class UnknownOrganisationError(Exception):
    pass


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    organisation_id: str
    key: str  # shown once, never stored


class PartnerKey(BaseModel):
    model_config = ConfigDict(frozen=True)
    key_id: str
    organisation_id: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


async def create_key(conn: Conn, organisation_id: str) -> IssuedKey:
    active = await conn.fetchval(
        "SELECT active FROM directory_organisations WHERE id = $1", organisation_id)
    if not active:
        raise UnknownOrganisationError(
            f"{organisation_id} is not an active organisation in the directory; import "
            "it first (`regie directory import FILE`)")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "pk-" + secrets.token_hex(6)
    await conn.execute(
        "INSERT INTO partner_keys (key_id, digest, organisation_id) VALUES ($1, $2, $3)",
        key_id, _digest(key), organisation_id)
    return IssuedKey(key_id=key_id, organisation_id=organisation_id, key=key)


async def revoke_key(conn: Conn, key_id: str) -> PartnerKey | None:
    """Revoke a key (again: a no-op); None if there is no such key."""
    row = await conn.fetchrow(
        """UPDATE partner_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE key_id = $1
           RETURNING key_id, organisation_id, created_at, last_used_at, revoked_at""",
        key_id)
    return None if row is None else PartnerKey.model_validate(dict(row))


async def list_keys(conn: Conn, organisation_id: str | None = None) -> list[PartnerKey]:
    rows = await conn.fetch(
        """SELECT key_id, organisation_id, created_at, last_used_at, revoked_at
           FROM partner_keys WHERE $1::text IS NULL OR organisation_id = $1
           ORDER BY organisation_id, created_at""", organisation_id)
    return [PartnerKey.model_validate(dict(r)) for r in rows]


async def authenticate_key(conn: Conn, key: str) -> PartnerPrincipal | None:
    """The organisation a valid key belongs to; None for an unknown or revoked key, or
    one whose organisation left the directory."""
    if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LENGTH or not key.isascii():
        return None
    row = await conn.fetchrow(
        f"""SELECT k.key_id, k.organisation_id,
                   k.last_used_at IS NULL
                   OR k.last_used_at < now() - interval '{LAST_USED_RESOLUTION}' AS stale
            FROM partner_keys k JOIN directory_organisations o ON o.id = k.organisation_id
            WHERE k.digest = $1 AND k.revoked_at IS NULL AND o.active""",
        _digest(key))
    if row is None:
        return None
    if row["stale"]:
        await conn.execute("UPDATE partner_keys SET last_used_at = now() WHERE key_id = $1",
                           row["key_id"])
    return PartnerPrincipal(organisation_id=row["organisation_id"], key_id=row["key_id"])
