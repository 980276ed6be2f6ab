"""Temporal shows a trajectory in domain words: search attributes the Web UI's workflow
list filters on, a memo with the case in a few facts, and timers that say what they wait
for. On the dev server (the time-skipping server cannot list workflows), through the
gateway and the real worker."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionDescription, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from infra.search_attributes import (
    how_to_register,
    missing_search_attributes,
    register_search_attributes,
)
from tests.workflows.gateway_support import Gateway
from workflows.messages import episode_workflow_id
from workflows.search_attributes import (
    COORDINATOR_ID,
    ESCALATION_LEVEL,
    IN_AFTERCARE,
    PHASE,
    REGION,
    dev_server_flags,
)
from workflows.trajectory import workflow_id_for

HISTORIES = Path(__file__).parent.parent / "histories"
# Visibility is updated just after the workflow task that upserts: ask a few times.
LIST_ATTEMPTS = 100
LIST_PAUSE_SECONDS = 0.1
# The made-up family (tests.factories.partner_referral) and team of `Gateway.into_care`.
NAMES = ("Ouder Een", "Kind Een", "Coordinator Een", "Teamlid Twee", "verzuimt veel")


async def listed(client: Client, workflow_id: str, query: str) -> bool:
    """Whether the list query finds the workflow, once visibility has caught up."""
    for _ in range(LIST_ATTEMPTS):
        found = [w.id async for w in client.list_workflows(
            f'WorkflowId = "{workflow_id}" AND {query}')]
        if found:
            return True
        await asyncio.sleep(LIST_PAUSE_SECONDS)
    return False


async def timer_summaries(client: Client, history: WorkflowHistory) -> list[str]:
    """What the history's timers say they wait for (decoded as the Web UI's codec does)."""
    return [(await client.data_converter.decode([e.user_metadata.summary], [str]))[0]
            for e in history.events if e.HasField("timer_started_event_attributes")]


async def described(client: Client, workflow_id: str) -> tuple[WorkflowExecutionDescription,
                                                                 dict[str, Any]]:
    description = await client.get_workflow_handle(workflow_id).describe()
    memo = dict(await description.memo())
    return description, memo


async def test_a_trajectory_is_found_by_its_phase_coordinator_region_and_escalation(
        dev_env: WorkflowEnvironment, gateway: Gateway) -> None:
    client = dev_env.client
    referred = await gateway.new_case()
    workflow_id = workflow_id_for(referred)
    assert await listed(client, workflow_id, 'Phase = "referred" AND Region = "default" '
                                             "AND EscalationLevel = 0 AND InAftercare = false")
    _, memo = await described(client, workflow_id)
    assert memo["case"]["next_deadline_summary"].startswith("intake waiting norm ends ")

    case_id = await gateway.into_care()
    workflow_id = workflow_id_for(case_id)
    assert await listed(client, workflow_id,
                        'Phase = "in_care" AND CoordinatorId = "pro-coord" '
                        'AND Region = "default" AND EscalationLevel = 0')
    stuck = await gateway.command(case_id, "report_stagnation", "pro-coord", {
        "reported_by": "pro-coord", "description": "Ouder Een neemt niet meer op"})
    assert stuck.status_code == 200, stuck.text
    # The episode's ladder puts it with the coordinator (level 1).
    assert await listed(client, workflow_id, 'Phase = "in_care" AND EscalationLevel = 1')

    description, memo = await described(client, workflow_id)
    attributes = description.typed_search_attributes
    assert attributes.get(PHASE) == "in_care"
    assert attributes.get(REGION) == "default"
    assert attributes.get(COORDINATOR_ID) == "pro-coord"
    assert attributes.get(ESCALATION_LEVEL) == 1
    assert attributes.get(IN_AFTERCARE) is False
    case = memo["case"]
    assert case["phase"] == "in_care"
    assert case["open_escalations"] == 1
    assert case["family_members"] == 2 and case["team_members"] == 2
    # Temporal's list and memo are outside the sealed store: no names, no free text.
    shown = json.dumps(memo) + json.dumps(description.search_attributes)
    assert [name for name in NAMES if name in shown] == []

    # In care without a plan nothing is due yet; before, the run loop's timers said what
    # they waited for, on the region's calendar day.
    assert case["next_deadline"] is None and case["next_deadline_summary"] is None
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    summaries = await timer_summaries(client, history)
    day = r"\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}"
    waits = {re.sub(day, "<day>", s) for s in summaries}
    assert waits == {"intake waiting norm ends <day>", "care start waiting norm ends <day>"}
    # The episode's ladder says whose answer it waits for, and until which day.
    ladder = await client.get_workflow_handle(
        episode_workflow_id(case_id, "ep-1")).fetch_history()
    ladder_waits = {re.sub(day, "<day>", s) for s in await timer_summaries(client, ladder)}
    assert ladder_waits == {"level 1 (coordinator) response due <day>"}
    if os.environ.get("REGIE_RECORD_HISTORIES"):
        (HISTORIES / "shown_in_temporal.json").write_text(history.to_json())
        (HISTORIES / "shown_in_temporal_episode.json").write_text(ladder.to_json())


async def test_the_phase_before_a_change_no_longer_finds_the_case(
        dev_env: WorkflowEnvironment, gateway: Gateway) -> None:
    case_id = await gateway.into_care()
    workflow_id = workflow_id_for(case_id)
    assert await listed(dev_env.client, workflow_id, 'Phase = "in_care"')
    found = [w.id async for w in dev_env.client.list_workflows(
        f'WorkflowId = "{workflow_id}" AND Phase = "referred"')]
    assert found == []


def test_the_dev_server_flags_register_every_attribute_with_its_type() -> None:
    assert dev_server_flags() == [
        "--search-attribute", "Phase=Keyword", "--search-attribute", "Region=Keyword",
        "--search-attribute", "CoordinatorId=Keyword",
        "--search-attribute", "EscalationLevel=Int", "--search-attribute", "InAftercare=Bool"]


async def test_a_worker_finds_them_registered_on_the_dev_server_and_adds_nothing(
        dev_env: WorkflowEnvironment) -> None:
    namespace = dev_env.client.namespace
    assert await missing_search_attributes(dev_env.client, namespace) == {}
    assert await register_search_attributes(dev_env.client, namespace) == []
    assert "--name EscalationLevel --type Int" in how_to_register(namespace)
