"""`regie`: the operator's command line.

    regie timeline CASE_ID        every event of a case, in order, with who and why
    regie overview                one line per trajectory (from the read model)
    regie erase-subject PERSON_ID destroy a person's key (crypto-shredding)
    regie migrate                 apply pending database migrations
    regie directory import FILE   replace the organisation directory with a YAML file
    regie directory show          the directory and its latest changes

Without REGIE_DATABASE_URL it uses the embedded PostgreSQL under the data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from domain.trajectory import stream_id_for
from infra.database import create_pool, prepare_database
from infra.directory import (
    DirectoryFileError,
    directory_changes,
    import_directory,
    load_directory_file,
    read_directory,
)
from infra.event_store import PostgresEventStore
from infra.settings import Settings


async def _with_store(settings: Settings) -> tuple[PostgresEventStore, Any]:
    dsn, server = await prepare_database(settings.database_url, settings.data_dir,
                                         settings.database_name)
    return PostgresEventStore(await create_pool(dsn, max_size=2)), server


async def timeline(settings: Settings, case_id: str, as_json: bool) -> int:
    store, _server = await _with_store(settings)
    events = await store.read_stream(stream_id_for(case_id))
    if not events:
        print(f"no events for case {case_id!r}; check the case id (see `regie overview`)",
              file=sys.stderr)
        return 1
    for e in events:
        if as_json:
            print(e.model_dump_json())
        else:
            print(f"{e.version:>4}  {e.occurred_at:%Y-%m-%d %H:%M}  {e.type:<22} "
                  f"by {e.metadata.actor}  (position {e.position}, "
                  f"workflow {e.metadata.workflow_id or '-'})")
    return 0


async def overview(settings: Settings) -> int:
    store, _server = await _with_store(settings)
    async with store.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM trajectory_overview ORDER BY referred_at")
    if not rows:
        print("no trajectories yet (the projector fills this view)")
    for r in rows:
        print(json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v)
                          for k, v in dict(r).items()}))
    return 0


async def erase_subject(settings: Settings, person_id: str) -> int:
    store, _server = await _with_store(settings)
    if await store.erase_subject(person_id):
        print(f"personal data of {person_id} erased: its key is destroyed; events remain")
    else:
        print(f"personal data of {person_id} was already erased")
    return 0


async def migrate(settings: Settings) -> int:
    await _with_store(settings)
    print("migrations applied")
    return 0


async def directory_import(settings: Settings, path: Path) -> int:
    # Validate before touching the database: a bad file must not need a server to report.
    try:
        directory = load_directory_file(path)
    except DirectoryFileError as error:
        print(error, file=sys.stderr)
        return 1
    store, _server = await _with_store(settings)
    async with store.pool.acquire() as conn:
        report = await import_directory(conn, directory, source=str(path))
    for line in report.summary():
        print(line)
    sign = {"added": "+", "changed": "~", "removed": "-"}
    for change in report.changes:
        print(f"  {sign[change.change]} {change.entity} {change.entity_id} ({change.change})")
    if not report.changes:
        print(f"the directory already matches {path}; nothing changed")
    return 0


async def directory_show(settings: Settings, limit: int) -> int:
    store, _server = await _with_store(settings)
    async with store.pool.acquire() as conn:
        directory = await read_directory(conn)
        changes = await directory_changes(conn, limit=limit)
    if not directory.professionals:
        print("the directory is empty; import one with `regie directory import FILE`")
        return 0

    def gone(active: bool) -> str:
        return "" if active else "  [inactive]"

    print("organisations:")
    for o in directory.organisations:
        print(f"  {o.id}  {o.name}  webhook {o.webhook_url or '-'}{gone(o.active)}")
    print("professionals:")
    for p in directory.professionals:
        print(f"  {p.id}  {p.name}  at {p.organisation_id}  manager {p.manager_id or '-'}"
              f"{gone(p.active)}")
    print("regions:")
    for r in directory.regions:
        print(f"  {r.id}  {r.name}  process director {r.process_director_id}{gone(r.active)}")
    print(f"latest changes ({len(changes)}):")
    for c in changes:
        print(f"  {c.seq:>5}  {c.imported_at:%Y-%m-%d %H:%M}  {c.change:<7}  {c.entity} "
              f"{c.entity_id}  from {c.source}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="regie", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("timeline", help="every event of one case")
    p.add_argument("case_id")
    p.add_argument("--json", action="store_true", help="one JSON object per event")
    sub.add_parser("overview", help="one line per trajectory")
    p = sub.add_parser("erase-subject", help="crypto-shred one person's data")
    p.add_argument("person_id")
    sub.add_parser("migrate", help="apply pending migrations")
    p = sub.add_parser("directory", help="the organisation directory (escalation ladder)")
    directory = p.add_subparsers(dest="directory_command", required=True)
    d = directory.add_parser("import", help="replace the directory with a YAML file; "
                             "whoever is missing from it becomes inactive")
    d.add_argument("file", type=Path)
    d = directory.add_parser("show", help="the directory and its latest changes")
    d.add_argument("--changes", type=int, default=20, help="how many changes to list")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "timeline":
        return asyncio.run(timeline(settings, args.case_id, args.json))
    if args.command == "overview":
        return asyncio.run(overview(settings))
    if args.command == "erase-subject":
        return asyncio.run(erase_subject(settings, args.person_id))
    if args.command == "directory":
        if args.directory_command == "import":
            return asyncio.run(directory_import(settings, args.file))
        return asyncio.run(directory_show(settings, args.changes))
    return asyncio.run(migrate(settings))


if __name__ == "__main__":
    sys.exit(main())
