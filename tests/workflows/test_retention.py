"""The namespace's retention period: set on the local stack, checked elsewhere."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from infra.retention import retention_of, retention_problem, set_retention


async def test_closed_runs_are_kept_no_longer_than_the_setting(
        dev_env: WorkflowEnvironment) -> None:
    namespace = dev_env.client.namespace
    original = await retention_of(dev_env.client, namespace)
    try:
        await set_retention(dev_env.client, namespace, 60)
        problem = await retention_problem(dev_env.client, namespace, 30)
        assert problem is not None and "--retention 30d" in problem
        await set_retention(dev_env.client, namespace, 30)
        assert await retention_of(dev_env.client, namespace) == timedelta(days=30)
        assert await retention_problem(dev_env.client, namespace, 30) is None
    finally:
        await set_retention(dev_env.client, namespace, max(1, original.days))
