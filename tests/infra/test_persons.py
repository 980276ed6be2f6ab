"""Matching referred persons to families, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncpg

from domain.family import MemberRole
from domain.persons import identifiers
from infra.persons import FamilyMatch, PersonToMatch, forget_person, match_family
from tests.factories import partner_referral

SECRET = secrets.token_bytes(32)


def people(**family: Any) -> list[PersonToMatch]:
    referral = partner_referral(**family)
    return [PersonToMatch(ref=m.ref, role=m.role, identifiers=m.identifiers())
            for m in referral.members]


async def always_open(_: str) -> bool:
    return True


async def match(pool: asyncpg.Pool, **family: Any) -> FamilyMatch:
    async with pool.acquire() as conn:
        return await match_family(conn, SECRET, people(**family), always_open)


async def test_two_referrals_of_a_new_family_at_once_make_one_trajectory(
        pool: asyncpg.Pool) -> None:
    first, second = await asyncio.gather(match(pool), match(pool))
    assert first.case_id == second.case_id
    assert {first.joined, second.joined} == {False, True}
    assert first.person_ids == second.person_ids


async def test_no_identifier_is_stored_as_it_is(pool: asyncpg.Pool) -> None:
    await match(pool, child_bsn="111222333")
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM person_pseudonyms")
        text = str([dict(r) for r in rows]) + str(
            [dict(r) for r in await conn.fetch("SELECT * FROM persons")])
    assert len(rows) == 3  # the child's BSN, and name and birth date for both
    for plain in ("111222333", "kind een", "Kind Een", "2014-09-02"):
        assert plain not in text
        assert plain.encode().hex() not in text


async def test_an_ended_trajectory_is_not_joined(pool: asyncpg.Pool) -> None:
    first = await match(pool)

    async def ended(case_id: str) -> bool:
        return case_id != first.case_id

    async with pool.acquire() as conn:
        again = await match_family(conn, SECRET, people(), ended)
    assert again.case_id != first.case_id and not again.joined
    assert again.person_ids == first.person_ids  # the same persons, in a new trajectory


async def test_a_forgotten_person_is_a_stranger_to_the_next_referral(
        pool: asyncpg.Pool) -> None:
    first = await match(pool)
    async with pool.acquire() as conn:
        for person_id in first.person_ids.values():
            assert await forget_person(conn, person_id)
        assert await conn.fetchval("SELECT count(*) FROM person_pseudonyms") == 0
    again = await match(pool)
    assert not again.joined
    assert set(again.person_ids.values()).isdisjoint(first.person_ids.values())


def test_identifiers_of_a_member_are_those_of_the_domain() -> None:
    member = partner_referral(child_bsn="111222333").members[1]
    assert member.identifiers() == identifiers(member.name, member.birth_date, "111222333")
    assert member.role is MemberRole.CHILD
