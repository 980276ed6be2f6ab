"""The operators' lists and figures on the command line, read from the read models that
`regie projections rebuild` fills from the log."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from domain.trajectory import Phase
from infra.directory import import_directory
from infra.event_store import PostgresEventStore
from infra.projections import PROJECTIONS
from infra.settings import Settings
from tests.cli_case import COORDINATOR, write_story
from tests.directory_fixture import DIRECTORY
from workers.cli.case_list import case_list
from workers.cli.caseload import caseload, load_bar
from workers.cli.escalations import escalations
from workers.cli.projections import projections_rebuild
from workers.cli.region_report import report
from workers.cli.waiting import waiting


def json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


async def test_lists_and_figures_come_from_the_rebuilt_read_models(
    pg_store: PostgresEventStore, database_dsn: str, kek: SecretStr,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    settings = Settings(database_url=database_dsn, kek=kek)
    async with pg_store.pool.acquire() as conn:
        await import_directory(conn, DIRECTORY, source="tests")
    await write_story(pg_store, "story-3")

    assert await projections_rebuild(settings, None, as_json=True) == 0
    rebuilt = json_lines(capsys.readouterr().out)
    assert sorted(str(r["name"]) for r in rebuilt) == sorted(PROJECTIONS)
    assert {r["events"] for r in rebuilt} == {10}  # every read model passed the whole log
    assert await projections_rebuild(settings, "case_list", as_json=False) == 0
    assert "case_list: rebuilt from 10 events in" in capsys.readouterr().out
    assert await projections_rebuild(settings, "no-such-model") == 3
    assert "no read model named 'no-such-model'" in capsys.readouterr().err

    assert await case_list(settings, as_json=True) == 0
    (row,) = json_lines(capsys.readouterr().out)
    assert (row["case_id"], row["phase"], row["coordinator_id"], row["escalation_level"]) == (
        "story-3", "in_care", COORDINATOR, 1)
    assert await case_list(settings, phase=Phase.REFERRED) == 0
    assert capsys.readouterr().err == "no cases match\n"
    assert await case_list(settings, escalated=True, coordinator=COORDINATOR) == 0
    listed = capsys.readouterr()
    assert "story-3" in listed.out and "level 1" in listed.out
    assert listed.err == "cases 1 to 1\n"
    assert await case_list(settings, limit=1, offset=1) == 0
    assert capsys.readouterr().err == "no cases after the first 1\n"

    assert await escalations(settings, as_json=True) == 0
    (episode,) = json_lines(capsys.readouterr().out)
    assert (episode["episode_id"], episode["level"], episode["assignee_id"]) == (
        "ep-1", 1, COORDINATOR)
    assert await escalations(settings) == 0
    board = capsys.readouterr().out
    assert "evaluation overdue" in board and "30 Dec 2026 01:00" in board

    assert await caseload(settings, None, as_json=True) == 0
    (load,) = json_lines(capsys.readouterr().out)
    assert (load["coordinator_id"], load["open_cases"], load["cap"]) == (COORDINATOR, 1, 15)
    assert await caseload(settings, None) == 0
    assert "1 coordinators, 0 over the cap" in capsys.readouterr().err

    # Referred on 2 November, intake a week later, care a week after that: both waits
    # are over and within the norms, whatever day the test runs.
    assert await waiting(settings, region=None, year=2026, as_json=True) == 0
    waits = json.loads(capsys.readouterr().out)
    assert [(s["stage"], s["waits"], s["within_norm"]) for s in waits["summary"]] == [
        ("intake", 1, 1), ("care_start", 1, 1)]
    assert await waiting(settings, region=None, year=2026) == 0
    assert "Waiting times against the norms (2026)" in capsys.readouterr().out

    assert await report(settings, 2026, None, as_json=True) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["year"], figures["referred"], figures["started"], figures["first_plans"]
            ) == (2026, 1, 1, 1)
    assert await report(settings, 2026, None) == 0
    shown = capsys.readouterr().out
    assert "every region, 2026" in shown and "Stagnations and where they ended" in shown


def test_a_caseload_bar_shows_each_case_above_the_cap() -> None:
    assert load_bar(0, 15) == "░" * 20
    assert load_bar(15, 15) == "█" * 20
    assert load_bar(17, 15) == "█" * 20 + "++"
