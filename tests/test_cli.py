from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from domain.events import TrajectoryReferred
from infra.directory import import_directory
from infra.event_store import PostgresEventStore
from infra.key_wrapping import KeyUnwrapError, WrappedKey, key_wrapper_for
from infra.partner_keys import authenticate_key
from infra.settings import Settings
from infra.tokens import TokenVerifier
from tests.directory_fixture import DIRECTORY, SCHOOL
from tests.factories import new_event, referral
from tests.key_keepers import SELF_ROTATING
from tests.vault_transit_server import TOKEN, Transit
from workers.cli.audit import audit
from workers.cli.case_show import case_timeline as timeline
from workers.cli.erasure import erase_subject
from workers.cli.key_encryption import keys_rotate_kek, keys_status
from workers.cli.partner_keys import partner_key_create, partner_key_list, partner_key_revoke
from workers.cli.tokens import token_issue


async def test_timeline_lists_events_with_actor_and_erasure_reports(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await pg_store.append("trajectory-c7", 0, [
        new_event(TrajectoryReferred(case_id="c7", referral=referral()), actor="partner:GGD")])
    settings = Settings(database_url=database_dsn, kek=kek)

    assert await timeline(settings, "c7", as_json=False) == 0
    out = capsys.readouterr().out
    assert "Referred by Basisschool De Linde" in out and "2 family members" in out
    assert "partner:GGD" in out  # who: the recorded actor (no professional by that name)
    assert "TrajectoryReferred" not in out  # the domain's words, not the event's type

    assert await timeline(settings, "unknown", as_json=False) == 3
    assert capsys.readouterr().err == (
        "there is no case 'unknown'; see `regie case list` or `regie overview`\n")

    assert await erase_subject(settings, "c-1") == 1  # not at a terminal, no --yes
    assert "--yes" in capsys.readouterr().err
    assert await erase_subject(settings, "c-1", yes=True) == 0
    assert "erased" in capsys.readouterr().out
    assert await erase_subject(settings, "c-1", yes=True) == 0
    assert "already erased" in capsys.readouterr().out


async def test_partner_keys_are_shown_once_and_revoked_at_once(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(database_url=database_dsn, kek=kek)
    async with pg_store.pool.acquire() as conn:
        await import_directory(conn, DIRECTORY, source="tests")

    assert await partner_key_create(settings, "no-such-org") == 3
    assert "not an active organisation" in capsys.readouterr().err
    assert await partner_key_create(settings, SCHOOL) == 0
    printed = capsys.readouterr()
    key = printed.out.strip()
    async with pg_store.pool.acquire() as conn:
        principal = await authenticate_key(conn, key)
        stored = await conn.fetch("SELECT * FROM partner_keys")
    assert principal is not None and principal.organisation_id == SCHOOL
    assert key not in str([dict(r) for r in stored])  # only a digest is kept
    assert principal.key_id in printed.err

    assert await partner_key_list(settings, SCHOOL) == 0
    assert "last used" in capsys.readouterr().out
    assert await partner_key_revoke(settings, principal.key_id) == 0
    assert "revoked" in capsys.readouterr().out
    async with pg_store.pool.acquire() as conn:
        assert await authenticate_key(conn, key) is None
    assert await partner_key_revoke(settings, "pk-unknown") == 3


async def test_dev_tokens_are_for_active_professionals_of_the_directory(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=database_dsn, data_dir=tmp_path, kek=kek)
    async with pg_store.pool.acquire() as conn:
        await import_directory(conn, DIRECTORY, source="tests")
    assert await token_issue(settings, "pro-coord", 10) == 0
    issued = capsys.readouterr().out.strip()
    assert await TokenVerifier(settings).professional_id(issued) == "pro-coord"
    assert await token_issue(settings, "nobody", None) == 3
    assert "not an active professional" in capsys.readouterr().err
    assert await token_issue(settings, "pro-coord", 10_000) == 2
    production = Settings(database_url=database_dsn, data_dir=tmp_path,
                          oidc_issuer="https://login.example.nl", oidc_audience="regie",
                          oidc_jwks_url="https://login.example.nl/certs")
    assert await token_issue(production, "pro-coord", 10) == 1
    assert "identity provider" in capsys.readouterr().err


async def test_audit_shows_who_read_what_including_the_clis_own_reads(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(database_url=database_dsn, kek=kek)
    await pg_store.append("trajectory-c8", 0, [
        new_event(TrajectoryReferred(case_id="c8", referral=referral()), actor="partner:x")])
    assert await timeline(settings, "c8", as_json=False) == 0
    capsys.readouterr()
    assert await audit(settings, "c8", None, None, as_json=True, limit=100) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["principal_kind"], r["action"], r["case_id"]) for r in rows] == [
        ("cli", "cli:timeline", "c8"), ("cli", "cli:audit", "c8")]
    assert await audit(settings, None, rows[0]["principal_id"], date(2020, 1, 1),
                       as_json=False, limit=100) == 0
    assert "cli:timeline" in capsys.readouterr().out


@pytest.mark.parametrize("kind", SELF_ROTATING)
async def test_rotate_kek_with_destroy_old_ends_every_old_copy_of_a_key(
    kind: str, pool: asyncpg.Pool, database_dsn: str, tmp_path: Path,
    vault: tuple[str, Transit], capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(database_url=database_dsn, data_dir=tmp_path)
    if kind == "vault":
        settings = Settings(database_url=database_dsn, data_dir=tmp_path,
                            vault_addr=vault[0], vault_token=TOKEN,
                            vault_transit_key=f"regie-cli-{uuid.uuid4().hex[:8]}")
    store = PostgresEventStore(pool, key_wrapper=key_wrapper_for(settings))
    await store.append("trajectory-c9", 0, [new_event(TrajectoryReferred(
        case_id="c9", referral=referral(parent="p-9", child="c-9",
                                        parent_name="Fatima El Amrani")))])
    async with pool.acquire() as conn:
        backup = await conn.fetch("SELECT subject_id, wrapped_key, kek_id FROM subject_keys")
    (old_id,) = {r["kek_id"] for r in backup}

    assert await keys_status(settings) == 0
    assert f"2  wrapped under {old_id}" in capsys.readouterr().out
    assert await keys_rotate_kek(settings, destroy_old=True, batch_size=1) == 0
    out = capsys.readouterr().out
    assert "2 person keys re-wrapped" in out and f"destroyed KEKs: {old_id}" in out
    assert "Fatima" not in out

    after = key_wrapper_for(settings)  # a process started after the rotation
    for row in backup:
        with pytest.raises(KeyUnwrapError):
            await after.unwrap(row["subject_id"], WrappedKey(row["kek_id"],
                                                             bytes(row["wrapped_key"])))
    (read,) = await PostgresEventStore(pool, key_wrapper=after).read_stream("trajectory-c9")
    assert isinstance(read.payload, TrajectoryReferred)
    assert read.payload.referral.members[0].name == "Fatima El Amrani"
    assert await keys_status(settings) == 0
    status = capsys.readouterr().out
    assert old_id not in status and "2  wrapped under" in status
    await after.aclose()


async def test_rotating_an_environment_kek_rewraps_but_leaves_destroying_to_the_operator(
    pool: asyncpg.Pool, database_dsn: str, capsys: pytest.CaptureFixture[str],
) -> None:
    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    before = Settings(database_url=database_dsn, kek=old)
    store = PostgresEventStore(pool, key_wrapper=key_wrapper_for(before))
    await store.append("trajectory-c9", 0, [new_event(TrajectoryReferred(
        case_id="c9", referral=referral(parent="p-9", child="c-9")))])
    during = Settings(database_url=database_dsn, kek=new, kek_previous=old)

    assert await keys_rotate_kek(during, destroy_old=True, batch_size=10) == 1
    printed = capsys.readouterr()
    assert "2 person keys re-wrapped" in printed.out
    assert "Remove REGIE_KEK_PREVIOUS" in printed.err
    assert old not in printed.out + printed.err and new not in printed.out + printed.err
    # Started without the old secret, the processes read everything.
    after = Settings(database_url=database_dsn, kek=new)
    assert len(await PostgresEventStore(pool, key_wrapper=key_wrapper_for(after))
               .read_stream("trajectory-c9")) == 1
