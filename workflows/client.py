"""Sending a caseworker's command to a trajectory, from outside the workflow.

The gateway, the demo, the benchmarks and the tests all send commands this way: the
command's row in `domain.command_table` names its update, so a caller never spells an
update name itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio.client import WorkflowHandle

from domain.command_table import row_for
from domain.commands import CaseworkerCommand
from workflows.trajectory import CommandResult

W = TypeVar("W")
R = TypeVar("R")


async def send_command(handle: WorkflowHandle[W, R], command: CaseworkerCommand,
                       *, id: str | None = None, rpc_timeout: timedelta | None = None
                       ) -> CommandResult:
    """Carry out `command` on the trajectory of `handle`; a refused command raises
    `WorkflowUpdateFailedError` with the rule's message. `id` makes a resend with the same
    id return the first result instead of doing the command twice."""
    update = row_for(command).update
    if update is None:
        raise TypeError(f"{type(command).__name__} is not a caseworker command")
    result: CommandResult = await handle.execute_update(
        update, command, id=id, result_type=CommandResult, rpc_timeout=rpc_timeout)
    return result
