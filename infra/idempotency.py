"""Idempotency keys, scoped to the principal and bound to the request they came with.

A write names an `Idempotency-Key`. The first request with a key claims it for its
principal, with a fingerprint of the request (what it asks, on which case, the validated
body). Then:

- the same key with the same request returns the first answer, and does nothing twice;
- the same key with a different request is refused (409), and nothing is written;
- two principals that pick the same key never meet: the scope is the principal.

A request that fails (refused, invalid, the engine down) gives its key back, so a
corrected request may use it. Temporal's update id is derived from the scope and the key
too (`scoped_key`), so a retry that races the first request is still done once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from infra.pgtypes import Conn


def fingerprint(action: str, case_id: str | None, body: str) -> bytes:
    """`body` is the validated request in its canonical JSON form, so spacing or key
    order in what was sent does not matter."""
    return hashlib.sha256(f"{action}\n{case_id or ''}\n{body}".encode()).digest()


def scoped_key(scope: str, key: str) -> str:
    """An opaque id for (principal, key): Temporal update ids and partner signal keys."""
    return hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()[:40]


class ClaimKind(Enum):
    NEW = "new"  # go ahead (also: the same request is still under way; Temporal dedupes)
    REPLAY = "replay"  # answered before: return that answer
    CONFLICT = "conflict"  # the key was used for another request


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    status: int | None = None
    response: Any = None


async def claim_key(conn: Conn, scope: str, key: str, print_: bytes) -> Claim:
    inserted = await conn.fetchval(
        """INSERT INTO idempotency_keys (scope, key, fingerprint) VALUES ($1, $2, $3)
           ON CONFLICT (scope, key) DO NOTHING RETURNING true""", scope, key, print_)
    if inserted:
        return Claim(ClaimKind.NEW)
    row = await conn.fetchrow(
        "SELECT fingerprint, status, response FROM idempotency_keys "
        "WHERE scope = $1 AND key = $2", scope, key)
    if row is None:  # released in between: claim again
        return await claim_key(conn, scope, key, print_)
    if bytes(row["fingerprint"]) != print_:
        return Claim(ClaimKind.CONFLICT)
    if row["status"] is None:
        return Claim(ClaimKind.NEW)
    return Claim(ClaimKind.REPLAY, status=row["status"], response=json.loads(row["response"]))


async def complete_key(conn: Conn, scope: str, key: str, status: int, response: Any) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, response = $4::jsonb "
        "WHERE scope = $1 AND key = $2", scope, key, status, json.dumps(response))


async def release_key(conn: Conn, scope: str, key: str, print_: bytes) -> None:
    """Give back an unanswered claim, only the one this request made."""
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND fingerprint = $3 "
        "AND status IS NULL", scope, key, print_)
