"""The HTTP contract, against the Temporal dev server and the real worker, with real
credentials (see gateway_support.py).

Update-with-start runs on the dev server: the time-skipping test server does not support
it fully (see docs/architecture.md, "Tests").
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from temporalio.testing import WorkflowEnvironment

from domain.command_table import COMMAND_TABLE
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.directory_fixture import GGD, SCHOOL
from tests.factories import refer_family
from tests.workflows.gateway_support import ACCEPTED, Gateway
from workers.gateway import create_app


def body(case_id: str, **kwargs: str) -> dict[str, Any]:
    return refer_family(case_id, organisation=SCHOOL, **kwargs).model_dump(mode="json")


async def test_referral_opens_one_trajectory_and_a_resend_changes_nothing(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    case = f"gw-{uuid.uuid4().hex[:8]}"
    headers = {**gateway.partner(), "Idempotency-Key": f"k-{case}"}
    first = await gateway.http.post("/v1/referrals", json=body(case), headers=headers)
    assert first.status_code == 202, first.text
    assert first.json() == {"case_id": case, "workflow_id": f"trajectory-{case}",
                            "status": "accepted", "version": 1, "recorded": True}

    again = await gateway.http.post("/v1/referrals", json=body(case), headers=headers)
    assert again.json() == first.json()  # the first answer

    other = await gateway.http.post(
        "/v1/referrals", headers={**gateway.partner(), "Idempotency-Key": f"k2-{case}"},
        json=body(case, referral_id="ref-2", child="c-2"))
    assert other.status_code == 202
    assert (other.json()["version"], other.json()["recorded"]) == (2, True)

    state = await gateway.http.get(f"/v1/trajectories/{case}",
                                   headers=gateway.professional("pro-intake"))
    assert state.status_code == 200
    assert state.json()["phase"] == "referred"
    assert len(state.json()["referrals"]) == 2
    assert len(await pg_store.read_stream(f"trajectory-{case}")) == 2


async def test_bad_referrals_get_a_clear_error_and_write_nothing(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    headers = {**gateway.partner(), "Idempotency-Key": "k-bad"}
    no_child = body("gw-bad")
    no_child["referral"]["members"] = no_child["referral"]["members"][:1]
    no_child["referral"]["reasons"] = []
    refused = await gateway.http.post("/v1/referrals", json=no_child, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"] == "refused"
    assert "at least one parent and one child" in refused.json()["message"]

    bad_date = body("gw-bad")
    bad_date["referral"]["members"][0]["birth_date"] = "14-03-1985"
    invalid = await gateway.http.post("/v1/referrals", json=bad_date, headers=headers)
    assert invalid.status_code == 422
    assert invalid.json()["fields"][0]["field"] == "referral.members.0.birth_date"
    assert "14-03-1985" not in invalid.text  # personal data is not echoed back

    missing_key = await gateway.http.post("/v1/referrals", json=body("gw-bad"),
                                          headers=gateway.partner())
    assert missing_key.status_code == 422
    assert "Idempotency-Key" in missing_key.json()["message"]

    unknown = await gateway.http.get("/v1/trajectories/no-such-case",
                                     headers=gateway.professional("op-1"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "trajectory_not_found"
    assert await pg_store.read_all() == []


async def test_caseworker_commands_and_partner_signals_over_http(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    case = f"gw-{uuid.uuid4().hex[:8]}"
    await gateway.refer(case)

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


async def test_a_referral_for_an_ended_trajectory_is_refused_with_409(
    gateway: Gateway, dev_env: WorkflowEnvironment
) -> None:
    case = f"gw-{uuid.uuid4().hex[:8]}"
    await gateway.refer(case)
    declined = await gateway.command(case, "record_intake", "pro-intake",
                                     {"outcome": "declined", "reason": "geen gezin"})
    assert declined.status_code == 200
    await dev_env.client.get_workflow_handle(f"trajectory-{case}").result()

    again = await gateway.refer(case, key=f"{case}-again", referral_id="ref-9")
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "trajectory_closed"


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
    case = f"gw-{uuid.uuid4().hex[:8]}"
    await gateway.refer(case)
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
    case = f"gw-{uuid.uuid4().hex[:8]}"
    await gateway.into_care(case)
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
