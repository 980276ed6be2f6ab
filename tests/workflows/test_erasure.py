"""Erasure reaches the running trajectory: after `regie erase-subject`, the live run
starts afresh from the store, and its state no longer holds the person's data."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from domain.trajectory import TrajectoryState
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.workflows.gateway_support import Gateway
from workers.cli import erase_subject
from workflows.trajectory import FamilyTrajectoryWorkflow


async def test_an_erased_person_leaves_the_running_trajectory(
        gateway: Gateway, dev_env: WorkflowEnvironment, pg_store: PostgresEventStore,
        database_dsn: str) -> None:
    referred = await gateway.refer("erase-1", family="Wis")
    case = referred.json()["case_id"]
    parent = next(m["person_id"] for m in referred.json()["members"] if m["ref"] == "m1")
    handle = dev_env.client.get_workflow_handle(f"trajectory-{case}")
    before = await handle.query(FamilyTrajectoryWorkflow.state)
    assert "Ouder Wis" in before.model_dump_json()
    first_run = (await handle.describe()).run_id

    settings = Settings(database_url=database_dsn)
    assert await erase_subject(settings, parent, yes=True, client=dev_env.client) == 0
    # What a caseworker reads comes from the store: erased at once.
    view = await gateway.http.get(f"/v1/trajectories/{case}",
                                  headers=gateway.professional("pro-intake"))
    members = {m["person_id"]: m for m in view.json()["members"]}
    assert members[parent]["name"] == {"erased": True}
    assert "Ouder Wis" not in view.text

    after: TrajectoryState | None = None
    for _ in range(200):
        described = await dev_env.client.get_workflow_handle(
            f"trajectory-{case}").describe()
        if described.run_id != first_run:
            after = await dev_env.client.get_workflow_handle(f"trajectory-{case}").query(
                FamilyTrajectoryWorkflow.state)
            if after.version == before.version:
                break
        await asyncio.sleep(0.05)
    assert after is not None, "the trajectory never started afresh"
    text = after.model_dump_json()
    assert "Ouder Wis" not in text and "1985-03-14" not in text
    assert "Kind Wis" in text  # the child was not erased
    assert after.phase == before.phase
    # A later referral naming the same person does not reach the erased one.
    again = await gateway.refer("erase-2", family="Wis")
    assert again.status_code == 202
    assert parent not in {m["person_id"] for m in again.json()["members"]}
