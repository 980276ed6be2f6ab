"""`regie keys status` and `regie keys rotate-kek`: the key-encryption key (KEK) every
person key is wrapped under, kept outside PostgreSQL. Rotating re-wraps every person
key; destroying the old KEK ends every old copy of a wrapped key (WAL archives,
backups)."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict

from infra.database import create_pool, prepare_database
from infra.db_retry import OUTAGE_ERRORS
from infra.key_wrapping import KeyWrappingError, key_wrapper_for
from infra.local_kek import EnvKeyring
from infra.settings import Settings
from infra.subject_keys import destroy_other_keks, kek_usage, rewrap_all
from workers.cli.exit_codes import ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import emit_json, fail, line, markup, progress
from workers.cli.runtime import database_unavailable, open_store

_STATES = {"raw": "raw, not yet wrapped (wrapped when a Regie process starts)",
           "erased": "erased"}


class Rotation(BaseModel):
    model_config = ConfigDict(frozen=True)
    kek_id: str
    rewrapped: int
    destroyed: tuple[str, ...] = ()
    rewrapped_late: int = 0


async def keys_status(settings: Settings, *, as_json: bool = False) -> int:
    # Reports without changing anything (no `open_store`, which wraps raw keys): raw keys
    # stay visible here until a process starts and wraps them.
    try:
        dsn, _server = await prepare_database(settings.database_url, settings.data_dir,
                                              settings.database_name)
        pool = await create_pool(dsn, max_size=1)
    except OUTAGE_ERRORS as error:
        raise database_unavailable(error) from None
    try:
        async with pool.acquire() as conn:
            usage = await kek_usage(conn)
    finally:
        await pool.close()
    where = key_wrapper_for(settings).describe()
    if as_json:
        emit_json({"kept_in": where, "keys": usage})
        return 0
    line(f"KEK kept in: {markup(where)}")
    if not usage:
        line("no person keys yet")
    for u in usage:
        what = f"wrapped under {u.kek_id}" if u.state == "wrapped" else _STATES[u.state]
        line(markup(f"{u.subjects:>8}  {what}"))
    return 0


async def keys_rotate_kek(settings: Settings, destroy_old: bool, batch_size: int, *,
                          as_json: bool = False) -> int:
    store, _server = await open_store(settings)
    wrapper = key_wrapper_for(settings)
    try:
        kek_id = await wrapper.rotate()
        if not as_json:
            line(markup(f"current KEK: {kek_id} ({wrapper.describe()})"))
        with progress("re-wrapping person keys", None):
            count = await rewrap_all(store.pool, wrapper, kek_id, batch_size)
        if not as_json:
            line(f"{count} person keys re-wrapped under {markup(kek_id)}")
        if isinstance(wrapper, EnvKeyring):
            if as_json:
                emit_json(Rotation(kek_id=kek_id, rewrapped=count))
            elif count == 0:
                line("(with REGIE_KEK a rotation starts by giving every process a new "
                     "secret in REGIE_KEK and the old one in REGIE_KEK_PREVIOUS)")
            if destroy_old:
                return fail("--destroy-old: Regie cannot destroy an environment secret. "
                            "Remove REGIE_KEK_PREVIOUS from every process's environment and "
                            "from the secret store, then restart them.", ExitCode.FAILED)
            return 0
        if not destroy_old:
            if as_json:
                emit_json(Rotation(kek_id=kek_id, rewrapped=count))
            else:
                line("the old KEKs still unwrap; run again with --destroy-old to end every "
                     "old copy of a wrapped key (WAL archives, backups)")
            return 0
        destroyed, late = await destroy_other_keks(store.pool, wrapper, kek_id, batch_size)
        if as_json:
            emit_json(Rotation(kek_id=kek_id, rewrapped=count, destroyed=tuple(destroyed),
                               rewrapped_late=late))
            return 0
        if late:
            line(f"{late} more person keys re-wrapped (made under the old KEK while this ran)")
        line(markup(f"destroyed KEKs: {', '.join(destroyed) or 'none left'}; copies of keys "
                    "wrapped under them (WAL archives, backups, dumps) can no longer be "
                    "unwrapped"))
    except KeyWrappingError as error:
        return fail(f"rotation stopped: {error}", ExitCode.FAILED)
    finally:
        await wrapper.aclose()
    return 0


def register(app: typer.Typer) -> None:
    keys = typer.Typer(no_args_is_help=True, help="The KEK that wraps the person keys.")
    app.add_typer(keys, name="keys")

    @keys.command("status")
    def status_command(as_json: JsonOption = False) -> None:
        """KEK ids in use, with how many person keys each."""
        execute(lambda settings: keys_status(settings, as_json=as_json))

    @keys.command("rotate-kek")
    def rotate_command(
        destroy_old: Annotated[bool, typer.Option(
            "--destroy-old", help="Then destroy the older KEKs (keyring file, Vault), so "
            "every old copy of a wrapped key in WAL archives and backups becomes "
            "unreadable.")] = False,
        batch_size: Annotated[int, typer.Option(
            min=1, help="Keys re-wrapped per transaction.")] = 500,
        as_json: JsonOption = False,
    ) -> None:
        """Make a new KEK and re-wrap every person key under it."""
        execute(lambda settings: keys_rotate_kek(settings, destroy_old, batch_size,
                                                 as_json=as_json))
