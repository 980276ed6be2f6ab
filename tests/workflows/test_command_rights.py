"""A command's rights come from the case as the store says it now, though the gateway
keeps each case's state (folded without personal data) between commands
(workers/rights_states.py): a change of coordinator counts at once, also when another
gateway made it, and erasing a person neither breaks a command nor leaves their data in
what is kept."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from domain.events import RecordedEvent
from domain.trajectory import fold, stream_id_for
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.workflows.gateway_support import Gateway
from workers.cli.erasure import erase_subject
from workers.gateway import create_app
from workers.rights_states import RightsStates

CONTACT: dict[str, Any] = {"channel": "phone", "reached": True}


async def test_a_command_right_after_a_change_of_coordinator_has_the_new_rights(
        gateway: Gateway) -> None:
    case = await gateway.into_care()  # pro-coord coordinates; every step was a command
    handed = await gateway.command(case, "appoint_coordinator", "pro-coord",
                                   {"member_id": "pro-team",
                                    "handover_note": "overdracht besproken"})
    assert handed.status_code == 200, handed.text
    # The coordinator's command: refused for the former coordinator by the rights (403),
    # allowed for the new one and refused by the rules (422: the case is in care).
    assert (await gateway.command(case, "start_care", "pro-coord", {})).status_code == 403
    assert (await gateway.command(case, "start_care", "pro-team", {})).status_code == 422


async def test_a_second_gateway_sees_what_the_first_changed(
        gateway: Gateway, dev_env: WorkflowEnvironment, pg_store: PostgresEventStore,
        tmp_path: Path) -> None:
    case = await gateway.into_care()
    other = create_app(Settings(data_dir=tmp_path), client=dev_env.client, store=pg_store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other),
                                 base_url="http://other") as http, \
            other.router.lifespan_context(other):

        async def command(name: str, as_: str, body: dict[str, Any]) -> int:
            answer = await http.post(f"/v1/trajectories/{case}/{name}", json=body, headers={
                **gateway.professional(as_), "Idempotency-Key": uuid.uuid4().hex})
            return answer.status_code

        # The second gateway keeps the case as pro-coord's ...
        assert await command("record_contact_attempt", "pro-coord",
                             {"by": "pro-coord", **CONTACT}) == 200
        # ... the first hands it over ...
        handed = await gateway.command(case, "appoint_coordinator", "pro-coord",
                                       {"member_id": "pro-team",
                                        "handover_note": "overdracht besproken"})
        assert handed.status_code == 200, handed.text
        # ... and the second answers by the handover.
        assert await command("start_care", "pro-coord", {}) == 403
        assert await command("start_care", "pro-team", {}) == 422


async def test_after_erasure_commands_are_decided_as_before_and_reads_show_it(
        gateway: Gateway, dev_env: WorkflowEnvironment, database_dsn: str,
        kek: SecretStr) -> None:
    case = await gateway.into_care(family="Wis")
    view = await gateway.http.get(f"/v1/trajectories/{case}",
                                  headers=gateway.professional("pro-coord"))
    parent = next(m["person_id"] for m in view.json()["members"]
                  if m["name"] == "Ouder Wis")  # the read shows personal data, unsealed
    assert await erase_subject(Settings(database_url=database_dsn, kek=kek), parent,
                               yes=True, client=dev_env.client) == 0

    done = await gateway.command(case, "record_contact_attempt", "pro-coord",
                                 {"by": "pro-coord", **CONTACT})
    assert done.status_code == 200, done.text
    refused = await gateway.command(case, "record_contact_attempt", "pro-other",
                                    {"by": "pro-other", **CONTACT})
    assert refused.status_code == 403
    view = await gateway.http.get(f"/v1/trajectories/{case}",
                                  headers=gateway.professional("pro-coord"))
    assert "Ouder Wis" not in view.text and "Kind Wis" in view.text


async def test_the_kept_state_is_the_whole_stream_folded_and_holds_no_personal_data(
        gateway: Gateway, pg_store: PostgresEventStore) -> None:
    case = await gateway.into_care(family="Bewaar")
    stream = stream_id_for(case)
    asked: list[int] = []

    async def read(case_id: str, after: int) -> list[RecordedEvent]:
        asked.append(after)
        return await pg_store.read_stream_withheld(stream_id_for(case_id), after)

    states = RightsStates(read)
    first = await states.state(case)
    assert first is not None
    assert first == fold(await pg_store.read_stream_withheld(stream))
    kept = first.model_dump_json()
    for personal in ("Ouder Bewaar", "Kind Bewaar", "1985-03-14", "2014-09-02"):
        assert personal not in kept

    # Appended elsewhere (here: the first gateway): read from the version kept, folded on.
    for _ in range(2):
        done = await gateway.command(case, "record_contact_attempt", "pro-coord",
                                     {"by": "pro-coord", "channel": "phone",
                                      "reached": False})
        assert done.status_code == 200, done.text
    later = await states.state(case)
    assert later == fold(await pg_store.read_stream_withheld(stream))
    assert later is not None and len(later.failed_contacts) == 2
    assert asked == [0, first.version]
    assert await states.state("no-such-case") is None
