"""The organisation directory: organisations, professionals and their managers, and the
process director of each region. The escalation ladder reads it at every step.

The directory comes from a file that operators keep (HR knows who manages whom; Regie
does not), imported with `regie directory import FILE`. An import replaces the whole
directory: what the file lists is added or updated, and whoever is missing from it is
marked inactive, never deleted, so earlier escalations and the change log still resolve.
Every change is logged in `directory_changes` with the row before and after; importing
the same file again changes nothing and logs nothing.

The file is YAML (`infra/directory.example.yaml`):

    organisations:  [{id, name, webhook_url?}]
    professionals:  [{id, name, organisation_id, manager_id?, email?, operator?}]
    regions:        [{id, name, process_director_id, intake_organisation_id?}]
    professionals_csv: staff.csv   # optional, beside the YAML file; adds professionals
                                   # from an HR export with columns
                                   # id,name,organisation_id,manager_id,email

A bad file never half-imports: `load_directory_file` raises `DirectoryFileError` with one
line per problem, each naming the file and the entry, e.g.

    directory.yaml: professional pro-7: manager_id pro-99 is not a professional in the
    directory
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator
from pydantic_core import ErrorDetails

from domain.access import Colleague, DirectoryFacts
from domain.model import Frozen, Id, Name
from infra.pgtypes import Conn

Entity = Literal["organisation", "professional", "region"]
ChangeKind = Literal["added", "changed", "removed"]
ENTITIES: tuple[Entity, ...] = ("organisation", "professional", "region")
CHANGE_KINDS: tuple[ChangeKind, ...] = ("added", "changed", "removed")

# Imports replace the whole directory; two at once would each see the other's rows as
# missing. Any constant distinct from the migration lock (infra/migrations.py) will do.
_IMPORT_LOCK_ID = 0x7265676964  # "regid"

Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000,
                                       pattern=r"^https?://\S+$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]

CSV_COLUMNS = ("id", "name", "organisation_id", "manager_id", "email")


# -- the file ------------------------------------------------------------------------


class OrganisationEntry(Frozen):
    id: Id
    name: Name
    webhook_url: Url | None = None  # where notifications for its people are delivered


class ProfessionalEntry(Frozen):
    id: Id
    name: Name
    organisation_id: Id
    manager_id: Id | None = None  # another professional's id (leidinggevende)
    email: Email | None = None
    # Operators and team leads read every case (reports, inspection) and change none.
    operator: bool = False


class RegionEntry(Frozen):
    id: Id
    name: Name
    process_director_id: Id  # regionale procesregisseur jeugd: the top of the ladder
    # The organisation whose professionals take up a new case (intake, consent, the
    # first team) until it has a care coordinator.
    intake_organisation_id: Id | None = None


class DirectoryFile(Frozen):
    """A whole directory, consistent in itself (checked on construction)."""

    organisations: tuple[OrganisationEntry, ...] = ()
    professionals: tuple[ProfessionalEntry, ...] = ()
    regions: tuple[RegionEntry, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> DirectoryFile:
        problems = directory_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def directory_problems(directory: DirectoryFile) -> list[str]:
    """Every reference or uniqueness problem of a directory, one message each."""
    problems: list[str] = []
    if not directory.professionals:
        # An import replaces the whole directory: an empty list would retire everyone.
        problems.append("no professionals: an import replaces the whole directory, so "
                        "this would mark everyone inactive")
    for entity, ids in (("organisation", [o.id for o in directory.organisations]),
                        ("professional", [p.id for p in directory.professionals]),
                        ("region", [r.id for r in directory.regions])):
        for id_, count in Counter(ids).items():
            if count > 1:
                problems.append(f"{entity} {id_}: listed {count} times; ids must be unique")
    organisations = {o.id for o in directory.organisations}
    professionals = {p.id for p in directory.professionals}
    for p in directory.professionals:
        if p.organisation_id not in organisations:
            problems.append(f"professional {p.id}: organisation_id {p.organisation_id} is "
                            "not an organisation in the directory")
        if p.manager_id is not None and p.manager_id not in professionals:
            problems.append(f"professional {p.id}: manager_id {p.manager_id} is not a "
                            "professional in the directory")
    for r in directory.regions:
        if r.process_director_id not in professionals:
            problems.append(f"region {r.id}: process_director_id {r.process_director_id} "
                            "is not a professional in the directory")
        if (r.intake_organisation_id is not None
                and r.intake_organisation_id not in organisations):
            problems.append(f"region {r.id}: intake_organisation_id "
                            f"{r.intake_organisation_id} is not an organisation in the "
                            "directory")
    problems.extend(_manager_cycles(directory.professionals))
    return problems


def _manager_cycles(professionals: Sequence[ProfessionalEntry]) -> list[str]:
    # Escalating to "the manager's manager" must end somewhere; each professional has at
    # most one manager, so following the links from anyone either stops or loops.
    manager = {p.id: p.manager_id for p in professionals if p.manager_id is not None}
    done: set[str] = set()
    cycles: list[str] = []
    for start in sorted(manager):
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in done and node not in path:
            path.append(node)
            node = manager.get(node)
        if node is not None and node in path:
            loop = path[path.index(node):]
            first = loop.index(min(loop))  # the same loop reads the same from any start
            loop = loop[first:] + loop[:first]
            cycles.append(f"manager cycle: {' -> '.join([*loop, loop[0]])}; someone in it "
                          "must have a manager outside it or none")
        done.update(path)
    return cycles


class DirectoryFileError(Exception):
    """A directory file could not be read or is invalid. `str(error)` is the full
    message: one line per problem, each starting with the file name."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


def load_directory_file(path: Path) -> DirectoryFile:
    """The directory in the YAML file at `path` (with its professionals CSV, if any)."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise DirectoryFileError(path, [
            "not a .yaml or .yml file; a CSV of professionals is named in the YAML file "
            "under professionals_csv"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DirectoryFileError(path, ["no such directory file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise DirectoryFileError(path, [f"cannot read the directory file: {error}"]) from None
    except yaml.YAMLError as error:
        raise DirectoryFileError(path, [f"not valid YAML: {_yaml_problem(error)}"]) from None
    if data is None:
        raise DirectoryFileError(path, ["the file is empty"])
    if not isinstance(data, dict):
        raise DirectoryFileError(path, [
            "must be a mapping with organisations, professionals and regions "
            f"(got {type(data).__name__})"])
    data = dict(data)
    # Where each professional came from, by position, so a message can point into the CSV.
    origins: list[str | None] = []
    if isinstance(data.get("professionals"), list):
        origins = [None] * len(data["professionals"])
    if "professionals_csv" in data:
        csv_name = data.pop("professionals_csv")
        if not isinstance(csv_name, str) or not csv_name.strip():
            raise DirectoryFileError(path, ["professionals_csv: must be a file name"])
        rows, row_origins = _read_professionals_csv(path, path.parent / csv_name.strip())
        listed = data.get("professionals") or []
        if not isinstance(listed, list):
            raise DirectoryFileError(path, ["professionals: must be a list of entries"])
        data["professionals"] = [*listed, *rows]
        origins = [*origins, *row_origins]
    try:
        return DirectoryFile.model_validate(data)
    except ValidationError as error:
        problems = [line for e in error.errors()
                    for line in _describe(e, data, origins).splitlines()]
        raise DirectoryFileError(path, problems) from None


def _yaml_problem(error: yaml.YAMLError) -> str:
    # PyYAML's own text spans several lines; one line per problem keeps logs greppable.
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(error).split())


def _read_professionals_csv(yaml_path: Path, csv_path: Path
                            ) -> tuple[list[dict[str, Any]], list[str]]:
    name = csv_path.name
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark.
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in CSV_COLUMNS if c not in header]
            unknown = [c for c in header if c not in CSV_COLUMNS]
            if missing or unknown:
                raise DirectoryFileError(yaml_path, [
                    f"professionals_csv {name}: the header must be {','.join(CSV_COLUMNS)}"
                    + (f"; missing {', '.join(missing)}" if missing else "")
                    + (f"; unknown {', '.join(unknown)}" if unknown else "")])
            reader.fieldnames = header
            rows: list[dict[str, Any]] = []
            origins: list[str] = []
            problems: list[str] = []
            for row in reader:
                where = f"{name} line {reader.line_num}"
                if None in row:
                    problems.append(f"professionals_csv {where}: more values than columns")
                    continue
                # An empty cell means "not known", as a missing key does in the YAML.
                rows.append({k: (v.strip() or None) if isinstance(v, str) else v
                             for k, v in row.items()})
                origins.append(where)
            if problems:
                raise DirectoryFileError(yaml_path, problems)
            return rows, origins
    except FileNotFoundError:
        raise DirectoryFileError(yaml_path, [
            f"professionals_csv: no such file {csv_path}"]) from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DirectoryFileError(yaml_path, [
            f"professionals_csv: cannot read {csv_path}: {error}"]) from None


_SECTIONS = {"organisations": "organisation", "professionals": "professional",
             "regions": "region"}
_PATTERN_HINTS = {"webhook_url": "must be an http(s) URL", "email": "must be an email address"}


def _describe(error: ErrorDetails, data: dict[str, Any], origins: list[str | None]) -> str:
    loc = error["loc"]
    kind = error["type"]
    if kind == "value_error" and not loc:
        # directory_problems: the messages already name their entries.
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if not loc:
        return str(error["msg"])
    section = str(loc[0])
    if len(loc) == 1:
        if kind == "extra_forbidden":
            return (f"{section}: unknown key (expected organisations, professionals, "
                    "professionals_csv, regions)")
        return f"{section}: must be a list of entries"
    label = _entry_label(section, loc[1], data, origins)
    if len(loc) == 2:
        return f"{label}: must be a mapping of keys (got {_show(error.get('input'))})"
    field = ".".join(str(part) for part in loc[2:])
    if kind == "extra_forbidden":
        return f"{label}: {field}: unknown key"
    if kind == "missing":
        return f"{label}: {field}: required"
    if kind == "string_pattern_mismatch":
        hint = _PATTERN_HINTS.get(field, "must use only letters, digits and . _ : -")
        return f"{label}: {field}: {hint} (got {_show(error.get('input'))})"
    return f"{label}: {field}: {error['msg']} (got {_show(error.get('input'))})"


def _entry_label(section: str, index: object, data: dict[str, Any],
                 origins: list[str | None]) -> str:
    # Name the entry by its id when it has one: "professional pro-7", else by position.
    singular = _SECTIONS.get(section, section)
    if not isinstance(index, int):
        return f"{singular} {index}"
    entries = data.get(section)
    raw = entries[index] if isinstance(entries, list) and index < len(entries) else None
    id_ = raw.get("id") if isinstance(raw, dict) else None
    label = f"{singular} {id_}" if isinstance(id_, str) and id_ else f"{singular} #{index + 1}"
    origin = origins[index] if section == "professionals" and index < len(origins) else None
    return f"{label} ({origin})" if origin else label


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


# -- the rows ------------------------------------------------------------------------


class Organisation(OrganisationEntry):
    active: bool = True


class Professional(ProfessionalEntry):
    active: bool = True


class Region(RegionEntry):
    active: bool = True


_TABLES: dict[Entity, tuple[str, type[Organisation | Professional | Region]]] = {
    "organisation": ("directory_organisations", Organisation),
    "professional": ("directory_professionals", Professional),
    "region": ("directory_regions", Region),
}


class DirectoryChange(BaseModel):
    """One row made, changed or retired by an import; `before` is None when added."""

    model_config = ConfigDict(frozen=True)
    entity: Entity
    entity_id: str
    change: ChangeKind
    before: dict[str, Any] | None
    after: dict[str, Any]


class LoggedChange(DirectoryChange):
    seq: int
    imported_at: datetime
    source: str


class ImportReport(BaseModel):
    model_config = ConfigDict(frozen=True)
    source: str
    changes: tuple[DirectoryChange, ...]

    def count(self, entity: Entity, change: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.entity == entity and c.change == change)

    def summary(self) -> list[str]:
        """One line per entity, e.g. `professionals: 1 added, 2 changed, 0 removed`."""
        return [f"{entity}s: " + ", ".join(f"{self.count(entity, kind)} {kind}"
                                           for kind in CHANGE_KINDS)
                for entity in ENTITIES]


class DirectorySnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)
    organisations: tuple[Organisation, ...]
    professionals: tuple[Professional, ...]
    regions: tuple[Region, ...]


# -- import --------------------------------------------------------------------------


async def import_directory(conn: Conn, directory: DirectoryFile, source: str) -> ImportReport:
    """Make the directory equal to `directory`, logging each change under `source`."""
    changes: list[DirectoryChange] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _IMPORT_LOCK_ID)
        # Organisations first: professionals reference them by foreign key.
        changes += await _sync(conn, "organisation", directory.organisations, source)
        changes += await _sync(conn, "professional", directory.professionals, source)
        changes += await _sync(conn, "region", directory.regions, source)
    return ImportReport(source=source, changes=tuple(changes))


async def _sync(conn: Conn, entity: Entity,
                entries: Sequence[OrganisationEntry | ProfessionalEntry | RegionEntry],
                source: str) -> list[DirectoryChange]:
    table, model = _TABLES[entity]
    columns = list(model.model_fields)
    existing = {r["id"]: dict(r)
                for r in await conn.fetch(f"SELECT {', '.join(columns)} FROM {table}")}
    changes: list[DirectoryChange] = []
    for entry in entries:
        after = {**entry.model_dump(), "active": True}
        before = existing.get(entry.id)
        if before == after:
            continue  # the same file again changes nothing
        # Someone who left and is listed again counts as added (back), with the old row.
        kind: ChangeKind = "changed" if before is not None and before["active"] else "added"
        changes.append(DirectoryChange(entity=entity, entity_id=entry.id, change=kind,
                                       before=before, after=after))
    listed = {entry.id for entry in entries}
    for id_, before in sorted(existing.items()):
        if id_ not in listed and before["active"]:
            changes.append(DirectoryChange(entity=entity, entity_id=id_, change="removed",
                                           before=before, after={**before, "active": False}))
    if not changes:
        return changes
    placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    await conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
        [[c.after[col] for col in columns] for c in changes])
    await conn.executemany(
        """INSERT INTO directory_changes (entity, entity_id, change, before, after, source)
           VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6)""",
        [(c.entity, c.entity_id, c.change,
          None if c.before is None else json.dumps(c.before), json.dumps(c.after), source)
         for c in changes])
    return changes


# -- reading -------------------------------------------------------------------------


async def organisation(conn: Conn, organisation_id: str) -> Organisation | None:
    """The organisation, active or not; None if the directory never listed it."""
    row = await conn.fetchrow("SELECT * FROM directory_organisations WHERE id = $1",
                              organisation_id)
    return None if row is None else Organisation.model_validate(dict(row))


async def professional(conn: Conn, professional_id: str) -> Professional | None:
    """The professional, active or not; None if the directory never listed them."""
    row = await conn.fetchrow("SELECT * FROM directory_professionals WHERE id = $1",
                              professional_id)
    return None if row is None else Professional.model_validate(dict(row))


async def region(conn: Conn, region_id: str) -> Region | None:
    row = await conn.fetchrow("SELECT * FROM directory_regions WHERE id = $1", region_id)
    return None if row is None else Region.model_validate(dict(row))


async def manager_of(conn: Conn, professional_id: str) -> Professional | None:
    """The active manager of `professional_id`; None if none is known or they left.

    The professional themself may have left: their last known manager still answers for
    the work they left behind.
    """
    row = await conn.fetchrow(
        """SELECT m.* FROM directory_professionals p
           JOIN directory_professionals m ON m.id = p.manager_id
           WHERE p.id = $1 AND m.active""",
        professional_id)
    return None if row is None else Professional.model_validate(dict(row))


async def process_director(conn: Conn, region_id: str) -> Professional | None:
    """The active process director of an active region; None if either is unknown."""
    row = await conn.fetchrow(
        """SELECT d.* FROM directory_regions r
           JOIN directory_professionals d ON d.id = r.process_director_id
           WHERE r.id = $1 AND r.active AND d.active""",
        region_id)
    return None if row is None else Professional.model_validate(dict(row))


async def read_directory(conn: Conn) -> DirectorySnapshot:
    """The whole directory, inactive rows included, ordered by id."""
    return DirectorySnapshot(
        organisations=tuple(Organisation.model_validate(dict(r)) for r in await conn.fetch(
            "SELECT * FROM directory_organisations ORDER BY id")),
        professionals=tuple(Professional.model_validate(dict(r)) for r in await conn.fetch(
            "SELECT * FROM directory_professionals ORDER BY id")),
        regions=tuple(Region.model_validate(dict(r)) for r in await conn.fetch(
            "SELECT * FROM directory_regions ORDER BY id")),
    )


async def directory_changes(conn: Conn, *, limit: int = 50) -> list[LoggedChange]:
    """The latest `limit` logged changes, oldest first."""
    rows = await conn.fetch(
        """SELECT * FROM (SELECT * FROM directory_changes ORDER BY seq DESC LIMIT $1) latest
           ORDER BY seq""", limit)
    return [LoggedChange.model_validate({
        **dict(r),
        "before": None if r["before"] is None else json.loads(r["before"]),
        "after": json.loads(r["after"]),
    }) for r in rows]


async def access_facts(conn: Conn, professional_ids: Iterable[str], region_id: str
                       ) -> DirectoryFacts:
    """What access to a case depends on: the professionals it names (with their managers,
    to know whether those are still active) and its region's process director and intake
    organisation."""
    ids = sorted(set(professional_ids))
    rows = await conn.fetch(
        """SELECT id, organisation_id, manager_id, active FROM directory_professionals
           WHERE id = ANY($1::text[])
              OR id IN (SELECT manager_id FROM directory_professionals
                        WHERE id = ANY($1::text[]) AND manager_id IS NOT NULL)""", ids)
    region_row = await conn.fetchrow(
        """SELECT r.intake_organisation_id,
                  CASE WHEN d.active THEN r.process_director_id END AS process_director_id
           FROM directory_regions r
           LEFT JOIN directory_professionals d ON d.id = r.process_director_id
           WHERE r.id = $1 AND r.active""", region_id)
    return DirectoryFacts(
        professionals={r["id"]: Colleague(organisation_id=r["organisation_id"],
                                          manager_id=r["manager_id"], active=r["active"])
                       for r in rows},
        process_director_id=None if region_row is None else region_row["process_director_id"],
        intake_organisation_id=(None if region_row is None
                                else region_row["intake_organisation_id"]))
