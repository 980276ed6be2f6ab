"""`regie partner key create|revoke|list`: partner organisations' API keys. A key is shown
once, at creation; only its digest is kept."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.partner_keys import UnknownOrganisationError, create_key, list_keys, revoke_key
from infra.settings import Settings
from workers.cli.exit_codes import ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, fail, line, markup, note, show, table, when_text
from workers.cli.runtime import load_policy, open_store


async def partner_key_create(settings: Settings, organisation_id: str, *,
                             as_json: bool = False) -> int:
    store, _server = await open_store(settings)
    try:
        async with store.pool.acquire() as conn:
            issued = await create_key(conn, organisation_id)
    except UnknownOrganisationError as error:
        return fail(str(error), ExitCode.NOT_FOUND)
    if as_json:
        emit_json(issued)
        return 0
    note(f"key {issued.key_id} for {issued.organisation_id} (shown once; only a digest is "
         "kept):")
    print(issued.key)  # alone on stdout, so `$(regie partner key create ORG)` is the key
    return 0


async def partner_key_revoke(settings: Settings, key_id: str, *, as_json: bool = False
                             ) -> int:
    time_zone = load_policy().time_zone
    store, _server = await open_store(settings)
    async with store.pool.acquire() as conn:
        key = await revoke_key(conn, key_id)
    if key is None:
        return fail(f"there is no key {key_id!r}; see `regie partner key list`",
                    ExitCode.NOT_FOUND)
    if as_json:
        emit_json(key)
        return 0
    assert key.revoked_at is not None
    line(markup(f"key {key.key_id} of {key.organisation_id} is revoked (since "
                f"{when_text(key.revoked_at, time_zone)})"))
    return 0


async def partner_key_list(settings: Settings, organisation_id: str | None, *,
                           as_json: bool = False) -> int:
    time_zone = load_policy().time_zone
    store, _server = await open_store(settings)
    async with store.pool.acquire() as conn:
        keys = await list_keys(conn, organisation_id)
    if as_json:
        for k in keys:
            emit_json(k)
        return 0
    if not keys:
        note("no partner keys yet; create one with `regie partner key create ORG`")
        return 0
    grid = table("key", "organisation", "created", "last used", "revoked")
    for k in keys:
        grid.add_row(cell(k.key_id), cell(k.organisation_id),
                     cell(when_text(k.created_at, time_zone)),
                     cell(when_text(k.last_used_at, time_zone) if k.last_used_at else "never"),
                     cell(when_text(k.revoked_at, time_zone) if k.revoked_at else "-"))
    show(grid)
    return 0


def register(app: typer.Typer) -> None:
    partner = typer.Typer(no_args_is_help=True, help="Partner organisations' API keys.")
    key = typer.Typer(no_args_is_help=True, help="Create, revoke or list API keys.")
    app.add_typer(partner, name="partner")
    partner.add_typer(key, name="key")

    @key.command("create")
    def create_command(
        organisation_id: Annotated[str, typer.Argument(help="A directory organisation.")],
        as_json: JsonOption = False,
    ) -> None:
        """A new key for a directory organisation, shown once (only a digest is kept)."""
        execute(lambda settings: partner_key_create(settings, organisation_id,
                                                    as_json=as_json))

    @key.command("revoke")
    def revoke_command(key_id: Annotated[str, typer.Argument(help="The key's id (pk-...).")],
                       as_json: JsonOption = False) -> None:
        """Revoke a key; it stops working at once."""
        execute(lambda settings: partner_key_revoke(settings, key_id, as_json=as_json))

    @key.command("list")
    def list_command(
        organisation_id: Annotated[str | None, typer.Argument(
            help="Only this organisation's keys.")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Keys, with when they were created, last used and revoked."""
        execute(lambda settings: partner_key_list(settings, organisation_id,
                                                  as_json=as_json))
