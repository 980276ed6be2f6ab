"""The region's demo data (`workers.demo.seed_region`) through the gateway and the real
worker on the dev server: the phases it promises, found as an operator finds them in the
Web UI (search attributes), and the same ten families when it runs twice."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from infra.directory import import_directory, load_directory_file
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.workflows.gateway_support import Gateway
from tests.workflows.test_search_attributes import listed
from workers.demo import EXAMPLE_DIRECTORY, REGION_FAMILIES, seed_region
from workflows.trajectory import workflow_id_for

SURNAMES = [family.surname for family in REGION_FAMILIES]


async def test_seeding_the_region_gives_the_phases_promised_once(
        dev_env: WorkflowEnvironment, gateway: Gateway, pg_store: PostgresEventStore,
        database_dsn: str, tmp_path: Path) -> None:
    # The demo's people are those of the example directory, as on the local stack.
    async with pg_store.pool.acquire() as conn:
        await import_directory(conn, load_directory_file(EXAMPLE_DIRECTORY), source="demo")
    settings = Settings(database_url=database_dsn, data_dir=tmp_path)
    lines: list[str] = []

    cases = await seed_region("http://gateway", progress=lines.append, settings=settings,
                              http=gateway.http)

    assert len({c.case_id for c in cases}) == len(cases) == 10
    assert len([line for line in lines if line.startswith("demo-region-")]) == 10
    by_family = {c.family: c for c in cases}
    client = dev_env.client
    for case in cases:
        assert await listed(client, workflow_id_for(case.case_id),
                            f'Phase = "{case.phase}"'), (case.family, case.phase)
    phases = sorted(c.phase for c in cases)
    assert phases == ["accepted", "aftercare", "ended", *["in_care"] * 5, "referred",
                      "referred"]
    # The open escalations: waiting and reported stuck, and unreachable in care.
    for family in ("Zonneveld", "Duinzicht"):
        assert await listed(client, workflow_id_for(by_family[family].case_id),
                            "EscalationLevel >= 1"), family
    assert await listed(client, workflow_id_for(by_family["Bosrand"].case_id),
                        'InAftercare = true AND CoordinatorId = "pro-1"')
    reopened = await client.get_workflow_handle(
        workflow_id_for(by_family["Waterkant"].case_id)).describe()
    memo = dict(await reopened.memo())
    assert memo["case"]["reopened"] == 1 and memo["case"]["phase"] == "in_care"
    # Made-up names in the store only: not in what Temporal shows of any case.
    for case in cases:
        shown = await client.get_workflow_handle(workflow_id_for(case.case_id)).describe()
        text = json.dumps(dict(await shown.memo())) + json.dumps(shown.search_attributes)
        assert [s for s in SURNAMES if s in text] == []

    versions = {c.case_id: len(await pg_store.read_stream(f"trajectory-{c.case_id}"))
                for c in cases}
    again = await seed_region("http://gateway", settings=settings, http=gateway.http)

    assert [c.case_id for c in again] == [c.case_id for c in cases]
    assert {c.case_id: len(await pg_store.read_stream(f"trajectory-{c.case_id}"))
            for c in cases} == versions
    async with pg_store.pool.acquire() as conn:
        streams = await conn.fetchval(
            "SELECT count(DISTINCT stream_id) FROM events WHERE stream_id LIKE 'trajectory-%'")
    assert streams == 10
