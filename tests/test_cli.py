from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from domain.events import ContactAttempted, TrajectoryReferred
from infra.directory import import_directory
from infra.event_store import PostgresEventStore
from infra.key_wrapping import KeyUnwrapError, WrappedKey, key_wrapper_for
from infra.partner_keys import authenticate_key
from infra.settings import Settings
from infra.tokens import TokenVerifier
from tests.cli_case import COORDINATOR_NAME, PARENT, PARENT_NAME, event, regie, write_story
from tests.directory_fixture import DIRECTORY, SCHOOL
from tests.factories import new_event, referral
from tests.key_keepers import SELF_ROTATING
from tests.vault_transit_server import TOKEN, Transit
from workers.cli.app import build
from workers.cli.audit import audit
from workers.cli.case_show import case_show
from workers.cli.case_show import case_timeline as timeline
from workers.cli.directory import directory_import, directory_show
from workers.cli.erasure import erase_subject
from workers.cli.key_encryption import keys_rotate_kek, keys_status
from workers.cli.migrations import migrate
from workers.cli.partner_keys import partner_key_create, partner_key_list, partner_key_revoke
from workers.cli.payload_keys import payload_key_new
from workers.cli.tokens import token_issue
from workers.demo import EXAMPLE_DIRECTORY


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


# -- the typer and rich command line ------------------------------------------------


def cli_env(database_dsn: str, kek: SecretStr, data_dir: Path) -> dict[str, str]:
    return {"REGIE_DATABASE_URL": database_dsn, "REGIE_KEK": kek.get_secret_value(),
            "REGIE_DATA_DIR": str(data_dir), "COLUMNS": "1000"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def leaf_commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    # Typer carries its own copy of click: a group is what has subcommands.
    subcommands = getattr(command, "commands", None)
    if subcommands is not None:
        return [leaf for name, sub in sorted(subcommands.items())
                for leaf in leaf_commands(sub, (*path, name))]
    return [(path, command)]


def test_every_command_has_help_and_json() -> None:
    root = typer.main.get_command(build())
    leaves = leaf_commands(root)
    assert {" ".join(p) for p, _ in leaves} >= {
        "case show", "case history", "case verify", "verify", "timeline", "overview",
        "erase-subject", "migrate", "directory import", "directory show",
        "partner key create", "partner key revoke", "partner key list", "token issue",
        "audit", "keys status", "keys rotate-kek", "payload-key new"}
    runner = CliRunner()
    for path, command in leaves:
        assert "--json" in {o for p in command.params for o in p.opts}, path
        result = runner.invoke(build(), [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "--json" in result.output, path
    assert "4 the database or Temporal cannot be reached" in " ".join(
        runner.invoke(build(), ["--help"]).output.split())


async def test_case_show_tells_the_case_in_domain_words_and_the_regions_clock(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # one row, one line: sentences stay whole
    await write_story(pg_store, "story-1")
    settings = Settings(database_url=database_dsn, kek=kek)

    assert await case_show(settings, "story-1", as_json=False, today=date(2026, 12, 23)) == 0
    out = capsys.readouterr().out
    assert PARENT_NAME in out and COORDINATOR_NAME in out
    assert "Care coordinator: Fatima El Amrani (pro-coord)" in out
    # Found at 23:00 UTC on 21 December: 00:00 on the 22nd in Amsterdam; the evaluation
    # was due on the 21st (a date-only deadline passes when its day is over).
    found = next(line for line in out.splitlines() if "Stagnation found" in line)
    assert [cell.strip() for cell in found.split("│")][1:4] == [
        "22 Dec 2026 00:00", "system",
        "Stagnation found: evaluation overdue (due 21 Dec): plan version 1 was due for "
        "evaluation on 2026-12-21 and has not been evaluated. Opened escalation episode ep-1 "
        "(evaluation overdue). Episode ep-1 at level 1 with Fatima El Amrani (care "
        "coordinator), respond by Wed 30 Dec 2026: the care coordinator acts first"]
    assert "21 Dec 2026 23:00" not in out
    # From Wednesday 23 to Wednesday 30 December: Christmas (Friday) does not count.
    assert "4 working days left" in out
    agreement = next(line for line in out.splitlines() if "a-1" in line)
    assert "dagelijks contact met school" in agreement and "overdue" in agreement
    # Hostile data is shown, not obeyed.
    assert "\x1b" not in out and "\u202e" not in out
    assert "Jan \\x1b[2J[bold red]Jansen[/]\\u202e" in out

    assert await case_show(settings, "story-1", as_json=True, today=date(2026, 12, 23)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["open_episodes"][0]["working_days_left"] == 4
    assert report["goal_progress"] == {}
    (step,) = [e for e in report["timeline"] if "StagnationFound" in e["types"]]
    assert step["types"] == ["StagnationFound", "EscalationOpened", "EscalationLevelAssigned"]

    # Erased: the person's words are gone from what the operator reads; the facts stay.
    await pg_store.erase_subject(PARENT)
    assert await case_show(settings, "story-1", as_json=False, today=date(2026, 12, 23)) == 0
    out = capsys.readouterr().out
    assert PARENT_NAME not in out and "(erased)" in out and COORDINATOR_NAME in out
    assert await case_show(settings, "story-1", as_json=True, today=date(2026, 12, 23)) == 0
    members = {m["person_id"]: m for m in json.loads(capsys.readouterr().out)["case"]["members"]}
    assert members[PARENT]["name"] == {"erased": True}
    assert members["c-1"]["name"] == "Sam de Vries"

    assert await audit(settings, "story-1", None, None, as_json=True, limit=100) == 0
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert actions.count("cli:case_show") == 4


async def test_the_command_line_as_an_operator_runs_it(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr, tmp_path: Path,
) -> None:
    await write_story(pg_store, "story-2")
    env = cli_env(database_dsn, kek, tmp_path)

    shown = regie(["case", "show", "story-2", "--json"], env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["case"]["coordinator_id"] == "pro-coord"
    timeline_lines = regie(["timeline", "story-2", "--json"], env)
    assert [json.loads(line)["versions"] for line in timeline_lines.stdout.splitlines()][-1] == [
        8, 9, 10]

    unknown = regie(["case", "show", "nope"], env)
    assert (unknown.returncode, unknown.stderr) == (
        3, "there is no case 'nope'; see `regie case list` or `regie overview`\n")
    malformed = regie(["case", "show", "no/such id"], env)
    assert malformed.returncode == 2 and "Traceback" not in malformed.stderr
    refused = regie(["erase-subject", PARENT], env)  # no terminal, no --yes
    assert refused.returncode == 1 and "--yes" in refused.stderr

    overview_json = regie(["overview", "--json"], env)
    assert overview_json.returncode == 0 and overview_json.stdout == ""  # no projector ran
    version = regie(["--version"], env)
    assert version.stdout.startswith("regie ") and version.returncode == 0
    completion = regie([], {**env, "_REGIE_COMPLETE": "complete_bash",
                            "COMP_WORDS": "regie case ve", "COMP_CWORD": "2"})
    assert completion.stdout.split() == ["verify"]


async def test_an_outage_is_one_line_and_its_own_exit_code(
    database_dsn: str, kek: SecretStr, tmp_path: Path,
) -> None:
    env = cli_env(database_dsn, kek, tmp_path)
    port = closed_port()
    database_away = regie(["case", "show", "c-1"], {
        **env, "REGIE_DATABASE_URL": f"postgresql://regie:s3cret@127.0.0.1:{port}/regie"})
    assert database_away.returncode == 4
    assert database_away.stderr.startswith("the database cannot be reached (")
    assert database_away.stderr.count("\n") == 1 and "s3cret" not in database_away.stderr

    temporal_away = regie(["case", "history", "c-1"], {
        **env, "REGIE_TEMPORAL_ADDRESS": f"127.0.0.1:{port}"})
    assert temporal_away.returncode == 4
    assert temporal_away.stderr.startswith(f"Temporal cannot be reached at 127.0.0.1:{port} (")
    assert temporal_away.stderr.count("\n") == 1


async def test_the_demo_without_a_gateway_is_one_line(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr, tmp_path: Path,
) -> None:
    port = closed_port()
    seeded = regie(["demo", "--gateway", f"http://127.0.0.1:{port}"],
                   cli_env(database_dsn, kek, tmp_path))
    assert seeded.returncode == 4
    assert seeded.stderr == (f"the gateway cannot be reached at http://127.0.0.1:{port} "
                             "(ConnectError); is the stack up (`python3 infra/bootstrap.py "
                             "up`)?\n")


async def test_a_reader_that_stops_early_ends_the_output_quietly(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr, tmp_path: Path,
) -> None:
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    # Far more than a pipe holds, so the writer is still writing when the reader stops.
    await pg_store.append("trajectory-long-1", 0, [
        new_event(TrajectoryReferred(case_id="long-1", referral=referral()))] + [
        event(ContactAttempted(by="pro-coord", channel="telefoon", reached=False),
              start + timedelta(minutes=i)) for i in range(2000)])
    reader, writer = os.pipe()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.cli", "timeline", "long-1", stdout=writer,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **cli_env(database_dsn, kek,
                                                                      tmp_path)})
    os.close(writer)
    with os.fdopen(reader) as stdout:
        assert (await asyncio.to_thread(stdout.readline)).strip() == "Timeline"
    # `| head -1`: the reader has gone.
    assert process.stderr is not None
    stderr = await asyncio.wait_for(process.stderr.read(), 120)
    assert await process.wait() == 0
    assert stderr == b""


async def test_the_keeping_commands_answer_in_json_too(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(database_url=database_dsn, data_dir=tmp_path, kek=kek)

    def document() -> Any:
        (line,) = capsys.readouterr().out.splitlines()
        return json.loads(line)

    assert await migrate(settings, as_json=True) == 0
    assert document() == {"migrated": True}
    assert await directory_import(settings, EXAMPLE_DIRECTORY, as_json=True) == 0
    assert {c["entity"] for c in document()["changes"]} == {
        "organisation", "professional", "region"}
    assert await directory_show(settings, 2, as_json=True) == 0
    shown = document()
    assert {p["id"] for p in shown["directory"]["professionals"]} >= {"pro-1"}
    assert len(shown["changes"]) == 2

    assert await partner_key_create(settings, "basisschool-de-linde", as_json=True) == 0
    issued = document()
    async with pg_store.pool.acquire() as conn:
        principal = await authenticate_key(conn, issued["key"])
    assert principal is not None and principal.key_id == issued["key_id"]
    assert await partner_key_list(settings, None, as_json=True) == 0
    assert document()["key_id"] == issued["key_id"]
    assert await partner_key_revoke(settings, issued["key_id"], as_json=True) == 0
    assert document()["revoked_at"] is not None

    assert await token_issue(settings, "pro-1", 5, as_json=True) == 0
    token = document()
    assert (token["professional_id"], token["minutes"]) == ("pro-1", 5)
    assert await TokenVerifier(settings).professional_id(token["token"]) == "pro-1"

    await write_story(pg_store, "story-4")
    assert await keys_status(settings, as_json=True) == 0
    status = document()
    assert sum(k["subjects"] for k in status["keys"]) >= 3  # two members, the family
    assert await keys_rotate_kek(settings, False, 100, as_json=True) == 0
    rotation = document()  # with REGIE_KEK alone, every key is under it already
    assert rotation["rewrapped"] == 0 and rotation["kek_id"] in {
        k["kek_id"] for k in status["keys"]}

    assert await erase_subject(settings, PARENT, yes=True, as_json=True,
                               client=None) == 0
    # story-4 is no case of the persons table (written past the gateway): nothing to
    # restart, and so no Temporal to reach.
    assert document() == {"person_id": PARENT, "erased": True, "family_keys_destroyed": [],
                          "restarted": []}

    assert payload_key_new("2027-01") == 0
    assert list(document()) == ["2027-01"]
    assert payload_key_new("not a key id") == 2
