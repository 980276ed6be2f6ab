"""How long Temporal keeps a closed workflow run: the namespace's retention period.

A closed run's history holds the payloads it was given (encrypted by the payload codec,
but still there) until retention removes it. Youth-care law gives at most 3 months to
carry out an erasure request; the retention period is set well under that
(`REGIE_TEMPORAL_RETENTION_DAYS`, 30 by default), so the closed runs of an erased
person's case are gone in time. Running runs are made to start afresh at erasure
(`regie erase-subject`).
"""

from __future__ import annotations

from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import Client


async def retention_of(client: Client, namespace: str) -> timedelta:
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace))
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


async def set_retention(client: Client, namespace: str, days: int) -> None:
    """For the namespace Regie runs itself (the local stack); in production the
    namespace belongs to whoever runs Temporal, and `retention_problem` says if it is too
    long."""
    ttl = Duration()
    ttl.FromTimedelta(timedelta(days=days))
    await client.workflow_service.update_namespace(UpdateNamespaceRequest(
        namespace=namespace, config=NamespaceConfig(workflow_execution_retention_ttl=ttl)))


async def retention_problem(client: Client, namespace: str, days: int) -> str | None:
    kept = await retention_of(client, namespace)
    if kept > timedelta(days=days):
        return (f"namespace {namespace} keeps closed runs {kept.days} days; Regie's "
                f"retention is {days} days (REGIE_TEMPORAL_RETENTION_DAYS): set it with "
                f"`temporal operator namespace update --retention {days}d {namespace}`")
    return None
