"""Shared helpers for workflow tests on the shared time-skipping server."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio.api.workflowservice.v1 import ListOpenWorkflowExecutionsRequest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment


async def terminate_open_workflows(env: WorkflowEnvironment, rounds: int = 5) -> None:
    """End every workflow still running (cases, escalation episodes) on the shared server.

    A test's worker stops with the test; a workflow left running without a worker keeps
    the shared time-skipping server from skipping time, and the next test times out.
    Tests run one at a time, so whatever is still open belongs to the test that ends.
    (The test server leaves `task_queue` empty in its listing, so it cannot filter.)
    Several rounds, because a child workflow whose start was already under way when its
    parent was terminated appears only a moment later.
    """
    for _ in range(rounds):
        open_runs = await env.client.workflow_service.list_open_workflow_executions(
            ListOpenWorkflowExecutionsRequest(namespace=env.client.namespace,
                                              maximum_page_size=1000))
        if not open_runs.executions:
            return
        for run in open_runs.executions:
            with contextlib.suppress(RPCError):  # it may complete meanwhile
                await env.client.get_workflow_handle(
                    run.execution.workflow_id, run_id=run.execution.run_id
                ).terminate("test over")
        await asyncio.sleep(0.2)
