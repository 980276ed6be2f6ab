"""Shared helpers for workflow tests on the shared time-skipping server."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    ListOpenWorkflowExecutionsRequest,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

# How long to let a workflow finish the task or activity it is in before ending it.
SETTLE_ROUNDS = 40
SETTLE_PAUSE = 0.05


async def _settle(env: WorkflowEnvironment, execution: WorkflowExecution) -> None:
    """Wait (briefly) until `execution` has no workflow task and no activity in flight.

    The time-skipping server locks its clock while it hands out a task; a workflow
    terminated in the middle of one never gives that lock back, and every later
    `env.sleep` of the session then times out. Ending a workflow while it waits (on a
    timer, a signal) leaves the clock free.
    """
    request = DescribeWorkflowExecutionRequest(namespace=env.client.namespace,
                                               execution=execution)
    for _ in range(SETTLE_ROUNDS):
        try:
            described = await env.client.workflow_service.describe_workflow_execution(request)
        except RPCError:
            return  # gone already
        if not described.pending_activities and not described.HasField(
                "pending_workflow_task"):
            return
        await asyncio.sleep(SETTLE_PAUSE)


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
            await _settle(env, run.execution)
            with contextlib.suppress(RPCError):  # it may complete meanwhile
                await env.client.get_workflow_handle(
                    run.execution.workflow_id, run_id=run.execution.run_id
                ).terminate("test over")
        await asyncio.sleep(0.2)
