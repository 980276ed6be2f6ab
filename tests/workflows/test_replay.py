"""Recorded histories must replay on the current code: a change that would break running
cases fails here. Record new ones with REGIE_RECORD_HISTORIES=1 (see README)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from infra.temporal import workflow_runner
from workers.worker import WORKFLOWS

HISTORIES = {p.stem: p.read_text()
             for p in sorted((Path(__file__).parent.parent / "histories").glob("*.json"))}


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_recorded_history_replays(name: str) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter,
                        workflow_runner=workflow_runner())
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    await replayer.replay_workflow(history)


def test_there_are_recorded_histories() -> None:
    assert HISTORIES, "tests/histories/ must hold at least one recorded history"
