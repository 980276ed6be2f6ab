"""`regie`: the operator's command line.

    regie timeline CASE_ID        every event of a case, in order, with who and why
    regie overview                one line per trajectory (from the read model)
    regie erase-subject PERSON_ID destroy a person's key (crypto-shredding); asks first
    regie migrate                 apply pending database migrations
    regie directory import FILE   replace the organisation directory with a YAML file
    regie directory show          the directory and its latest changes
    regie partner key create ORG  a new API key for a partner organisation (shown once)
    regie partner key revoke ID   the key stops working at once
    regie partner key list [ORG]  keys, with when they were created and last used
    regie token issue --as ID     a short-lived token for a professional (local stack only)
    regie audit --case ID | --principal ID | --since DATE   the access log (NEN 7513)
    regie keys status             the KEKs the person keys are wrapped under, with counts
    regie keys rotate-kek [--destroy-old]   a new KEK; every person key re-wrapped under it
    regie payload-key new [--id ID]   a new key for REGIE_PAYLOAD_KEYS (key rotation)

Without REGIE_DATABASE_URL it uses the embedded PostgreSQL under the data dir. Reading
case data here is recorded in the access log too, under the operating system user.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import uuid
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.family import family_subject
from domain.local_time import DEFAULT_TIME_ZONE, zone
from domain.trajectory import stream_id_for
from infra.access_log import Access, Accessor, Outcome, read_access_log, record_access
from infra.database import create_pool, prepare_database
from infra.directory import (
    DirectoryFileError,
    directory_changes,
    import_directory,
    load_directory_file,
    read_directory,
)
from infra.directory import professional as directory_professional
from infra.event_store import PostgresEventStore, open_event_store
from infra.key_wrapping import KeyWrappingError, key_wrapper_for
from infra.local_kek import EnvKeyring
from infra.partner_keys import UnknownOrganisationError, create_key, list_keys, revoke_key
from infra.payload_keys import Keyring, encode_key
from infra.persons import cases_of, cases_without_members, forget_person
from infra.settings import Settings
from infra.subject_keys import destroy_other_keks, kek_usage, rewrap_all
from infra.temporal import connect
from infra.tokens import DevIssuer
from workflows.trajectory import FamilyTrajectoryWorkflow, PersonalDataErased, workflow_id_for


async def _with_store(settings: Settings) -> tuple[PostgresEventStore, Any]:
    dsn, server = await prepare_database(settings.database_url, settings.data_dir,
                                         settings.database_name)
    # Like every process at start-up: keys stored raw before key wrapping get wrapped.
    return await open_event_store(await create_pool(dsn, max_size=2),
                                  key_wrapper_for(settings)), server


async def _log_access(store: PostgresEventStore, action: str, *, case_id: str | None = None,
                      person_id: str | None = None, outcome: Outcome = Outcome.ALLOWED
                      ) -> None:
    """The operator's reads and erasures are accesses too (NEN 7513)."""
    async with store.pool.acquire() as conn:
        await record_access(conn, Access(
            accessor=Accessor(kind="cli", id=getpass.getuser()), action=f"cli:{action}",
            outcome=outcome, request_id=uuid.uuid4().hex, case_id=case_id,
            person_id=person_id))


async def timeline(settings: Settings, case_id: str, as_json: bool) -> int:
    store, _server = await _with_store(settings)
    await _log_access(store, "timeline", case_id=case_id)
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
    await _log_access(store, "overview")
    async with store.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM trajectory_overview ORDER BY referred_at")
    if not rows:
        print("no trajectories yet (the projector fills this view)")
    for r in rows:
        print(json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v)
                          for k, v in dict(r).items()}))
    return 0


def confirmed(person_id: str, yes: bool) -> bool:
    """Erasure cannot be undone: a person types the id again; a script says --yes."""
    if yes:
        return True
    if not sys.stdin.isatty():
        print("erasure cannot be undone: confirm with --yes when not at a terminal",
              file=sys.stderr)
        return False
    answer = input(f"Erase the personal data of {person_id}? This cannot be undone. "
                   "Type the person id to confirm: ")
    return answer.strip() == person_id


async def erase_subject(settings: Settings, person_id: str, *, yes: bool = False,
                        client: Client | None = None) -> int:
    """Destroy the person's key, forget their pseudonyms, and make every running
    trajectory that holds them start afresh from the store (`client`: for tests)."""
    if not confirmed(person_id, yes):
        print("nothing erased", file=sys.stderr)
        return 1
    store, _server = await _with_store(settings)
    await _log_access(store, "erase_subject", person_id=person_id)
    erased = await store.erase_subject(person_id)
    async with store.pool.acquire() as conn:
        cases = await cases_of(conn, person_id)
        # Nor can the person be recognised any more: a later referral is a new person.
        await forget_person(conn, person_id)
        emptied = await cases_without_members(conn, cases)
    if erased:
        print(f"personal data of {person_id} erased: its key is destroyed and its "
              "pseudonyms deleted; events remain")
    else:
        print(f"personal data of {person_id} was already erased")
    for case_id in emptied:
        # The last member of the family: what was written about the family as a whole
        # (assessments, signals, stagnation details) is about them too.
        if await store.erase_subject(family_subject(case_id)):
            print(f"the family of case {case_id} has no member left: its family key is "
                  "destroyed too")
    return await _restart_trajectories(settings, cases, person_id, client)


async def _restart_trajectories(settings: Settings, cases: list[str], person_id: str,
                                client: Client | None) -> int:
    if not cases:
        return 0
    try:
        temporal = client or await connect(settings)
    except (RuntimeError, RPCError) as error:
        print(f"Temporal cannot be reached ({error}): the running trajectories of "
              f"{', '.join(cases)} still hold the data in memory until they next continue "
              "as new; run this command again when Temporal is back", file=sys.stderr)
        return 1
    for case_id in cases:
        handle = temporal.get_workflow_handle(workflow_id_for(case_id))
        try:
            await handle.signal(FamilyTrajectoryWorkflow.personal_data_erased,
                                PersonalDataErased(person_id=person_id))
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            continue  # ended: its closed runs go with the namespace's retention
        print(f"trajectory of case {case_id} starts afresh from the store")
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


async def partner_key_create(settings: Settings, organisation_id: str) -> int:
    store, _server = await _with_store(settings)
    try:
        async with store.pool.acquire() as conn:
            issued = await create_key(conn, organisation_id)
    except UnknownOrganisationError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"key {issued.key_id} for {issued.organisation_id} (shown once; only a digest is "
          "kept):", file=sys.stderr)
    print(issued.key)
    return 0


async def partner_key_revoke(settings: Settings, key_id: str) -> int:
    store, _server = await _with_store(settings)
    async with store.pool.acquire() as conn:
        key = await revoke_key(conn, key_id)
    if key is None:
        print(f"there is no key {key_id!r}; see `regie partner key list`", file=sys.stderr)
        return 1
    print(f"key {key.key_id} of {key.organisation_id} is revoked "
          f"(since {key.revoked_at:%Y-%m-%d %H:%M} UTC)")
    return 0


async def partner_key_list(settings: Settings, organisation_id: str | None) -> int:
    store, _server = await _with_store(settings)
    async with store.pool.acquire() as conn:
        keys = await list_keys(conn, organisation_id)
    if not keys:
        print("no partner keys yet; create one with `regie partner key create ORG`")
    for k in keys:
        used = f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never"
        revoked = f"  revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
        print(f"{k.key_id}  {k.organisation_id}  created {k.created_at:%Y-%m-%d %H:%M}  "
              f"last used {used}{revoked}")
    return 0


async def token_issue(settings: Settings, professional_id: str, minutes: int | None) -> int:
    if not settings.dev_issuer_enabled:
        print("the dev issuer is off here (an OIDC issuer is set, or REGIE_DEV_ISSUER="
              "false): get a token from the region's identity provider", file=sys.stderr)
        return 1
    lifetime = minutes or settings.dev_token_minutes
    if not 1 <= lifetime <= settings.dev_token_minutes:
        print(f"--minutes must be between 1 and {settings.dev_token_minutes}",
              file=sys.stderr)
        return 2
    store, _server = await _with_store(settings)
    async with store.pool.acquire() as conn:
        person = await directory_professional(conn, professional_id)
    if person is None or not person.active:
        print(f"{professional_id!r} is not an active professional in the directory; see "
              "`regie directory show`", file=sys.stderr)
        return 1
    print(f"token for {person.id} ({person.name}), valid {lifetime} minutes:",
          file=sys.stderr)
    print(DevIssuer(settings.data_dir).issue(person.id, lifetime,
                                             claim=settings.oidc_professional_claim))
    return 0


async def audit(settings: Settings, case_id: str | None, principal_id: str | None,
                since: date | None, as_json: bool, limit: int) -> int:
    store, _server = await _with_store(settings)
    await _log_access(store, "audit", case_id=case_id)
    start = None if since is None else datetime.combine(since, time(),
                                                        tzinfo=zone(DEFAULT_TIME_ZONE))
    async with store.pool.acquire() as conn:
        rows = await read_access_log(conn, case_id=case_id, principal_id=principal_id,
                                     since=start, limit=limit)
    for r in rows:
        if as_json:
            print(r.model_dump_json())
            continue
        who = f"{r.principal_kind}:{r.principal_id or '-'}"
        about = r.case_id or (f"person {r.person_id}" if r.person_id else "-")
        reason = f"  ({r.reason})" if r.reason and r.outcome is not Outcome.ALLOWED else ""
        at = r.at.astimezone(zone(DEFAULT_TIME_ZONE))  # the region's clock, not UTC
        print(f"{at:%Y-%m-%d %H:%M:%S}  {who:<28} {r.action:<26} {about:<20} "
              f"{r.outcome.value}{f' {r.status}' if r.status else ''}  "
              f"request {r.request_id}{reason}")
    if not rows and not as_json:
        print("no matching accesses", file=sys.stderr)
    return 0


async def keys_status(settings: Settings) -> int:
    # Reports without changing anything: raw keys stay visible here until a process
    # starts and wraps them.
    dsn, _server = await prepare_database(settings.database_url, settings.data_dir,
                                          settings.database_name)
    pool = await create_pool(dsn, max_size=1)
    try:
        async with pool.acquire() as conn:
            usage = await kek_usage(conn)
    finally:
        await pool.close()
    print(f"KEK kept in: {key_wrapper_for(settings).describe()}")
    if not usage:
        print("no person keys yet")
    for u in usage:
        what = {"wrapped": f"wrapped under {u.kek_id}",
                "raw": "raw, not yet wrapped (wrapped when a Regie process starts)",
                "erased": "erased"}[u.state]
        print(f"{u.subjects:>8}  {what}")
    return 0


async def keys_rotate_kek(settings: Settings, destroy_old: bool, batch_size: int) -> int:
    store, _server = await _with_store(settings)
    wrapper = key_wrapper_for(settings)
    try:
        kek_id = await wrapper.rotate()
        print(f"current KEK: {kek_id} ({wrapper.describe()})")
        count = await rewrap_all(store.pool, wrapper, kek_id, batch_size)
        print(f"{count} person keys re-wrapped under {kek_id}")
        if isinstance(wrapper, EnvKeyring):
            if count == 0:
                print("(with REGIE_KEK a rotation starts by giving every process a new "
                      "secret in REGIE_KEK and the old one in REGIE_KEK_PREVIOUS)")
            if destroy_old:
                print("--destroy-old: Regie cannot destroy an environment secret. Remove "
                      "REGIE_KEK_PREVIOUS from every process's environment and from the "
                      "secret store, then restart them.", file=sys.stderr)
                return 1
            return 0
        if destroy_old:
            destroyed, late = await destroy_other_keks(store.pool, wrapper, kek_id,
                                                       batch_size)
            if late:
                print(f"{late} more person keys re-wrapped (made under the old KEK while "
                      "this ran)")
            print(f"destroyed KEKs: {', '.join(destroyed) or 'none left'}; copies of keys "
                  "wrapped under them (WAL archives, backups, dumps) can no longer be "
                  "unwrapped")
        else:
            print("the old KEKs still unwrap; run again with --destroy-old to end every "
                  "old copy of a wrapped key (WAL archives, backups)")
    except KeyWrappingError as error:
        print(f"rotation stopped: {error}", file=sys.stderr)
        return 1
    finally:
        await wrapper.aclose()
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def payload_key_new(key_id: str | None) -> int:
    """A fresh key as a JSON entry: add it to REGIE_PAYLOAD_KEYS, then make it active with
    REGIE_PAYLOAD_ACTIVE_KEY (README, "Encrypted payloads and the codec server")."""
    try:
        keyring = Keyring.generate(key_id or f"key-{date.today():%Y-%m-%d}")
    except ValueError:
        print("--id: 1 to 64 letters, digits, '.', '_' or '-'", file=sys.stderr)
        return 2
    print(json.dumps({k: encode_key(v) for k, v in keyring.keys.items()}))
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
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("migrate", help="apply pending migrations")
    p = sub.add_parser("directory", help="the organisation directory (escalation ladder)")
    directory = p.add_subparsers(dest="directory_command", required=True)
    d = directory.add_parser("import", help="replace the directory with a YAML file; "
                             "whoever is missing from it becomes inactive")
    d.add_argument("file", type=Path)
    d = directory.add_parser("show", help="the directory and its latest changes")
    d.add_argument("--changes", type=int, default=20, help="how many changes to list")
    p = sub.add_parser("partner", help="partner organisations' API keys")
    partner = p.add_subparsers(dest="partner_command", required=True)
    keys = partner.add_parser("key", help="create, revoke or list API keys").add_subparsers(
        dest="key_command", required=True)
    k = keys.add_parser("create", help="a new key for a directory organisation")
    k.add_argument("organisation_id")
    k = keys.add_parser("revoke", help="revoke a key; it stops working at once")
    k.add_argument("key_id")
    k = keys.add_parser("list", help="keys, optionally of one organisation")
    k.add_argument("organisation_id", nargs="?")
    p = sub.add_parser("token", help="professionals' tokens on the local stack")
    tokens = p.add_subparsers(dest="token_command", required=True)
    t = tokens.add_parser("issue", help="sign a short-lived token (dev issuer only)")
    t.add_argument("--as", dest="professional_id", required=True,
                   help="the professional's directory id")
    t.add_argument("--minutes", type=int, help="lifetime (default REGIE_DEV_TOKEN_MINUTES)")
    p = sub.add_parser("audit", help="the access log: who read or changed what, and when")
    p.add_argument("--case", dest="case_id")
    p.add_argument("--principal", dest="principal_id", help="a partner organisation or "
                   "professional id, or an operating system user for CLI reads")
    p.add_argument("--since", type=date.fromisoformat,
                   help=f"YYYY-MM-DD, from midnight {DEFAULT_TIME_ZONE}")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (latest)")
    p.add_argument("--json", action="store_true", help="one JSON object per access")
    p = sub.add_parser("keys", help="the KEK that wraps the person keys")
    key_commands = p.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser("status", help="KEK ids in use, with how many keys each")
    r = key_commands.add_parser("rotate-kek", help="make a new KEK and re-wrap every person "
                                "key under it")
    r.add_argument("--destroy-old", action="store_true",
                   help="then destroy the older KEKs (keyring file, Vault), so every old "
                   "copy of a wrapped key in WAL archives and backups becomes unreadable")
    r.add_argument("--batch-size", type=_positive, default=500,
                   help="keys re-wrapped per transaction")
    p = sub.add_parser("payload-key", help="keys of the encrypted Temporal payloads")
    payload_keys = p.add_subparsers(dest="payload_key_command", required=True)
    k = payload_keys.add_parser("new", help="print a new key as JSON, for REGIE_PAYLOAD_KEYS")
    k.add_argument("--id", dest="key_id", help="its key id (default key-<today>)")
    args = parser.parse_args(argv)
    if args.command == "payload-key":
        return payload_key_new(args.key_id)  # needs no settings: it only makes a key
    settings = Settings()
    if args.command == "timeline":
        return asyncio.run(timeline(settings, args.case_id, args.json))
    if args.command == "overview":
        return asyncio.run(overview(settings))
    if args.command == "erase-subject":
        return asyncio.run(erase_subject(settings, args.person_id, yes=args.yes))
    if args.command == "partner":
        if args.key_command == "create":
            return asyncio.run(partner_key_create(settings, args.organisation_id))
        if args.key_command == "revoke":
            return asyncio.run(partner_key_revoke(settings, args.key_id))
        return asyncio.run(partner_key_list(settings, args.organisation_id))
    if args.command == "token":
        return asyncio.run(token_issue(settings, args.professional_id, args.minutes))
    if args.command == "audit":
        return asyncio.run(audit(settings, args.case_id, args.principal_id, args.since,
                                 args.json, args.limit))
    if args.command == "keys":
        if args.keys_command == "status":
            return asyncio.run(keys_status(settings))
        return asyncio.run(keys_rotate_kek(settings, args.destroy_old, args.batch_size))
    if args.command == "directory":
        if args.directory_command == "import":
            return asyncio.run(directory_import(settings, args.file))
        return asyncio.run(directory_show(settings, args.changes))
    return asyncio.run(migrate(settings))


if __name__ == "__main__":
    sys.exit(main())
