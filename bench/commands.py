"""A caseworker's command: its latency through the gateway, next to raw Temporal baselines.

Run: `python -m bench.commands [--commands 200] [--cases 8] [--concurrency 8]`.

It prints figures and ratios; it asserts nothing about time (a shared 2-core machine is
far too noisy for that). It raises only when a command is not answered as expected
(then the figures would be meaningless).

What is measured, on the local Temporal dev server and an embedded PostgreSQL, both
started here and stopped at the end, all with the production payload codec (a key of
this run's own):

- gateway: `POST /v1/trajectories/<case>/record_contact_attempt` as a team member (a
  dev-issuer bearer token), through the whole gateway (in-process over ASGI, so without a
  TCP hop): the door (token, rate limit, access log), the case's state for the rights
  (its events after the version the gateway kept, read with personal data withheld and
  folded on; workers/rights_states.py) with the directory facts asked at the same time,
  the rights check, the `Idempotency-Key` claim, then the Temporal Update; in the
  workflow the validator, the decision under the lock, the append (events and outbox in
  one transaction, a local activity), apply, answer.
- update: the same command as a Temporal Update straight to the trajectory (no
  gateway): the workflow's share of the above.
- raw regular: a tiny workflow's Update that runs one regular activity doing one INSERT
  (asyncpg, its own table) and returns: the cost of "an update that writes a row" when
  the write goes through Temporal's activity task queue. The baseline of the targets.
- raw local: the same Update with the activity run as a local activity.

Two phases:

- one at a time: `--commands` of each kind, interleaved (gateway, update, raw regular,
  raw local, rotating the order each round), so that the machine's noise falls on all
  kinds alike; p50 / p99 / max of each, and the ratios to the raw ones.
- concurrent: `--concurrency` clients at once, each on its own case (or raw workflow),
  in alternating blocks of each kind; commands/s and p50 / p99 per kind.

The targets set for the append as a local activity (issue 14, item 3), in this run's
terms: a command's p50 through the gateway at most half of what it was with the append
as a regular activity, measured then at 1.10 x a raw regular update's p50, so at most
0.55 x raw regular p50; and its p99 at most 1.0 x raw regular p99.

The worker, the gateway and the raw worker all run in this process (one event loop), as
in the other benchmarks; the last columns show the cores this process used and how busy
the whole machine was (the dev server and PostgreSQL are other processes).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from bench.escalation import (
    RAISED_LIMITS,
    CpuSample,
    CpuUse,
    percentile,
    temporal_binary,
)
from domain.commands import RecordContactAttempt
from domain.family import LifeDomain, MemberRole
from domain.persons import PartnerReferral, ReferredMember, ReferredReason
from domain.policy import RegionPolicy
from infra.database import create_pool, ensure_database, migrate_database, start_embedded_postgres
from infra.directory import import_directory, load_directory_file
from infra.event_store import PostgresEventStore
from infra.garbage_collection import tune_for_throughput
from infra.local_kek import EnvKeyring, Kek
from infra.partner_keys import create_key
from infra.payload_codec import data_converter
from infra.payload_keys import Keyring
from infra.settings import Settings
from infra.structured_logging import configure_logging
from infra.temporal import PASSTHROUGH_MODULES
from infra.tokens import DevIssuer
from workers.gateway import create_app
from workers.worker import build_worker
from workflows.client import send_command
from workflows.search_attributes import SEARCH_ATTRIBUTES
from workflows.trajectory import workflow_id_for

BENCH_DATABASE = "regie_bench_commands"
DIRECTORY = Path(__file__).parents[1] / "infra" / "directory.example.yaml"
POLICY = RegionPolicy(region="holland-noord")
PARTNER = "basisschool-de-linde"
CASEWORKER = "pro-1"  # of the region's intake organisation: takes the case up
TASK_QUEUE = "bench-commands"
RAW_TASK_QUEUE = "bench-commands-raw"
RAW_WORKFLOW = "BenchUpdateThenInsert"
ACTIVITY_TIMEOUT = timedelta(seconds=30)
KINDS = ("gateway", "update", "raw regular", "raw local")


# -- the raw baselines: an Update that writes one row ------------------------------------


class RawInsert:
    """One INSERT in its own table, as the smallest write an activity can do."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="bench_insert")
    async def insert(self, n: int) -> int:
        row_id: int = await self._pool.fetchval(
            "INSERT INTO bench_raw (n) VALUES ($1) RETURNING id", n)
        return row_id


@workflow.defn(name=RAW_WORKFLOW)
class UpdateThenInsertWorkflow:
    def __init__(self) -> None:
        self._finished = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._finished)

    @workflow.update
    async def regular(self, n: int) -> int:
        row_id: int = await workflow.execute_activity(
            "bench_insert", n, result_type=int, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return row_id

    @workflow.update
    async def local(self, n: int) -> int:
        row_id: int = await workflow.execute_local_activity(
            "bench_insert", n, result_type=int, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return row_id

    @workflow.signal
    def finish(self) -> None:
        self._finished = True


def raw_worker(client: Client, pool: asyncpg.Pool) -> Worker:
    # The same sandbox as Regie's worker (this package passed through, as in
    # bench.escalation, so the sandbox does not re-import the benchmark).
    runner = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default
                                     .with_passthrough_modules(*PASSTHROUGH_MODULES, "bench"))
    return Worker(client, task_queue=RAW_TASK_QUEUE, workflows=[UpdateThenInsertWorkflow],
                  activities=[RawInsert(pool).insert], workflow_runner=runner)


# -- Regie's side --------------------------------------------------------------------------


def referral(n: int) -> dict[str, Any]:
    body = PartnerReferral(
        reference=f"bench-{n}-{uuid.uuid4().hex[:6]}", referrer="intern begeleider",
        members=(
            ReferredMember(ref="m1", role=MemberRole.PARENT, name=f"Ouder {n}",
                           birth_date=date(1985, 3, 14), has_parental_authority=True),
            ReferredMember(ref="m2", role=MemberRole.CHILD, name=f"Kind {n}",
                           birth_date=date(2014, 9, 2)),
        ),
        reasons=(ReferredReason(about="m2", life_domain=LifeDomain.EDUCATION_WORK,
                                description="verzuimt veel"),),
    )
    return body.model_dump(mode="json")


@dataclass
class Caller:
    http: httpx.AsyncClient
    partner_key: str
    token: str

    async def post(self, path: str, body: dict[str, Any], *, partner: bool = False
                   ) -> httpx.Response:
        auth = ({"X-API-Key": self.partner_key} if partner
                else {"Authorization": f"Bearer {self.token}"})
        return await self.http.post(path, json=body, headers={
            **auth, "Idempotency-Key": uuid.uuid4().hex})

    async def expect(self, path: str, body: dict[str, Any], *, partner: bool = False
                     ) -> dict[str, Any]:
        answer = await self.post(path, body, partner=partner)
        if answer.status_code not in (200, 202):
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text}")
        result: dict[str, Any] = answer.json()
        return result


async def open_case(caller: Caller, n: int) -> str:
    """Referred by the school, taken up by the intake worker, who joins the team."""
    case_id = str((await caller.expect("/v1/referrals", referral(n), partner=True))["case_id"])
    base = f"/v1/trajectories/{case_id}"
    await caller.expect(f"{base}/record_intake", {"outcome": "accepted", "assessments": [
        {"life_domain": "education_work", "strengths": "betrokken", "problems": "verzuim"}]})
    await caller.expect(f"{base}/add_team_member", {"member": {
        "member_id": CASEWORKER, "kind": "professional", "name": "Coordinator Een",
        "organisation": "wijkteam-alkmaar"}})
    return case_id


CONTACT = {"by": CASEWORKER, "channel": "phone", "reached": True}


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Kind:
    """One way of doing a command: `call(slot, n)` does the n-th, on slot `slot`."""

    name: str
    call: Callable[[int, int], Awaitable[None]]
    latencies: list[float] = field(default_factory=list)
    busy_seconds: float = 0.0  # wall time of its concurrent blocks
    concurrent: list[float] = field(default_factory=list)
    cpu: list[CpuUse] = field(default_factory=list)

    async def timed(self, slot: int, n: int, into: list[float]) -> None:
        start = time.perf_counter()
        await self.call(slot, n)
        into.append(time.perf_counter() - start)


async def one_at_a_time(kinds: list[Kind], commands: int, slots: int) -> None:
    for n in range(commands):
        shift = n % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            await kind.timed(n % slots, n, kind.latencies)


async def concurrently(kinds: list[Kind], rounds: int, per_client: int, clients: int) -> None:
    for r in range(rounds):
        shift = r % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            async def client(slot: int, kind: Kind = kind, first: int = r * per_client
                             ) -> None:
                for i in range(per_client):
                    await kind.timed(slot, first + i, kind.concurrent)
            cpu = CpuSample.now()
            start = time.perf_counter()
            await asyncio.gather(*(client(slot) for slot in range(clients)))
            kind.busy_seconds += time.perf_counter() - start
            kind.cpu.append(cpu.until(CpuSample.now()))


def ms(seconds: float) -> str:
    return f"{1000 * seconds:8.1f}"


def report(kinds: dict[str, Kind], clients: int) -> None:
    print(f"\none at a time ({len(kinds['gateway'].latencies)} of each, interleaved)")
    print(f"{'':14} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind in kinds.values():
        values = sorted(kind.latencies)
        print(f"{kind.name:14} {ms(percentile(values, 50))} {ms(percentile(values, 99))} "
              f"{ms(values[-1])}")
    p = {name: (percentile(sorted(k.latencies), 50), percentile(sorted(k.latencies), 99))
         for name, k in kinds.items()}
    regular, local = p["raw regular"], p["raw local"]
    print("\nratios (one at a time)          p50     p99")
    for name in ("gateway", "update"):
        print(f"{name + ' / raw regular':30} {p[name][0] / regular[0]:6.2f}  "
              f"{p[name][1] / regular[1]:6.2f}")
        print(f"{name + ' / raw local':30} {p[name][0] / local[0]:6.2f}  "
              f"{p[name][1] / local[1]:6.2f}")
    gateway_p50, gateway_p99 = p["gateway"]
    print(f"\ntarget p50: gateway <= 0.55 x raw regular p50 ({ms(0.55 * regular[0]).strip()} "
          f"ms): {ms(gateway_p50).strip()} ms, "
          f"{'met' if gateway_p50 <= 0.55 * regular[0] else 'NOT met'} "
          f"({gateway_p50 / regular[0] / 1.10:.2f} x the p50 before, 1.10 x raw regular)")
    print(f"target p99: gateway <= 1.0 x raw regular p99 ({ms(regular[1]).strip()} ms): "
          f"{ms(gateway_p99).strip()} ms, {'met' if gateway_p99 <= regular[1] else 'NOT met'}")

    print(f"\n{clients} concurrent clients, each on its own case or raw workflow")
    print(f"{'':14} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'proc CPU':>9} {'machine':>8}")
    rates: dict[str, float] = {}
    for kind in kinds.values():
        values = sorted(kind.concurrent)
        rates[kind.name] = len(values) / kind.busy_seconds
        cores = sum(c.process_cores for c in kind.cpu) / len(kind.cpu)
        machine = [c.machine_busy for c in kind.cpu if c.machine_busy is not None]
        busy = f"{100 * sum(machine) / len(machine):.0f}%" if machine else "-"
        print(f"{kind.name:14} {rates[kind.name]:8.1f} {ms(percentile(values, 50))} "
              f"{ms(percentile(values, 99))} {cores:9.2f} {busy:>8}")
    print(f"\nratio gateway/s / raw regular/s: {rates['gateway'] / rates['raw regular']:.2f}; "
          f"gateway/s / raw local/s: {rates['gateway'] / rates['raw local']:.2f}")
    print("\ngateway: the whole HTTP command (door, the case's new events read and folded "
          "onto the state kept, rights, idempotency, update, append as a local activity); "
          "update: the same command as a Temporal "
          "Update without the gateway; raw: an Update running one INSERT as a regular or "
          "a local activity. proc CPU: cores this process used (worker, gateway, raw "
          "worker, client); machine: busy share of all cores.")


# -- main ---------------------------------------------------------------------------------------


async def start_dev_server() -> WorkflowEnvironment:
    extra: list[str] = []
    for key, value in RAISED_LIMITS.items():
        extra += ["--dynamic-config-value", f"{key}={value}"]
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=data_converter(Keyring.generate()), ui=False,
        dev_server_extra_args=extra, search_attributes=SEARCH_ATTRIBUTES)


async def run(dsn: str, data_dir: Path, args: argparse.Namespace,
              client: Client) -> None:
    """The benchmark on a migrated database and a Temporal server that knows the
    trajectory's search attributes (tests/test_benchmarks.py runs it tiny on the suite's)."""
    pool = await create_pool(dsn)
    try:
        async with pool.acquire() as conn:
            await import_directory(conn, load_directory_file(DIRECTORY), source="bench")
            partner_key = (await create_key(conn, PARTNER)).key
            await conn.execute("CREATE TABLE IF NOT EXISTS bench_raw "
                               "(id bigserial PRIMARY KEY, n int NOT NULL)")
        store = PostgresEventStore(pool, key_wrapper=EnvKeyring(Kek.generate()))
        # The edge's rate limit is per caller; one caseworker gives every command here.
        settings = Settings(task_queue=TASK_QUEUE, data_dir=data_dir,
                            rate_limit_per_minute=10_000_000, rate_limit_burst=100_000)
        app = create_app(settings, client=client, store=store, policy=POLICY)
        slots = max(args.cases, args.concurrency)
        async with build_worker(client, store, TASK_QUEUE, POLICY), \
                raw_worker(client, pool), \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                  base_url="http://gateway") as http, \
                app.router.lifespan_context(app):
            caller = Caller(http, partner_key, DevIssuer(data_dir).issue(CASEWORKER, 120))
            case_ids = [await open_case(caller, n) for n in range(slots)]
            handles: list[WorkflowHandle[Any, Any]] = [
                client.get_workflow_handle(workflow_id_for(c)) for c in case_ids]
            raws: list[WorkflowHandle[Any, Any]] = [
                await client.start_workflow(RAW_WORKFLOW, id=f"bench-raw-{uuid.uuid4().hex}",
                                            task_queue=RAW_TASK_QUEUE)
                for _ in range(slots)]
            print(f"{slots} cases in progress and {slots} raw workflows", flush=True)

            async def gateway(slot: int, n: int) -> None:
                answer = await caller.post(
                    f"/v1/trajectories/{case_ids[slot]}/record_contact_attempt", CONTACT)
                if answer.status_code != 200 or not answer.json()["recorded"]:
                    raise RuntimeError(f"command {n}: {answer.status_code} {answer.text}")

            async def update(slot: int, n: int) -> None:
                result = await send_command(handles[slot], RecordContactAttempt(
                    actor=f"professional:{CASEWORKER}", **CONTACT))
                if not result.recorded:
                    raise RuntimeError(f"update {n} recorded nothing")

            async def raw_regular(slot: int, n: int) -> None:
                await raws[slot].execute_update(UpdateThenInsertWorkflow.regular, n)

            async def raw_local(slot: int, n: int) -> None:
                await raws[slot].execute_update(UpdateThenInsertWorkflow.local, n)

            kinds = [Kind("gateway", gateway), Kind("update", update),
                     Kind("raw regular", raw_regular), Kind("raw local", raw_local)]
            # A few of each first: imports, sandbox, connection pools, caches.
            for kind in kinds:
                for slot in range(slots):
                    await kind.call(slot, -1)
            await one_at_a_time(kinds, args.commands, args.cases)
            print("  one at a time: done", flush=True)
            per_client = max(1, args.commands // (args.concurrency * args.rounds))
            await concurrently(kinds, args.rounds, per_client, args.concurrency)
            print("  concurrent: done", flush=True)
            for raw in raws:
                await raw.signal(UpdateThenInsertWorkflow.finish)
        report({k.name: k for k in kinds}, args.concurrency)
    finally:
        await pool.close()


async def run_on_dev_server(dsn: str, data_dir: Path, args: argparse.Namespace) -> None:
    env = await start_dev_server()
    try:
        await run(dsn, data_dir, args, env.client)
    finally:
        await env.shutdown()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.commands",
        description="A caseworker's command through the gateway: latency p50/p99 and "
                    "commands/s next to raw Temporal Update + activity + INSERT baselines.")
    parser.add_argument("--commands", type=int, default=200,
                        help="commands of each kind one at a time, and about as many in "
                             "the concurrent phase (default 200)")
    parser.add_argument("--cases", type=int, default=8,
                        help="cases the one-at-a-time commands rotate over (default 8)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="clients at once in the concurrent phase (default 8)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating blocks of each kind in the concurrent phase "
                             "(default 3)")
    args = parser.parse_args(argv)
    for name in ("commands", "cases", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    # Warnings and up only: the append and the gateway log every command at INFO.
    configure_logging("WARNING")
    # As the worker and the gateway run (infra/garbage_collection.py); raw sides alike.
    tune_for_throughput()
    with tempfile.TemporaryDirectory(prefix="regie-bench-commands-",
                                     ignore_cleanup_errors=True) as data:
        server = start_embedded_postgres(Path(data) / "pg", delete_on_exit=True)
        try:
            asyncio.run(ensure_database(server.get_uri(), BENCH_DATABASE))
            dsn = server.get_uri(BENCH_DATABASE)
            asyncio.run(migrate_database(dsn))
            asyncio.run(run_on_dev_server(dsn, Path(data), args))
        finally:
            server.cleanup()


if __name__ == "__main__":
    # As the importable module, so the raw workflow's class is
    # `bench.commands.UpdateThenInsertWorkflow` (the sandbox loads it by module name).
    from bench.commands import main as module_main

    module_main()
