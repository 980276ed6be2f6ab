from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from temporalio.exceptions import ApplicationError

from activities.directory import Assignee, DirectoryActivities, ResolveAssigneeInput
from domain.notifications import RecipientRole
from infra.directory import (
    DirectoryFile,
    DirectoryFileError,
    directory_changes,
    import_directory,
    load_directory_file,
    manager_of,
    organisation,
    process_director,
    professional,
)
from infra.pgtypes import Conn
from infra.settings import Settings
from workers.cli.directory import directory_import, directory_show

EXAMPLE = Path(__file__).parents[2] / "infra" / "directory.example.yaml"


def example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


def directory(data: dict[str, Any]) -> DirectoryFile:
    return DirectoryFile.model_validate(data)


def person(data: dict[str, Any], id_: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in data["professionals"] if p["id"] == id_)
    return found


async def change_count(conn: Conn) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM directory_changes")
    return count


# -- import --------------------------------------------------------------------------


async def test_import_adds_everything_and_reads_back(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        report = await import_directory(conn, load_directory_file(EXAMPLE), "example.yaml")
        assert report.summary() == [
            "organisations: 3 added, 0 changed, 0 removed",
            "professionals: 5 added, 0 changed, 0 removed",
            "regions: 2 added, 0 changed, 0 removed",
        ]
        assert await change_count(conn) == 10
        pro1 = await professional(conn, "pro-1")
        assert pro1 is not None and pro1.name == "Fatima El Amrani" and pro1.active
        manager = await manager_of(conn, "pro-1")
        assert manager is not None and manager.id == "pro-2"
        assert await manager_of(conn, "pro-3") is None  # no manager listed
        assert await manager_of(conn, "nobody") is None
        director = await process_director(conn, "holland-noord")
        assert director is not None and director.id == "pro-4"
        assert await process_director(conn, "utrecht") is None
        org = await organisation(conn, "wijkteam-alkmaar")
        assert org is not None and org.webhook_url is not None
        ggd = await organisation(conn, "ggd-hn")
        assert ggd is not None and ggd.webhook_url is None


async def test_reimporting_the_same_file_changes_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await import_directory(conn, load_directory_file(EXAMPLE), "first")
        before = await change_count(conn)
        report = await import_directory(conn, load_directory_file(EXAMPLE), "again")
        assert report.changes == ()
        assert await change_count(conn) == before


async def test_a_change_is_logged_with_before_and_after(pool: asyncpg.Pool) -> None:
    data = example()
    async with pool.acquire() as conn:
        await import_directory(conn, directory(data), "v1")
        person(data, "pro-1")["manager_id"] = "pro-4"
        report = await import_directory(conn, directory(data), "v2")
        assert [(c.entity, c.entity_id, c.change) for c in report.changes] == [
            ("professional", "pro-1", "changed")]
        logged = (await directory_changes(conn, limit=1))[0]
        assert (logged.entity_id, logged.change, logged.source) == ("pro-1", "changed", "v2")
        assert logged.before is not None and logged.before["manager_id"] == "pro-2"
        assert logged.after["manager_id"] == "pro-4"
        manager = await manager_of(conn, "pro-1")
        assert manager is not None and manager.id == "pro-4"


async def test_missing_professional_becomes_inactive_not_deleted(pool: asyncpg.Pool) -> None:
    data = example()
    async with pool.acquire() as conn:
        await import_directory(conn, directory(data), "v1")
        smaller = copy.deepcopy(data)
        smaller["professionals"] = [p for p in data["professionals"] if p["id"] != "pro-2"]
        person(smaller, "pro-1")["manager_id"] = None
        report = await import_directory(conn, directory(smaller), "v2")
        assert report.count("professional", "removed") == 1
        assert report.count("professional", "changed") == 1
        gone = await professional(conn, "pro-2")
        assert gone is not None and not gone.active
        logged = [c for c in await directory_changes(conn) if c.change == "removed"]
        assert [c.entity_id for c in logged] == ["pro-2"]
        assert logged[0].before is not None and logged[0].before["active"] is True
        assert logged[0].after["active"] is False

        # Listed again: back as added, with the inactive row as `before`.
        report = await import_directory(conn, directory(data), "v3")
        back = [c for c in report.changes if c.entity_id == "pro-2"]
        assert [c.change for c in back] == ["added"]
        assert back[0].before is not None and back[0].before["active"] is False


async def test_manager_who_left_is_no_manager(pool: asyncpg.Pool) -> None:
    data = example()
    async with pool.acquire() as conn:
        await import_directory(conn, directory(data), "v1")
        # An import refuses a file that names a manager it does not list, so a retired
        # manager still named by someone can only come from an edit by hand: be safe anyway.
        await conn.execute("UPDATE directory_professionals SET active = false "
                           "WHERE id = 'pro-2'")
        assert await manager_of(conn, "pro-1") is None


# -- validation ----------------------------------------------------------------------


def write(tmp_path: Path, data: object, name: str = "directory.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(DirectoryFileError) as caught:
        load_directory_file(path)
    assert all(line.startswith(f"{path}: ") for line in str(caught.value).splitlines())
    return caught.value.problems


def test_example_file_is_valid() -> None:
    loaded = load_directory_file(EXAMPLE)
    assert len(loaded.professionals) == 5 and loaded.regions[0].id == "holland-noord"
    assert loaded.regions[0].intake_organisation_id == "wijkteam-alkmaar"
    assert [p.id for p in loaded.professionals if p.operator] == ["op-1"]


def test_unknown_organisation(tmp_path: Path) -> None:
    data = example()
    person(data, "pro-3")["organisation_id"] = "ggd-xx"
    assert problems_of(write(tmp_path, data)) == [
        "professional pro-3: organisation_id ggd-xx is not an organisation in the directory"]


def test_manager_who_is_not_a_professional(tmp_path: Path) -> None:
    data = example()
    person(data, "pro-3")["manager_id"] = "pro-99"
    assert problems_of(write(tmp_path, data)) == [
        "professional pro-3: manager_id pro-99 is not a professional in the directory"]


def test_region_with_unknown_intake_organisation(tmp_path: Path) -> None:
    data = example()
    data["regions"][0]["intake_organisation_id"] = "wijkteam-xx"
    assert problems_of(write(tmp_path, data)) == [
        "region holland-noord: intake_organisation_id wijkteam-xx is not an organisation in "
        "the directory"]


def test_region_with_unknown_process_director(tmp_path: Path) -> None:
    data = example()
    data["regions"][0]["process_director_id"] = "pro-42"
    assert problems_of(write(tmp_path, data)) == [
        "region holland-noord: process_director_id pro-42 is not a professional in the "
        "directory"]


def test_duplicate_ids(tmp_path: Path) -> None:
    data = example()
    data["professionals"].append({**person(data, "pro-3"), "name": "Another Sanne"})
    data["organisations"].append(data["organisations"][0])
    assert problems_of(write(tmp_path, data)) == [
        "organisation wijkteam-alkmaar: listed 2 times; ids must be unique",
        "professional pro-3: listed 2 times; ids must be unique",
    ]


def test_manager_cycle(tmp_path: Path) -> None:
    data = example()
    person(data, "pro-4")["manager_id"] = "pro-1"  # pro-1 -> pro-2 -> pro-4 -> pro-1
    assert problems_of(write(tmp_path, data)) == [
        "manager cycle: pro-1 -> pro-2 -> pro-4 -> pro-1; someone in it must have a "
        "manager outside it or none"]
    data = example()
    person(data, "pro-3")["manager_id"] = "pro-3"
    assert problems_of(write(tmp_path, data)) == [
        "manager cycle: pro-3 -> pro-3; someone in it must have a manager outside it or none"]


def test_field_problems_name_the_entry(tmp_path: Path) -> None:
    data = example()
    person(data, "pro-1")["email"] = "not an address"
    person(data, "pro-2")["mananger_id"] = "pro-4"
    del data["professionals"][2]["id"]
    data["organisations"][0]["webhook_url"] = "ftp://x"
    data["teams"] = []
    assert problems_of(write(tmp_path, data)) == [
        "organisation wijkteam-alkmaar: webhook_url: must be an http(s) URL (got 'ftp://x')",
        "professional pro-1: email: must be an email address (got 'not an address')",
        "professional pro-2: mananger_id: unknown key",
        "professional #3: id: required",
        "teams: unknown key (expected organisations, professionals, professionals_csv, "
        "regions)",
    ]


@pytest.mark.parametrize(("name", "text", "problem"), [
    ("directory.yaml", "", "the file is empty"),
    ("directory.yaml", "- a\n- b\n", "must be a mapping with organisations, professionals "
                                     "and regions (got list)"),
    ("directory.yaml", "organisations: [\n", "not valid YAML: expected the node content, but "
                                            "found '<stream end>' at line 2, column 1"),
    ("directory.yaml", "organisations: []\nprofessionals: []\n",
     "no professionals: an import replaces the whole directory"),
    ("directory.toml", "x = 1", "not a .yaml or .yml file"),
])
def test_unreadable_files(tmp_path: Path, name: str, text: str, problem: str) -> None:
    assert problems_of(write(tmp_path, text, name))[0].startswith(problem)


def test_missing_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.yaml") == ["no such directory file"]


def test_professionals_from_a_csv(tmp_path: Path) -> None:
    data = example()
    data["professionals"] = [p for p in data["professionals"] if p["id"] == "pro-4"]
    data["professionals_csv"] = "staff.csv"
    (tmp_path / "staff.csv").write_text(
        "\ufeffid,name,organisation_id,manager_id,email\n"
        "pro-1,Fatima El Amrani,wijkteam-alkmaar,pro-2,f@wijkteam.example.nl\n"
        "pro-2,Joost Bakker,wijkteam-alkmaar,pro-4,\n"
        "pro-3,Sanne de Jong,ggd-hn,,\n")
    loaded = load_directory_file(write(tmp_path, data))
    assert [p.id for p in loaded.professionals] == ["pro-4", "pro-1", "pro-2", "pro-3"]
    assert loaded.professionals[2].email is None and loaded.professionals[3].manager_id is None


def test_csv_problems_name_the_line(tmp_path: Path) -> None:
    data = {**example(), "professionals_csv": "staff.csv"}
    staff = tmp_path / "staff.csv"
    staff.write_text("id,name,organisation_id,manager_id,email\n"
                     "pro-9,Piet,ggd-hn,,bad-address\n")
    assert problems_of(write(tmp_path, data)) == [
        "professional pro-9 (staff.csv line 2): email: must be an email address "
        "(got 'bad-address')"]
    staff.write_text("id,naam,organisation_id\n")
    assert problems_of(write(tmp_path, data)) == [
        "professionals_csv staff.csv: the header must be id,name,organisation_id,manager_id,"
        "email; missing name, manager_id, email; unknown naam"]
    staff.unlink()
    assert problems_of(write(tmp_path, data))[0].startswith("professionals_csv: no such file")


# -- the escalation assignee ---------------------------------------------------------


def ask(level: int, coordinator: str | None = "pro-1", concerned: str | None = None,
        region: str = "holland-noord") -> ResolveAssigneeInput:
    return ResolveAssigneeInput(case_id="c-1", region_id=region, level=level,
                                coordinator_id=coordinator, concerned_professional_id=concerned)


@pytest.fixture
async def activities(pool: asyncpg.Pool) -> DirectoryActivities:
    async with pool.acquire() as conn:
        await import_directory(conn, load_directory_file(EXAMPLE), "example")
    return DirectoryActivities(pool)


async def test_level_1_is_the_coordinator(activities: DirectoryActivities) -> None:
    assert await activities.resolve_escalation_assignee(ask(1)) == Assignee(
        level=1, assignee_id="pro-1", name="Fatima El Amrani", role=RecipientRole.COORDINATOR,
        organisation_id="wijkteam-alkmaar", note="coordinator of case c-1")


async def test_level_1_without_known_coordinator_goes_to_level_2(
        activities: DirectoryActivities) -> None:
    got = await activities.resolve_escalation_assignee(ask(1, coordinator="pro-77",
                                                           concerned="pro-2"))
    assert (got.level, got.assignee_id, got.role) == (2, "pro-4", RecipientRole.MANAGER)
    assert got.note.startswith("coordinator pro-77 is not in the directory; "
                               "escalated to the manager; manager of pro-2")
    got = await activities.resolve_escalation_assignee(ask(1, coordinator=None))
    assert (got.level, got.role) == (3, RecipientRole.PROCESS_DIRECTOR)
    assert got.note.startswith("no coordinator appointed")


async def test_level_2_is_the_coordinators_manager(activities: DirectoryActivities) -> None:
    got = await activities.resolve_escalation_assignee(ask(2))
    assert (got.level, got.assignee_id, got.name, got.role, got.organisation_id) == (
        2, "pro-2", "Joost Bakker", RecipientRole.MANAGER, "wijkteam-alkmaar")
    assert got.note == "manager of pro-1 (the coordinator)"


async def test_level_2_prefers_the_manager_of_the_professional_concerned(
        activities: DirectoryActivities) -> None:
    got = await activities.resolve_escalation_assignee(ask(2, concerned="pro-2"))
    assert (got.level, got.assignee_id) == (2, "pro-4")
    assert got.note == "manager of pro-2 (the professional concerned)"


async def test_level_2_without_a_known_manager_goes_to_the_process_director(
        activities: DirectoryActivities) -> None:
    got = await activities.resolve_escalation_assignee(ask(2, concerned="pro-3"))
    assert (got.level, got.assignee_id, got.role, got.organisation_id) == (
        3, "pro-4", RecipientRole.PROCESS_DIRECTOR, "ggd-hn")
    assert got.note == ("no manager known for pro-3 in the directory; escalated straight to "
                        "the regional process director; process director of region "
                        "holland-noord")


async def test_level_3_is_the_process_director(activities: DirectoryActivities) -> None:
    got = await activities.resolve_escalation_assignee(ask(3))
    assert (got.level, got.assignee_id, got.name, got.role) == (
        3, "pro-4", "Mirjam Visser", RecipientRole.PROCESS_DIRECTOR)


async def test_unknown_region_fails_for_good_with_a_clear_message(
        activities: DirectoryActivities) -> None:
    with pytest.raises(ApplicationError) as caught:
        await activities.resolve_escalation_assignee(ask(3, region="utrecht"))
    assert caught.value.non_retryable
    assert caught.value.type == "DirectoryIncomplete"
    assert caught.value.message == (
        "case c-1: region utrecht is not in the organisation directory, so the escalation "
        "has nobody to reach; import a directory that names the region's process director "
        "(`regie directory import FILE`)")
    # Lower levels that fall through reach the same wall.
    with pytest.raises(ApplicationError, match="region utrecht"):
        await activities.resolve_escalation_assignee(ask(2, concerned="pro-3",
                                                         region="utrecht"))


async def test_a_directory_change_reaches_the_next_call(activities: DirectoryActivities,
                                                        pool: asyncpg.Pool) -> None:
    first = await activities.resolve_escalation_assignee(ask(2))
    assert first.assignee_id == "pro-2"
    data = example()
    data["professionals"].append({"id": "pro-5", "name": "Noor Yilmaz",
                                  "organisation_id": "wijkteam-alkmaar",
                                  "manager_id": "pro-4"})
    person(data, "pro-1")["manager_id"] = "pro-5"
    async with pool.acquire() as conn:
        await import_directory(conn, directory(data), "new manager")
    second = await activities.resolve_escalation_assignee(ask(2))
    assert (second.assignee_id, second.name) == ("pro-5", "Noor Yilmaz")


# -- the command line ----------------------------------------------------------------


async def test_cli_import_and_show(database_dsn: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=database_dsn)
    assert await directory_import(settings, EXAMPLE) == 0
    out = capsys.readouterr().out
    assert "professionals: 5 added, 0 changed, 0 removed" in out
    assert "  + region holland-noord (added)" in out

    assert await directory_import(settings, EXAMPLE) == 0
    assert "nothing changed" in capsys.readouterr().out

    assert await directory_show(settings, limit=3) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert ["│", "pro-1", "│", "Fatima", "El", "Amrani", "│", "wijkteam-alkmaar", "│",
            "pro-2", "│", "│"] in rows
    assert ["│", "holland-noord", "│", "Holland", "Noord", "│", "pro-4", "│", "│"] in rows
    assert "Latest changes (3)" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"organisations": [], "professionals": []}))
    assert await directory_import(settings, bad) == 1  # refused: an invalid file
    assert f"{bad}: no professionals" in capsys.readouterr().err
