"""`regie`: the operator's command line.

    regie timeline CASE_ID        every event of a case, in order, with who and why
    regie overview                one line per trajectory (from the read model)
    regie erase-subject PERSON_ID destroy a person's key (crypto-shredding)
    regie migrate                 apply pending database migrations

Without REGIE_DATABASE_URL it uses the embedded PostgreSQL under the data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from domain.trajectory import stream_id_for
from infra.database import create_pool, prepare_database
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
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "timeline":
        return asyncio.run(timeline(settings, args.case_id, args.json))
    if args.command == "overview":
        return asyncio.run(overview(settings))
    if args.command == "erase-subject":
        return asyncio.run(erase_subject(settings, args.person_id))
    return asyncio.run(migrate(settings))


if __name__ == "__main__":
    sys.exit(main())
