"""The region's local time inside the Temporal workflow sandbox. `domain.local_time` needs
the real `zoneinfo.ZoneInfo` (the sandbox hands out a restricted proxy of it otherwise)
and reads a zone's file the first time it is used, which may be inside a workflow."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

# Imported the way a workflow module gets any domain module when nothing marks it passed
# through: only the worker's runner (`PASSTHROUGH_MODULES`) decides.
from domain.local_time import end_of_local_day, local_date, local_text
from domain.policy import RegionPolicy
from infra.temporal import workflow_runner


@workflow.defn(sandboxed=True)
class LocalTimeProbe:
    @workflow.run
    async def run(self, zone_name: str) -> list[str]:
        policy = RegionPolicy.model_validate({"time_zone": zone_name})
        instant = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
        return [str(local_date(instant, policy.time_zone)),
                end_of_local_day(date(2026, 3, 29), policy.time_zone).isoformat(),
                local_text(instant, policy.time_zone)]


async def test_a_zone_first_used_inside_a_workflow_works(
        time_skipping_env: WorkflowEnvironment) -> None:
    queue = f"tq-{uuid.uuid4()}"
    # Any exception fails the workflow (rather than retrying its task forever), so a
    # sandbox problem shows here as an error instead of a hang.
    async with Worker(time_skipping_env.client, task_queue=queue, workflows=[LocalTimeProbe],
                      workflow_runner=workflow_runner(),
                      workflow_failure_exception_types=[Exception]):
        # Not the default zone, so nothing has read its file before the workflow runs.
        result = await time_skipping_env.client.execute_workflow(
            LocalTimeProbe.run, "Pacific/Chatham", id=f"probe-{uuid.uuid4()}",
            task_queue=queue)
    # Chatham is UTC+13:45 until its summer time ends on the first Sunday of April.
    assert result == ["2026-03-29", "2026-03-29T10:15:00+00:00",
                      "2026-03-29 13:15 (Chatham)"]
