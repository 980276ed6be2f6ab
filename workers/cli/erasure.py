"""`regie erase-subject PERSON_ID`: crypto-shredding. The person's key is destroyed (the
events remain, their personal fields read as erased), their pseudonyms are forgotten (a
later referral is a new person), the family key goes with the family's last member, and
every running trajectory that holds them starts afresh from the store."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.family import family_subject
from infra.persons import cases_of, cases_without_members, forget_person
from infra.settings import Settings
from workers.cli.exit_codes import CliError, ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import emit_json, fail, line, markup
from workers.cli.runtime import log_access, open_store, temporal_client
from workflows.trajectory import FamilyTrajectoryWorkflow, PersonalDataErased, workflow_id_for


class ErasureReport(BaseModel):
    model_config = ConfigDict(frozen=True)
    person_id: str
    erased: bool  # False: it was erased already
    family_keys_destroyed: tuple[str, ...]  # case ids whose family has no member left
    restarted: tuple[str, ...]  # case ids whose running trajectory starts afresh


def confirmed(person_id: str, yes: bool) -> bool:
    """Erasure cannot be undone: a person types the id again; a script says --yes."""
    if yes:
        return True
    if not sys.stdin.isatty():
        sys.stderr.write("erasure cannot be undone: confirm with --yes when not at a "
                         "terminal\n")
        return False
    answer = input(f"Erase the personal data of {person_id}? This cannot be undone. "
                   "Type the person id to confirm: ")
    return answer.strip() == person_id


async def erase_subject(settings: Settings, person_id: str, *, yes: bool = False,
                        client: Client | None = None, as_json: bool = False) -> int:
    """`client`: a Temporal client (tests); otherwise one from the settings."""
    if not confirmed(person_id, yes):
        return fail("nothing erased", ExitCode.FAILED)
    store, _server = await open_store(settings)
    await log_access(store, "erase_subject", person_id=person_id)
    erased = await store.erase_subject(person_id)
    async with store.pool.acquire() as conn:
        cases = await cases_of(conn, person_id)
        # Nor can the person be recognised any more: a later referral is a new person.
        await forget_person(conn, person_id)
        emptied = await cases_without_members(conn, cases)
    if not as_json:
        line(markup(f"personal data of {person_id} erased: its key is destroyed and its "
                    "pseudonyms deleted; events remain" if erased else
                    f"personal data of {person_id} was already erased"))
    family_keys: list[str] = []
    for case_id in emptied:
        # The last member of the family: what was written about the family as a whole
        # (assessments, signals, stagnation details) is about them too.
        if await store.erase_subject(family_subject(case_id)):
            family_keys.append(case_id)
            if not as_json:
                line(markup(f"the family of case {case_id} has no member left: its family "
                            "key is destroyed too"))
    restarted = await _restart_trajectories(settings, cases, person_id, client, as_json)
    if as_json:
        emit_json(ErasureReport(person_id=person_id, erased=erased,
                                family_keys_destroyed=tuple(family_keys),
                                restarted=tuple(restarted)))
    return 0


async def _restart_trajectories(settings: Settings, cases: list[str], person_id: str,
                                client: Client | None, as_json: bool) -> list[str]:
    if not cases:
        return []
    try:
        temporal = client or await temporal_client(settings)
    except CliError as error:
        raise CliError(f"{error.message}: the running trajectories of {', '.join(cases)} "
                       "still hold the data in memory until they next continue as new; "
                       "run this command again when Temporal is back", error.code) from None
    restarted: list[str] = []
    for case_id in cases:
        handle = temporal.get_workflow_handle(workflow_id_for(case_id))
        try:
            await handle.signal(FamilyTrajectoryWorkflow.personal_data_erased,
                                PersonalDataErased(person_id=person_id))
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            continue  # ended: its closed runs go with the namespace's retention
        restarted.append(case_id)
        if not as_json:
            line(markup(f"trajectory of case {case_id} starts afresh from the store"))
    return restarted


def register(app: typer.Typer) -> None:
    @app.command("erase-subject")
    def erase_command(
        person_id: Annotated[str, typer.Argument(help="The person's id (p-...).")],
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation "
                                          "(needed when not at a terminal).")] = False,
        as_json: JsonOption = False,
    ) -> None:
        """Erase one person's personal data (crypto-shredding): destroy their key and
        pseudonyms; running trajectories that hold them start afresh from the store.
        Cannot be undone; asks first."""
        execute(lambda settings: erase_subject(settings, person_id, yes=yes,
                                               as_json=as_json))
