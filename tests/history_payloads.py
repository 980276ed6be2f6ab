"""The payloads in a Temporal history, as stored: for checking what someone reading
Temporal's database, the Web UI or `temporal workflow show` without the codec sees."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory

from workflows.search_attributes import SEARCH_ATTRIBUTES

# Personal data of the made-up families in tests/factories.py and the workflow tests:
# names, a birth date, the referrals' and signals' free text.
PERSONAL_DATA = ("de Vries", "Lotte", "Ilse Bakker", "Tante Mar", "1985-03-14",
                 "verzuim", "thuissituatie", "het loopt vast", "Sam gaat",
                 # tests.factories.partner_referral's made-up family, as the gateway refers
                 "Ouder Een", "Kind Een")

# What the SDK itself records outside the data converter, so unencrypted: a local
# activity's bookkeeping (sequence number, type, times; its input and result are
# encrypted), `workflow.patched` markers and the search attribute naming the patches.
# And Regie's own search attributes (workflows.search_attributes): Temporal indexes them
# in plain text, so they hold ids and facts only (`personal_data_in` checks them too).
SDK_BOOKKEEPING = frozenset({
    "markerRecordedEventAttributes.details.data",
    "markerRecordedEventAttributes.details.patch-data",
    "upsertWorkflowSearchAttributesEventAttributes.searchAttributes.indexedFields."
    "TemporalChangeVersion",
    *(f"{event}.searchAttributes.indexedFields.{key.name}"
      for event in ("upsertWorkflowSearchAttributesEventAttributes",
                    "workflowExecutionStartedEventAttributes")
      for key in SEARCH_ATTRIBUTES),
})


def _payload_dicts(node: Any, place: tuple[str, ...] = ()
                   ) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        # A Payload in protobuf JSON: its metadata, and data unless it is empty.
        if isinstance(node.get("metadata"), dict) and set(node) <= {"metadata", "data"}:
            yield ".".join(p for p in place if p not in ("events", "payloads")), node
            return
        for key, value in node.items():
            yield from _payload_dicts(value, (*place, key))
    elif isinstance(node, list):
        for value in node:
            yield from _payload_dicts(value, place)


def payloads_by_place(history: WorkflowHistory | str) -> list[tuple[str, Payload]]:
    """Every payload of the history as stored (encrypted or not), with where it sits in
    its event, e.g. `activityTaskScheduledEventAttributes.input`."""
    text = history if isinstance(history, str) else history.to_json()
    return [(place, json_format.ParseDict(d, Payload()))
            for place, d in _payload_dicts(json.loads(text))]


def payloads_of(history: WorkflowHistory | str) -> list[Payload]:
    return [payload for _, payload in payloads_by_place(history)]


def personal_data_in(payloads: Sequence[Payload]) -> set[str]:
    """Which of `PERSONAL_DATA` the payloads' bytes hold in plain text."""
    stored = b"\n".join(p.data + b"".join(p.metadata.values()) for p in payloads)
    return {text for text in PERSONAL_DATA if text.encode() in stored}
