"""What Temporal stores of a case: read without the codec (as from its database, the Web
UI or `temporal workflow show` without a codec endpoint), a history holds none of the
family's names, birth dates or free text; with the codec, it does."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from infra.payload_codec import ENCODING, KEY_ID_METADATA
from tests.history_payloads import SDK_BOOKKEEPING, payloads_by_place, personal_data_in
from tests.payload_keyring import TEST_ONLY_KEY_ID, suite_data_converter
from tests.workflows.gateway_support import Gateway
from workflows.trajectory import workflow_id_for


async def test_a_history_read_without_the_codec_holds_no_personal_data(
        gateway: Gateway, dev_env: WorkflowEnvironment) -> None:
    case = await gateway.into_care()  # the referral, commands, their activities and results
    signal = await gateway.http.post(
        f"/v1/trajectories/{case}/signals", headers={
            **gateway.partner(), "Idempotency-Key": f"sig-{case}"},
        json={"kind": "concern", "description": "zorgen over thuissituatie"})
    assert signal.status_code == 202

    # A client without the codec: what anyone with access to Temporal alone reads.
    outsider = Client(dev_env.client.service_client, namespace=dev_env.client.namespace,
                      data_converter=pydantic_data_converter)
    handle = outsider.get_workflow_handle(workflow_id_for(case))
    history = await handle.fetch_history()
    while not any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
                  for e in history.events):
        history = await handle.fetch_history()  # the signal is taken after the answer
    placed = payloads_by_place(history)
    stored = [payload for _, payload in placed]
    assert len(stored) > 10
    assert personal_data_in(stored) == set()
    encrypted = [(place, p) for place, p in placed if p.metadata["encoding"] == ENCODING]
    assert {place for place, p in placed if p.metadata["encoding"] != ENCODING} \
        <= SDK_BOOKKEEPING
    assert {p.metadata[KEY_ID_METADATA] for _, p in encrypted} == {TEST_ONLY_KEY_ID.encode()}
    assert {place for place, _ in encrypted} >= {  # the case data, wherever it travels
        "workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest.input.args",
        "workflowExecutionUpdateCompletedEventAttributes.outcome.success",
        "activityTaskScheduledEventAttributes.input",
        "activityTaskCompletedEventAttributes.result",
        "markerRecordedEventAttributes.details.result",
        "workflowExecutionSignaledEventAttributes.input"}

    codec = suite_data_converter().payload_codec
    assert codec is not None
    assert personal_data_in(await codec.decode(stored)) >= {
        "Ouder Een", "1985-03-14", "verzuim", "thuissituatie"}
