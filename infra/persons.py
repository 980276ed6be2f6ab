"""Persons and families: Regie's own ids, keyed pseudonyms, and matching a referral to the
family's open trajectory (one family, one trajectory).

A referral names persons the partner's way (its own references, a BSN where known, name
and birth date). Here each becomes a Regie person id: the one already known when a
pseudonym matches, else a new one. Then the family: a referral whose persons include a
parent and a child of an open trajectory joins it, whichever partner sends it and
whatever reference it uses. A referral that shares only some persons with an open
trajectory (the same child with another parent) is not merged: it opens its own
trajectory, which names the other as a possible match for the team to decide on.

Matching runs under transaction-scoped advisory locks on the pseudonyms, so two
referrals of the same new family at once still end up in one trajectory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from domain.family import MemberRole
from domain.persons import PersonIdentifier
from infra.pgtypes import Conn


def pseudonym(secret: bytes, identifier: PersonIdentifier) -> bytes:
    """HMAC-SHA256 of the normalised identifier: stable for matching, meaningless without
    the secret (a plain hash of a BSN is reversed by trying all 10^9 of them)."""
    return hmac.new(secret, f"{identifier.kind.value}:{identifier.value}".encode(),
                    hashlib.sha256).digest()


def new_person_id() -> str:
    return "p-" + secrets.token_hex(8)


def new_case_id() -> str:
    return "c-" + secrets.token_hex(8)


@dataclass(frozen=True)
class PersonToMatch:
    ref: str  # the partner's reference for this person within the referral
    role: MemberRole
    identifiers: tuple[PersonIdentifier, ...]  # the strongest (BSN) first


@dataclass(frozen=True)
class FamilyMatch:
    case_id: str
    joined: bool  # the family's open trajectory already existed
    person_ids: dict[str, str]  # partner's ref -> Regie person id
    possible_matches: tuple[str, ...]  # open trajectories sharing only some persons


IsOpen = Callable[[str], Awaitable[bool]]


async def match_family(conn: Conn, secret: bytes, people: Sequence[PersonToMatch],
                       is_open: IsOpen) -> FamilyMatch:
    """Regie's ids for the referred persons and the trajectory the referral belongs to;
    records new persons, their pseudonyms and the case's members. `is_open(case_id)`
    says whether a trajectory is still open (not ended)."""
    names = {p.ref: [(i, pseudonym(secret, i)) for i in p.identifiers] for p in people}
    every = sorted({digest for found in names.values() for _, digest in found})
    async with conn.transaction():
        for digest in every:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                               digest.hex())
        known = {r["pseudonym"]: r["person_id"] for r in await conn.fetch(
            "SELECT pseudonym, person_id FROM person_pseudonyms "
            "WHERE pseudonym = ANY($1::bytea[])", every)}
        person_ids = {ref: next((known[d] for _, d in found if d in known), None)
                      for ref, found in names.items()}
        case_id, joined, possible = await _family(conn, people, person_ids, is_open)
        ids = {ref: pid or new_person_id() for ref, pid in person_ids.items()}
        for person in people:
            person_id = ids[person.ref]
            await conn.execute("INSERT INTO persons (person_id) VALUES ($1) "
                               "ON CONFLICT DO NOTHING", person_id)
            # A pseudonym already taken by someone else stays theirs: the first
            # recognition wins, and a BSN learned later is added to the person.
            await conn.executemany(
                "INSERT INTO person_pseudonyms (pseudonym, person_id, kind) "
                "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                [(digest, person_id, identifier.kind.value)
                 for identifier, digest in names[person.ref]])
            await conn.execute(
                "INSERT INTO case_members (case_id, person_id, role) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING", case_id, person_id, person.role.value)
    return FamilyMatch(case_id=case_id, joined=joined, person_ids=ids,
                       possible_matches=possible)


async def _family(conn: Conn, people: Sequence[PersonToMatch],
                  person_ids: dict[str, str | None], is_open: IsOpen
                  ) -> tuple[str, bool, tuple[str, ...]]:
    matched = {pid: p.role for p in people if (pid := person_ids[p.ref]) is not None}
    if not matched:
        return new_case_id(), False, ()
    rows = await conn.fetch(
        "SELECT case_id, person_id, role FROM case_members WHERE person_id = ANY($1::text[])",
        list(matched))
    members: dict[str, dict[str, str]] = {}
    for r in rows:
        members.setdefault(r["case_id"], {})[r["person_id"]] = r["role"]
    open_cases = [c for c in sorted(members) if await is_open(c)]

    def same_family(case_id: str) -> bool:
        # A parent and a child of this referral are a parent and a child there too.
        there = members[case_id]
        return all(any(there.get(pid) == role.value and matched[pid] is role
                       for pid in matched)
                   for role in (MemberRole.PARENT, MemberRole.CHILD))

    family = [c for c in open_cases if same_family(c)]
    if family:
        # More than one would be two trajectories of one family already; join the one
        # sharing the most persons and name the others for the team.
        chosen = max(family, key=lambda c: (len(members[c]), c))
        return chosen, True, tuple(c for c in open_cases if c != chosen)
    return new_case_id(), False, tuple(open_cases)


async def cases_of(conn: Conn, person_id: str) -> list[str]:
    """The trajectories a person was referred in."""
    return [r["case_id"] for r in await conn.fetch(
        "SELECT case_id FROM case_members WHERE person_id = $1 ORDER BY case_id", person_id)]


async def cases_without_members(conn: Conn, case_ids: list[str]) -> list[str]:
    """Of `case_ids`, those none of whose persons Regie still knows: every member was
    erased, so the family's own key (free text about the whole family) goes too."""
    remaining = {r["case_id"] for r in await conn.fetch(
        "SELECT DISTINCT case_id FROM case_members WHERE case_id = ANY($1::text[])",
        case_ids)}
    return [c for c in case_ids if c not in remaining]


async def forget_person(conn: Conn, person_id: str) -> bool:
    """After erasure: the person can no longer be recognised (pseudonyms and
    memberships go with the row). A later referral makes a new person."""
    deleted: str | None = await conn.fetchval(
        "DELETE FROM persons WHERE person_id = $1 RETURNING person_id", person_id)
    return deleted is not None
