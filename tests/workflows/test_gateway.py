"""The partner HTTP contract, against the Temporal dev server and the real worker.

Update-with-start runs on the dev server: the time-skipping test server does not support
it fully (see docs/architecture.md, "Tests").
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.command_table import COMMAND_TABLE
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.factories import refer_family
from workers.gateway import create_app
from workers.worker import build_worker


@pytest.fixture
async def gateway(dev_env: WorkflowEnvironment,
                  pg_store: PostgresEventStore) -> AsyncIterator[httpx.AsyncClient]:
    task_queue = f"tq-{uuid.uuid4()}"
    app = create_app(Settings(task_queue=task_queue), client=dev_env.client)
    async with build_worker(dev_env.client, pg_store, task_queue), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        yield http


def body(case_id: str, **kwargs: str) -> dict[str, Any]:
    return refer_family(case_id, **kwargs).model_dump(mode="json")


async def test_referral_opens_one_trajectory_and_a_resend_changes_nothing(
    gateway: httpx.AsyncClient, pg_store: PostgresEventStore
) -> None:
    case = f"gw-{uuid.uuid4().hex[:8]}"
    headers = {"Idempotency-Key": f"k-{case}"}
    first = await gateway.post("/v1/referrals", json=body(case), headers=headers)
    assert first.status_code == 202, first.text
    assert first.json() == {"case_id": case, "workflow_id": f"trajectory-{case}",
                            "status": "accepted", "version": 1, "recorded": True}

    again = await gateway.post("/v1/referrals", json=body(case), headers=headers)
    assert again.json()["version"] == 1

    other = await gateway.post("/v1/referrals", headers={"Idempotency-Key": f"k2-{case}"},
                               json=body(case, referral_id="ref-2", child="c-2"))
    assert other.status_code == 202
    assert (other.json()["version"], other.json()["recorded"]) == (2, True)

    state = await gateway.get(f"/v1/trajectories/{case}")
    assert state.status_code == 200
    assert state.json()["phase"] == "referred"
    assert len(state.json()["referrals"]) == 2
    assert len(await pg_store.read_stream(f"trajectory-{case}")) == 2


async def test_bad_referrals_get_a_clear_error_and_write_nothing(
    gateway: httpx.AsyncClient, pg_store: PostgresEventStore
) -> None:
    headers = {"Idempotency-Key": "k-bad"}
    no_child = body("gw-bad")
    no_child["referral"]["members"] = no_child["referral"]["members"][:1]
    no_child["referral"]["reasons"] = []
    refused = await gateway.post("/v1/referrals", json=no_child, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"] == "refused"
    assert "at least one parent and one child" in refused.json()["message"]

    bad_date = body("gw-bad")
    bad_date["referral"]["members"][0]["birth_date"] = "14-03-1985"
    invalid = await gateway.post("/v1/referrals", json=bad_date, headers=headers)
    assert invalid.status_code == 422
    assert invalid.json()["fields"][0]["field"] == "referral.members.0.birth_date"
    assert "14-03-1985" not in invalid.text  # personal data is not echoed back

    missing_key = await gateway.post("/v1/referrals", json=body("gw-bad"))
    assert missing_key.status_code == 422
    assert "Idempotency-Key" in missing_key.json()["message"]

    unknown = await gateway.get("/v1/trajectories/no-such-case")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "trajectory_not_found"
    assert await pg_store.read_all() == []


async def test_caseworker_commands_and_partner_signals_over_http(
    gateway: httpx.AsyncClient, pg_store: PostgresEventStore
) -> None:
    case = f"gw-{uuid.uuid4().hex[:8]}"
    await gateway.post("/v1/referrals", json=body(case), headers={"Idempotency-Key": case})

    refused = await gateway.post(f"/v1/trajectories/{case}/record_intake",
                                 json={"actor": "coordinator:pro-1", "outcome": "declined"},
                                 headers={"Idempotency-Key": "i-1"})
    assert refused.status_code == 422
    assert "needs a reason" in refused.json()["message"]

    intake = {"actor": "coordinator:pro-1", "outcome": "accepted", "assessments": [
        {"life_domain": "education_work", "strengths": "betrokken", "problems": "verzuim"}]}
    accepted = await gateway.post(f"/v1/trajectories/{case}/record_intake", json=intake,
                                  headers={"Idempotency-Key": "i-2"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"case_id": case, "version": 2, "recorded": True}
    resent = await gateway.post(f"/v1/trajectories/{case}/record_intake", json=intake,
                                headers={"Idempotency-Key": "i-2"})
    assert resent.json() == accepted.json()  # the first answer; nothing done twice

    typo = await gateway.post(f"/v1/trajectories/{case}/record_intake",
                              json={**intake, "outcome": "acepted"},
                              headers={"Idempotency-Key": "i-3"})
    assert typo.status_code == 422
    assert typo.json()["fields"][0]["field"] == "outcome"

    signal = {"organisation": "GGD", "kind": "concern", "description": "zorgen"}
    for _ in range(2):
        sent = await gateway.post(f"/v1/trajectories/{case}/signals", json=signal,
                                  headers={"Idempotency-Key": "ggd-1"})
        assert sent.status_code == 202
    missing = await gateway.post("/v1/trajectories/nobody/signals", json=signal,
                                 headers={"Idempotency-Key": "ggd-2"})
    assert missing.status_code == 404

    async def stored_types() -> list[str]:
        return [e.type for e in await pg_store.read_stream(f"trajectory-{case}")]

    for _ in range(100):
        if "PartnerSignalRecorded" in await stored_types():
            break
        await asyncio.sleep(0.05)
    assert await stored_types() == ["TrajectoryReferred", "IntakeRecorded",
                                    "PartnerSignalRecorded"]


async def test_a_referral_for_an_ended_trajectory_is_refused_with_409(
    gateway: httpx.AsyncClient, dev_env: WorkflowEnvironment
) -> None:
    case = f"gw-{uuid.uuid4().hex[:8]}"
    await gateway.post("/v1/referrals", json=body(case), headers={"Idempotency-Key": case})
    declined = await gateway.post(
        f"/v1/trajectories/{case}/record_intake",
        json={"actor": "coordinator:pro-1", "outcome": "declined", "reason": "geen gezin"},
        headers={"Idempotency-Key": "i-1"})
    assert declined.status_code == 200
    await dev_env.client.get_workflow_handle(f"trajectory-{case}").result()

    again = await gateway.post("/v1/referrals", json=body(case, referral_id="ref-9"),
                               headers={"Idempotency-Key": f"{case}-again"})
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


async def test_a_command_from_the_table_reaches_its_update_and_a_refusal_is_a_422(
    gateway: httpx.AsyncClient
) -> None:
    case = f"gw-{uuid.uuid4().hex[:8]}"
    referred = await gateway.post("/v1/referrals", json=body(case),
                                  headers={"Idempotency-Key": f"k-{case}"})
    assert referred.status_code == 202
    contact = {"actor": "coordinator:pro-1", "by": "pro-1", "channel": "phone",
               "reached": False}
    done = await gateway.post(f"/v1/trajectories/{case}/record_contact_attempt", json=contact,
                              headers={"Idempotency-Key": f"c-{case}"})
    assert done.status_code == 200, done.text
    assert (done.json()["version"], done.json()["recorded"]) == (2, True)
    refused = await gateway.post(f"/v1/trajectories/{case}/start_care",
                                 json={"actor": "coordinator:pro-1"},
                                 headers={"Idempotency-Key": f"s-{case}"})
    assert refused.status_code == 422
    assert refused.json()["error"] == "wrong_phase"
