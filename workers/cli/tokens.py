"""`regie token issue --as ID`: a short-lived token for a professional, signed by the
local stack's own issuer (never where the region's identity provider issues them)."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict

from infra.directory import professional as directory_professional
from infra.settings import Settings
from infra.tokens import DevIssuer
from workers.cli.exit_codes import ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import emit_json, fail, note
from workers.cli.runtime import open_store


class IssuedToken(BaseModel):
    model_config = ConfigDict(frozen=True)
    professional_id: str
    minutes: int
    token: str


async def token_issue(settings: Settings, professional_id: str, minutes: int | None, *,
                      as_json: bool = False) -> int:
    if not settings.dev_issuer_enabled:
        return fail("the dev issuer is off here (an OIDC issuer is set, or REGIE_DEV_ISSUER="
                    "false): get a token from the region's identity provider",
                    ExitCode.FAILED)
    lifetime = minutes or settings.dev_token_minutes
    if not 1 <= lifetime <= settings.dev_token_minutes:
        return fail(f"--minutes must be between 1 and {settings.dev_token_minutes}",
                    ExitCode.USAGE)
    store, _server = await open_store(settings)
    async with store.pool.acquire() as conn:
        person = await directory_professional(conn, professional_id)
    if person is None or not person.active:
        return fail(f"{professional_id!r} is not an active professional in the directory; "
                    "see `regie directory show`", ExitCode.NOT_FOUND)
    token = DevIssuer(settings.data_dir).issue(person.id, lifetime,
                                               claim=settings.oidc_professional_claim)
    if as_json:
        emit_json(IssuedToken(professional_id=person.id, minutes=lifetime, token=token))
        return 0
    note(f"token for {person.id} ({person.name}), valid {lifetime} minutes:")
    print(token)  # alone on stdout, for `$(regie token issue --as ID)`
    return 0


def register(app: typer.Typer) -> None:
    tokens = typer.Typer(no_args_is_help=True,
                         help="Professionals' tokens on the local stack.")
    app.add_typer(tokens, name="token")

    @tokens.command("issue")
    def issue_command(
        professional_id: Annotated[str, typer.Option(
            "--as", help="The professional's directory id.", show_default=False)],
        minutes: Annotated[int | None, typer.Option(
            help="Lifetime (default REGIE_DEV_TOKEN_MINUTES).")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Sign a short-lived token (the local stack's dev issuer only)."""
        execute(lambda settings: token_issue(settings, professional_id, minutes,
                                             as_json=as_json))
