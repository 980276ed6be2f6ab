"""The HTTP contract, against the Temporal dev server and the real worker, with real
credentials (see gateway_support.py).

Update-with-start runs on the dev server: the time-skipping test server does not support
it fully (see docs/architecture.md, "Tests").
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.testing import WorkflowEnvironment

from domain.command_table import COMMAND_TABLE
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.directory_fixture import GGD, POLICE, SCHOOL
from tests.factories import partner_referral
from tests.workflows.gateway_support import ACCEPTED, Gateway
from workers.gateway import create_app


def body(reference: str = "ref-1", **kwargs: Any) -> dict[str, Any]:
    return partner_referral(reference, **kwargs).model_dump(mode="json")


async def test_a_referral_gets_regie_ids_and_a_resend_changes_nothing(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    headers = {**gateway.partner(), "Idempotency-Key": "k-1"}
    first = await gateway.http.post("/v1/referrals", json=body(), headers=headers)
    assert first.status_code == 202, first.text
    answer = first.json()
    case = answer["case_id"]
    assert (answer["version"], answer["recorded"], answer["joined"]) == (1, True, False)
    assert [m["ref"] for m in answer["members"]] == ["m1", "m2"]
    assert all(m["person_id"].startswith("p-") for m in answer["members"])

    again = await gateway.http.post("/v1/referrals", json=body(), headers=headers)
    assert again.json() == answer  # the first answer

    state = await gateway.http.get(f"/v1/trajectories/{case}",
                                   headers=gateway.professional("pro-intake"))
    assert state.status_code == 200
    assert state.json()["phase"] == "referred"
    # A view for the reader, not the workflow's bookkeeping.
    assert "signal_keys" not in state.json() and "failed_contacts" not in state.json()
    referral = state.json()["referrals"][0]
    assert (referral["reference"], referral["organisation"]) == ("ref-1", SCHOOL)
    assert [m["person_id"] for m in state.json()["members"]] == [
        m["person_id"] for m in answer["members"]]
    assert len(await pg_store.read_stream(f"trajectory-{case}")) == 1


async def test_one_family_one_trajectory_whoever_refers_it(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    first = await gateway.refer("school-7", SCHOOL, child_bsn="111222333")
    case = first.json()["case_id"]
    # Another partner, another reference, the name written another way: the same family.
    second = await gateway.refer("ggd-99", GGD, family="EEN ")
    assert second.status_code == 202, second.text
    assert (second.json()["case_id"], second.json()["joined"]) == (case, True)
    assert second.json()["members"] == first.json()["members"]
    # By BSN too, even with another spelling of the name.
    third = await gateway.refer("police-1", POLICE, family="Eén", child_bsn="111222333")
    assert third.json()["case_id"] == case
    assert len(await pg_store.read_stream(f"trajectory-{case}")) == 3

    # Another family that the partner also numbers m1 and m2 stays apart.
    other = await gateway.refer("school-8", SCHOOL, family="Twee")
    assert other.json()["case_id"] != case
    assert not set(map(str, other.json()["members"])) & set(map(str, first.json()["members"]))


async def test_the_same_child_with_another_parent_is_flagged_not_merged(
    gateway: Gateway
) -> None:
    case = await gateway.new_case()
    other = await gateway.refer("school-9", SCHOOL, parent="Ouder Anders")
    assert other.status_code == 202
    assert other.json()["case_id"] != case and other.json()["joined"] is False
    state = await gateway.http.get(f"/v1/trajectories/{other.json()['case_id']}",
                                   headers=gateway.professional("pro-intake"))
    assert state.json()["referrals"][0]["possible_matches"] == [case]


async def test_bad_referrals_get_a_clear_error_and_write_nothing(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    headers = {**gateway.partner(), "Idempotency-Key": "k-bad"}
    no_child = body()
    no_child["members"] = no_child["members"][:1]
    no_child["reasons"] = []
    refused = await gateway.http.post("/v1/referrals", json=no_child, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"] == "refused"
    assert "at least one parent and one child" in refused.json()["message"]

    bad_date = body()
    bad_date["members"][0]["birth_date"] = "14-03-1985"
    invalid = await gateway.http.post("/v1/referrals", json=bad_date, headers=headers)
    assert invalid.status_code == 422
    assert invalid.json()["fields"][0]["field"] == "members.0.birth_date"
    assert "14-03-1985" not in invalid.text  # personal data is not echoed back

    bad_bsn = body()
    bad_bsn["members"][1]["bsn"] = "111222334"
    invalid = await gateway.http.post("/v1/referrals", json=bad_bsn, headers=headers)
    assert invalid.status_code == 422
    assert "eleven test" in invalid.json()["message"]
    assert "111222334" not in invalid.text

    missing_key = await gateway.http.post("/v1/referrals", json=body(),
                                          headers=gateway.partner())
    assert missing_key.status_code == 422
    assert "Idempotency-Key" in missing_key.json()["message"]

    unknown = await gateway.http.get("/v1/trajectories/no-such-case",
                                     headers=gateway.professional("op-1"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "trajectory_not_found"
    assert await pg_store.read_all() == []
    async with pg_store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM persons") == 0


async def test_caseworker_commands_and_partner_signals_over_http(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    case = await gateway.new_case()

    refused = await gateway.command(case, "record_intake", "pro-intake",
                                    {"outcome": "declined"}, key="i-1")
    assert refused.status_code == 422
    assert "needs a reason" in refused.json()["message"]

    intake = {"outcome": "accepted", "assessments": [
        {"life_domain": "education_work", "strengths": "betrokken", "problems": "verzuim"}]}
    accepted = await gateway.command(case, "record_intake", "pro-intake", intake, key="i-2")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"case_id": case, "version": 2, "recorded": True}
    resent = await gateway.command(case, "record_intake", "pro-intake", intake, key="i-2")
    assert resent.json() == accepted.json()  # the first answer; nothing done twice

    typo = await gateway.command(case, "record_intake", "pro-intake",
                                 {**intake, "outcome": "acepted"}, key="i-3")
    assert typo.status_code == 422
    assert typo.json()["fields"][0]["field"] == "outcome"

    signal = {"kind": "concern", "description": "zorgen"}
    for _ in range(2):
        sent = await gateway.http.post(f"/v1/trajectories/{case}/signals", json=signal,
                                       headers={**gateway.partner(), "Idempotency-Key": "s-1"})
        assert sent.status_code == 202, sent.text

    async def stored_types() -> list[str]:
        return [e.type for e in await pg_store.read_stream(f"trajectory-{case}")]

    for _ in range(100):
        if "PartnerSignalRecorded" in await stored_types():
            break
        await asyncio.sleep(0.05)
    assert await stored_types() == ["TrajectoryReferred", "IntakeRecorded",
                                    "PartnerSignalRecorded"]
    events = await pg_store.read_stream(f"trajectory-{case}")
    # Who acted comes from the credentials, never from a body.
    assert [e.metadata.actor for e in events] == [
        f"partner:{SCHOOL}", "professional:pro-intake", f"partner:{SCHOOL}"]


async def test_a_referral_after_the_trajectory_ended_opens_a_new_one(
    gateway: Gateway, dev_env: WorkflowEnvironment
) -> None:
    case = await gateway.new_case()
    declined = await gateway.command(case, "record_intake", "pro-intake",
                                     {"outcome": "declined", "reason": "geen gezin"})
    assert declined.status_code == 200
    await dev_env.client.get_workflow_handle(f"trajectory-{case}").result()

    again = await gateway.refer("ref-9")
    assert again.status_code == 202, again.text
    assert again.json()["case_id"] != case and again.json()["joined"] is False


def test_the_gateway_has_one_documented_route_per_row_of_the_command_table() -> None:
    spec = create_app(Settings()).openapi()
    for row in COMMAND_TABLE:
        if row.route is None:
            continue
        operation = spec["paths"][f"/v1/trajectories/{{case_id}}/{row.route.path}"]["post"]
        assert operation["summary"] == row.route.summary
        body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body_schema == {"$ref": f"#/components/schemas/{row.model.__name__}"}
        assert {p["name"] for p in operation["parameters"]} == {"case_id", "Idempotency-Key"}
        assert {"PartnerApiKey": []} in operation["security"]
        assert {"ProfessionalToken": []} in operation["security"]


def test_the_openapi_document_declares_its_security_schemes() -> None:
    schemes = create_app(Settings()).openapi()["components"]["securitySchemes"]
    assert schemes["PartnerApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": schemes["PartnerApiKey"]["description"]}
    assert (schemes["ProfessionalToken"]["type"], schemes["ProfessionalToken"]["scheme"],
            schemes["ProfessionalToken"]["bearerFormat"]) == ("http", "bearer", "JWT")


async def test_a_command_from_the_table_reaches_its_update_and_a_refusal_is_a_422(
    gateway: Gateway
) -> None:
    case = await gateway.new_case()
    contact = {"by": "pro-intake", "channel": "phone", "reached": False}
    done = await gateway.command(case, "record_intake", "pro-intake", ACCEPTED)
    assert done.status_code == 200
    done = await gateway.command(case, "add_team_member", "pro-intake", {"member": {
        "member_id": "pro-intake", "kind": "professional", "name": "Intaker Vijf",
        "organisation": "wijkteam-a"}})
    assert done.status_code == 200, done.text
    done = await gateway.command(case, "record_contact_attempt", "pro-intake", contact)
    assert done.status_code == 200, done.text
    assert (done.json()["version"], done.json()["recorded"]) == (4, True)
    refused = await gateway.command(case, "start_care", "pro-intake", {})
    assert refused.status_code == 403  # start_care is the coordinator's, and there is none


async def test_a_partner_reads_the_minimal_status_of_its_own_cases_only(
    gateway: Gateway
) -> None:
    case = await gateway.into_care()
    for organisation in (SCHOOL, GGD):  # the referrer, and the one in the team
        status = await gateway.http.get(f"/v1/trajectories/{case}/status",
                                        headers=gateway.partner(organisation))
        assert status.status_code == 200, status.text
        assert status.json() == {
            "case_id": case, "phase": "in_care", "next_evaluation_date": None,
            "coordinator": {"name": "Coordinator Een", "organisation": "Wijkteam A"}}
    full = await gateway.http.get(f"/v1/trajectories/{case}", headers=gateway.partner())
    assert full.status_code == 403
    assert "/status" in full.json()["message"]
