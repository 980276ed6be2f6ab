"""`regie payload-key new`: a fresh key for the encrypted Temporal payloads, as the JSON
entry to add to REGIE_PAYLOAD_KEYS (README, "Encrypted payloads and the codec server")."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from infra.payload_keys import Keyring, encode_key
from workers.cli.exit_codes import ExitCode
from workers.cli.options import JsonOption
from workers.cli.output import emit_json, fail


def payload_key_new(key_id: str | None) -> int:
    """Needs no settings or database: it only makes a key. Its output is JSON already,
    with or without --json."""
    try:
        keyring = Keyring.generate(key_id or f"key-{date.today():%Y-%m-%d}")
    except ValueError:
        return fail("--id: 1 to 64 letters, digits, '.', '_' or '-'", ExitCode.USAGE)
    emit_json({k: encode_key(v) for k, v in keyring.keys.items()})
    return 0


def register(app: typer.Typer) -> None:
    payload = typer.Typer(no_args_is_help=True,
                          help="Keys of the encrypted Temporal payloads.")
    app.add_typer(payload, name="payload-key")

    @payload.command("new")
    def new_command(
        key_id: Annotated[str | None, typer.Option(
            "--id", help="Its key id (default key-<today>).")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Print a new key as JSON, for REGIE_PAYLOAD_KEYS (JSON with or without
        --json)."""
        raise typer.Exit(payload_key_new(key_id))
