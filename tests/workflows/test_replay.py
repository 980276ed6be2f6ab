"""Recorded histories must replay on the current code: a change that would break running
cases fails here. Record new ones with REGIE_RECORD_HISTORIES=1 (see README).

`tests/histories/` holds histories recorded on the current code; each subfolder holds the
histories of an earlier behaviour that running cases may still have (`before-one-append/`,
runs from before the `one-append-per-step` patch; `before-message-check/`, runs from
before the `check-episode-messages` and `ladder-terms-from-trajectory` patches). They are
never recorded again: they stand for cases already running in production. The top-level
histories recorded before the `show-case-in-temporal` patch stay where they are and replay
its old path (no search attributes, memo or summaries); `shown_in_temporal.json` was
recorded with it."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from domain.events import RecordedEvent, StagnationFound
from domain.stagnation import AgreementOverdue
from infra.payload_codec import ENCODING
from infra.temporal import workflow_runner
from tests.history_payloads import (
    SDK_BOOKKEEPING,
    payloads_by_place,
    payloads_of,
    personal_data_in,
)
from tests.payload_keyring import suite_data_converter
from workers.worker import WORKFLOWS

ROOT = Path(__file__).parent.parent / "histories"
HISTORIES = {str(p.relative_to(ROOT).with_suffix("")): p.read_text()
             for p in sorted(ROOT.glob("**/*.json"))}


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_recorded_history_replays(name: str) -> None:
    # The codec with the suite's keyring; payloads recorded before the codec (plain
    # JSON) pass through it unchanged.
    replayer = Replayer(workflows=WORKFLOWS, data_converter=suite_data_converter(),
                        workflow_runner=workflow_runner())
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    await replayer.replay_workflow(history)


def test_there_are_recorded_histories_of_now_and_of_before() -> None:
    assert any("/" not in name for name in HISTORIES), "no history of the current code"
    for before in ("before-one-append/", "before-message-check/"):
        assert any(name.startswith(before) for name in HISTORIES), before


def test_the_current_histories_hold_no_personal_data_in_plain_text() -> None:
    """Recorded with the payload codec: what Temporal stores of a case is encrypted. The
    older histories, from before it, still show the families' names (and replay all the
    same: their payloads pass through the codec)."""
    for name, text in HISTORIES.items():
        placed = payloads_by_place(text)
        plain = [p for place, p in placed if place not in SDK_BOOKKEEPING
                 and p.metadata["encoding"] != ENCODING]
        if "/" in name:
            assert not any(p.metadata["encoding"] == ENCODING for _, p in placed), name
            continue
        assert plain == [], name
        assert personal_data_in([p for _, p in placed]) == set(), name
    assert "de Vries" in personal_data_in(payloads_of(HISTORIES["before-one-append/"
                                                               "full_lifecycle"]))


def test_a_v1_finding_in_a_recorded_read_stream_result_decodes() -> None:
    """Histories recorded before findings were typed hold v1 `StagnationFound` payloads
    in `read_stream` results; replay decodes them with the current model."""
    v1 = {"event_id": str(uuid.uuid4()), "occurred_at": "2025-04-16T00:00:00Z",
          "metadata": {"actor": "system:deadline"}, "stream_id": "trajectory-c-1",
          "version": 7, "position": 42, "recorded_at": "2025-04-16T00:00:01Z",
          "payload": {"type": "StagnationFound", "rule": "agreement_overdue",
                      "key": "agreement:a:1:2025-04-15", "evidence": "agreement a:1 was due",
                      "due": "2025-04-16T00:00:00Z", "subject": "", "details": None}}
    payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps([v1]).encode())
    converter = pydantic_data_converter.payload_converter
    [[event]] = converter.from_payloads([payload], [list[RecordedEvent]])
    assert isinstance(event.payload, StagnationFound)
    assert event.payload.about == AgreementOverdue(agreement_id="a:1", due=date(2025, 4, 15))
