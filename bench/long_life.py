"""A long life at scale: N families through two years each, under time skipping.

Run: `python -m bench.long_life [--families 50,200,1000] [--concurrency 32]`.

It prints figures and ratios; it asserts nothing about time. It raises only when a
family's life did not go as scripted (a refused command, a trajectory not ended), since
the figures would then be meaningless.

What is measured, for each N, on a fresh Temporal time-skipping test server (the one the
suite uses) and one embedded PostgreSQL, with the real worker (`build_worker`) and the
real event store, and the production payload codec:

- regie: N trajectories live in lockstep through two years of simulated time, with one
  global clock (the test server has one): referral, intake, a team, a coordinator, care
  started, the family group plan skipped on a written ground and a professional plan
  adopted; then 13 plan cycles of 6 weeks (at day 28: the agreement completed, a contact
  attempt, a partner's signal; at day 41: an evaluation and an adjusted plan with a new
  agreement); then a final evaluation and closure; then aftercare, four check-ins
  recorded, until the aftercare period runs out and the workflow ends by itself. Every
  command is a Temporal Update (`send_command`), at most `--concurrency` in flight; the
  clock moves on with `env.sleep`, a day at a time, which fires every timer the
  trajectories set (their deadlines, the check-ins, the end of aftercare) in between.
- raw: in the same run, on a fresh test server, N tiny workflows go through the same
  script: the same number of Updates at the same moments (each one runs a local activity
  doing one INSERT) and a timer towards the next moment, like the trajectory's run loop,
  the same clock advances, and the same end. What Temporal and the test server cost for
  that shape of life, without Regie.

Figures per N: wall time per family for each, their ratio, and where the time went:

- wall split: issuing commands (updates in flight) vs. advancing the clock (`env.sleep`:
  the test server firing timers and waiting for the workflows' tasks to finish);
- CPU in cores-seconds per family: this process (the worker, the client and, for regie,
  the store's Python side), the time-skipping server's process, and PostgreSQL's
  processes;
- the store: time inside `append` and `read_stream` (wall, includes waiting for the
  database), and events written per family.

If the test server is what grows, raw's time per family grows with N as regie's does,
and the server's CPU per family with it; if Regie is, regie's ratio to raw grows, and
this process's CPU (or the store) per family.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import psutil
from temporalio import activity, workflow
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from bench.escalation import bounded, referral
from domain.closure import ClosureReason
from domain.commands import (
    AddTeamMember,
    AdjustPlan,
    AdoptPlan,
    AppointCoordinator,
    AssessmentInput,
    CaseworkerCommand,
    CloseTrajectory,
    CompleteAgreement,
    EvaluatePlan,
    GoalResult,
    PartnerSignal,
    RecordCheckIn,
    RecordContactAttempt,
    RecordIntake,
    SignalKind,
    SkipFamilyGroupPlan,
    StartCare,
)
from domain.events import IntakeOutcome, NewEvent, RecordedEvent
from domain.family import LifeDomain
from domain.notifications import Notification
from domain.plan import Agreement, FamilyPlan, Goal, GoalProgress, SkipGround
from domain.policy import RegionPolicy
from domain.team import TeamMember, TeamMemberKind
from infra.database import create_pool, ensure_database, migrate_database, start_embedded_postgres
from infra.directory import import_directory, load_directory_file
from infra.event_store import AppendResult, PostgresEventStore
from infra.garbage_collection import tune_for_throughput
from infra.key_wrapping import KeyWrapper
from infra.local_kek import EnvKeyring, Kek
from infra.payload_codec import data_converter
from infra.payload_keys import Keyring
from infra.search_attributes import add_search_attributes, all_search_attributes
from infra.structured_logging import configure_logging
from infra.temporal import PASSTHROUGH_MODULES
from workers.worker import build_worker
from workflows.client import send_command
from workflows.trajectory import (
    FamilyTrajectoryWorkflow,
    ReferInput,
    StartTrajectoryInput,
    workflow_id_for,
)

BENCH_DATABASE = "regie_bench_long_life"
DIRECTORY = Path(__file__).parents[1] / "infra" / "directory.example.yaml"
# One coordinator for every family keeps the script simple; the cap is raised so that
# the check still runs for each appointment but never refuses one (the lives are about
# time, not about who coordinates).
POLICY = RegionPolicy(region="holland-noord", caseload_cap=1_000_000)
COORDINATOR = "pro-1"
ACTOR = f"coordinator:{COORDINATOR}"
CYCLES = 13  # of 6 weeks: about 18 months of care, then 6 months of aftercare
CHECK_INS = 4  # every 6 weeks within the 6 months of aftercare (the default policy)
RAW_WORKFLOW = "BenchLongLife"
ACTIVITY_TIMEOUT = timedelta(seconds=30)
T = TypeVar("T")
CLOCK_STEP = timedelta(days=1)  # the longest single clock advance (see `advance`)
CLOCK_RETRIES = 5  # failed clock advances tolerated in one `advance`
UPDATE_ATTEMPTS = 5  # sends of one update before a failure ends the run (`resent`)


# -- where the time goes ----------------------------------------------------------------------


class TimedStore(PostgresEventStore):
    """The real store, adding up the wall time of its appends and stream reads."""

    def __init__(self, pool: asyncpg.Pool, key_wrapper: KeyWrapper) -> None:
        super().__init__(pool, key_wrapper=key_wrapper)
        self.append_seconds = 0.0
        self.read_seconds = 0.0
        self.appends = 0
        self.events = 0

    async def append(self, stream_id: str, expected_version: int,
                     events: Sequence[NewEvent],
                     notifications: Sequence[Notification] = ()) -> AppendResult:
        start = time.perf_counter()
        try:
            return await super().append(stream_id, expected_version, events, notifications)
        finally:
            self.append_seconds += time.perf_counter() - start
            self.appends += 1
            self.events += len(events)

    async def read_stream(self, stream_id: str, from_version: int = 0,
                          limit: int | None = None) -> list[RecordedEvent]:
        start = time.perf_counter()
        try:
            return await super().read_stream(stream_id, from_version, limit)
        finally:
            self.read_seconds += time.perf_counter() - start


def _cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue  # ended meanwhile: its time is lost to both samples alike
        total += times.user + times.system
    return total


@dataclass
class CpuClocks:
    """CPU seconds of this process, the time-skipping server and PostgreSQL."""

    postmaster: int

    def processes(self) -> tuple[list[psutil.Process], list[psutil.Process]]:
        me = psutil.Process()
        servers = [p for p in me.children(recursive=True)
                   if "temporal" in p.name().lower()]
        postgres = psutil.Process(self.postmaster)
        return servers, [postgres, *postgres.children(recursive=True)]

    def sample(self) -> tuple[float, float, float]:
        servers, postgres = self.processes()
        return (time.process_time(), _cpu_seconds(servers), _cpu_seconds(postgres))


@dataclass
class Life:
    """What one simulation of N lives took."""

    families: int
    wall: float = 0.0
    commands: float = 0.0  # wall seconds with commands in flight
    clock: float = 0.0  # wall seconds in env.sleep
    updates: int = 0
    cpu: tuple[float, float, float] = (0.0, 0.0, 0.0)  # this process, server, PostgreSQL
    store: tuple[float, float, int] | None = None  # append s, read s, events

    def per_family(self, seconds: float) -> float:
        return seconds / self.families


# -- the script of a life, the same for regie and raw -------------------------------------------


Step = Callable[[str, int, date], Awaitable[int]]  # (family, cycle, today) -> updates sent


@dataclass
class Script:
    """What happens at each moment: setup, cycles, closure, check-ins, the end."""

    setup: Step
    day_28: Step
    day_41: Step
    close: Step
    check_in: Step
    ended: Callable[[str], Awaitable[bool]]


async def advance(env: WorkflowEnvironment, duration: timedelta) -> None:
    """Moves the test server's clock on by `duration`, a day at a time at most.

    One `env.sleep` over weeks holds a single RPC open while the server fires every timer
    of N lives in between; at N = 1,000 such a call died after 46 minutes with an HTTP/2
    protocol error. Short steps keep each call short, and a step whose call fails is
    measured against the server's own clock and taken again for what is left of it, so
    a lost connection costs a retry, not the run."""
    target = await env.get_current_time() + duration
    failures = 0
    while (now := await env.get_current_time()) < target:
        try:
            await env.sleep(min(target - now, CLOCK_STEP))
        except RPCError as error:
            failures += 1
            if failures > CLOCK_RETRIES:
                raise
            print(f"  clock advance failed ({error.status.name}: {error.message}); "
                  f"{target - await env.get_current_time()} still to go, again",
                  file=sys.stderr, flush=True)
            await asyncio.sleep(1.0)


async def resent(send: Callable[..., Awaitable[T]]) -> T:
    """One Update, sent again under the same update id when the call to the test server
    fails (the server keeps one update per id, so it is carried out once).

    At N = 1,000 the test server timed out calls and answered some with an error whose
    headers passed HTTP/2's limit (`h2 protocol error` here; "Header size exceeded max
    allowed size" in its own log): without a resend one such answer ends the run."""
    update_id = str(uuid.uuid4())
    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        try:
            return await send(id=update_id)
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
            if attempt == UPDATE_ATTEMPTS:
                raise
            print(f"  update failed ({type(error).__name__}: {error}); again",
                  file=sys.stderr, flush=True)
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def live(env: WorkflowEnvironment, ids: list[str], script: Script, concurrency: int,
               cpu: CpuClocks, life: Life) -> None:
    async def at_once(step: Step, cycle: int) -> None:
        today = (await env.get_current_time()).date()
        start = time.perf_counter()
        sent = await bounded(ids, concurrency, lambda f: step(f, cycle, today))
        life.commands += time.perf_counter() - start
        life.updates += sum(sent)

    async def sleep(duration: timedelta) -> None:
        start = time.perf_counter()
        await advance(env, duration)
        life.clock += time.perf_counter() - start

    before = cpu.sample()
    start = time.perf_counter()
    await at_once(script.setup, 0)
    for cycle in range(1, CYCLES + 1):
        await sleep(timedelta(days=28))
        await at_once(script.day_28, cycle)
        await sleep(timedelta(days=13))
        await at_once(script.day_41, cycle)
        await sleep(timedelta(days=1))
        # A sign of life on long runs, and of where a slowdown starts.
        print(f"  cycle {cycle}/{CYCLES}: {time.perf_counter() - start:.0f} s", file=sys.stderr,
              flush=True)
    await at_once(script.close, CYCLES + 1)
    for check_in in range(CHECK_INS):
        await sleep(timedelta(weeks=6, days=1))
        await at_once(script.check_in, check_in)
    # The rest of the aftercare period: the trajectories end by themselves.
    await sleep(timedelta(days=30))
    ended = await bounded(ids, concurrency, script.ended)
    life.wall = time.perf_counter() - start
    after = cpu.sample()
    life.cpu = (after[0] - before[0], after[1] - before[1], after[2] - before[2])
    if not all(ended):
        raise RuntimeError(f"{ended.count(False)} of {len(ids)} lives did not end")


# -- regie ----------------------------------------------------------------------------------------


def care_plan(family: str, cycle: int, today: date) -> FamilyPlan:
    return FamilyPlan(
        goals=(Goal(goal_id="g-school", person_id=f"{family}-c",
                    life_domain=LifeDomain.EDUCATION_WORK,
                    description="naar school, elke dag",
                    criterion="minder dan 2 dagen verzuim per maand"),),
        agreements=(Agreement(agreement_id=f"a-{cycle}", action="gesprek met de mentor",
                              owner=COORDINATOR, due=today + timedelta(days=30)),),
        evaluation_date=today + timedelta(days=42),
    )


def regie_script(client: Client, task_queue: str) -> Script:
    def handle(family: str) -> WorkflowHandle[Any, Any]:
        return client.get_workflow_handle(workflow_id_for(family))

    async def do(family: str, commands: Sequence[CaseworkerCommand]) -> int:
        for command in commands:
            result = await resent(partial(send_command, handle(family), command))
            if not result.recorded:
                raise RuntimeError(f"{family}: {type(command).__name__} recorded nothing")
        return len(commands)

    async def setup(family: str, cycle: int, today: date) -> int:
        started = await client.start_workflow(
            FamilyTrajectoryWorkflow.run, StartTrajectoryInput(case_id=family),
            id=workflow_id_for(family), task_queue=task_queue)
        await started.execute_update(FamilyTrajectoryWorkflow.refer, ReferInput(
            command=referral(family), actor="partner:school"))
        return 1 + await do(family, [
            RecordIntake(actor=ACTOR, outcome=IntakeOutcome.ACCEPTED, assessments=(
                AssessmentInput(life_domain=LifeDomain.EDUCATION_WORK,
                                strengths="betrokken moeder", problems="schoolverzuim"),)),
            AddTeamMember(actor=ACTOR, member=TeamMember(
                member_id=COORDINATOR, kind=TeamMemberKind.PROFESSIONAL,
                name="Coordinator Een", organisation="wijkteam-alkmaar")),
            AppointCoordinator(actor="manager:pro-2", member_id=COORDINATOR),
            StartCare(actor=ACTOR),
            SkipFamilyGroupPlan(actor=ACTOR, ground=SkipGround.PARENTS_DECLINE,
                                reason="ouders willen geen familiegroepsplan"),
            AdoptPlan(actor=ACTOR, plan=care_plan(family, 0, today)),
        ])

    async def day_28(family: str, cycle: int, today: date) -> int:
        sent = await do(family, [
            CompleteAgreement(actor=ACTOR, agreement_id=f"a-{cycle - 1}"),
            RecordContactAttempt(actor=ACTOR, by=COORDINATOR, channel="phone", reached=True),
        ])
        await handle(family).signal(FamilyTrajectoryWorkflow.partner_signal, PartnerSignal(
            idempotency_key=f"{family}-s{cycle}", organisation="GGD Hollands Noorden",
            kind=SignalKind.CONCERN, description="zorgen over verzuim"))
        return sent + 1

    async def day_41(family: str, cycle: int, today: date) -> int:
        return await do(family, [
            EvaluatePlan(actor=ACTOR, results=(
                GoalResult(goal_id="g-school", progress=GoalProgress.PROGRESSING),),
                next_evaluation_date=today + timedelta(days=42)),
            AdjustPlan(actor=ACTOR, plan=care_plan(family, cycle, today)),
        ])

    async def close(family: str, cycle: int, today: date) -> int:
        return await do(family, [
            CompleteAgreement(actor=ACTOR, agreement_id=f"a-{CYCLES}"),
            EvaluatePlan(actor=ACTOR, results=(
                GoalResult(goal_id="g-school", progress=GoalProgress.ACHIEVED),), final=True),
            CloseTrajectory(actor=ACTOR, reason=ClosureReason.GOALS_ACHIEVED),
        ])

    async def check_in(family: str, number: int, today: date) -> int:
        return await do(family, [RecordCheckIn(actor=ACTOR, check_in=number, by=COORDINATOR,
                                               note="gaat goed")])

    async def ended(family: str) -> bool:
        described = await handle(family).describe()
        return described.status == WorkflowExecutionStatus.COMPLETED

    return Script(setup, day_28, day_41, close, check_in, ended)


# -- raw ------------------------------------------------------------------------------------------


class RawInsert:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="bench_long_life_insert")
    async def insert(self, n: int) -> int:
        row_id: int = await self._pool.fetchval(
            "INSERT INTO bench_long_life (n) VALUES ($1) RETURNING id", n)
        return row_id


@workflow.defn(name=RAW_WORKFLOW)
class RawLifeWorkflow:
    """Updates that each write a row through a local activity; a run loop that sleeps
    towards the next moment or until an update, as the trajectory's does; an end."""

    def __init__(self) -> None:
        self._version = 0
        self._ending = False

    @workflow.run
    async def run(self) -> int:
        while not self._ending:
            version = self._version
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(self._moved_from(version),
                                              timeout=timedelta(days=42))
        # Aftercare: updates still come (the check-ins) until its one timer ends it, as
        # the trajectory's last deadline does (aftercare ends about 6 months after
        # closure; the script waits 202 days).
        await workflow.sleep(timedelta(days=190))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._version

    def _moved_from(self, version: int) -> Callable[[], bool]:
        return lambda: self._version != version or self._ending

    @workflow.update
    async def step(self, n: int) -> int:
        await workflow.execute_local_activity(
            "bench_long_life_insert", n, result_type=int,
            start_to_close_timeout=ACTIVITY_TIMEOUT)
        self._version += 1
        return self._version

    @workflow.signal
    async def note(self, n: int) -> None:
        await workflow.execute_local_activity(
            "bench_long_life_insert", n, result_type=int,
            start_to_close_timeout=ACTIVITY_TIMEOUT)
        self._version += 1

    @workflow.update
    def end(self) -> None:
        self._ending = True


def raw_script(client: Client, task_queue: str) -> Script:
    def handle(family: str) -> WorkflowHandle[Any, Any]:
        return client.get_workflow_handle(f"raw-{family}")

    async def steps(family: str, count: int) -> int:
        for n in range(count):
            await resent(partial(handle(family).execute_update, RawLifeWorkflow.step, n))
        return count

    async def setup(family: str, cycle: int, today: date) -> int:
        await client.start_workflow(RAW_WORKFLOW, id=f"raw-{family}", task_queue=task_queue)
        return await steps(family, 7)

    async def day_28(family: str, cycle: int, today: date) -> int:
        sent = await steps(family, 2)
        await handle(family).signal(RawLifeWorkflow.note, cycle)
        return sent + 1

    async def day_41(family: str, cycle: int, today: date) -> int:
        return await steps(family, 2)

    async def close(family: str, cycle: int, today: date) -> int:
        sent = await steps(family, 3)
        await handle(family).execute_update(RawLifeWorkflow.end)
        return sent

    async def check_in(family: str, number: int, today: date) -> int:
        return await steps(family, 1)

    async def ended(family: str) -> bool:
        described = await handle(family).describe()
        return described.status == WorkflowExecutionStatus.COMPLETED

    return Script(setup, day_28, day_41, close, check_in, ended)


def raw_worker(client: Client, pool: asyncpg.Pool, task_queue: str, cache: int) -> Worker:
    runner = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default
                                     .with_passthrough_modules(*PASSTHROUGH_MODULES, "bench"))
    return Worker(client, task_queue=task_queue, workflows=[RawLifeWorkflow],
                  activities=[RawInsert(pool).insert], workflow_runner=runner,
                  max_cached_workflows=cache)


# -- main -----------------------------------------------------------------------------------------


def test_server_binary() -> str:
    found = (shutil.which("temporal-test-server")
             or str(Path(sys.executable).parent / "temporal-test-server"))
    if not Path(found).exists():
        raise SystemExit("the temporal test server is not installed; run `python3 "
                         "infra/bootstrap.py test` once to set up .venv")
    return found


async def simulate(kind: str, families: int, pool: asyncpg.Pool, key_wrapper: KeyWrapper,
                   cpu: CpuClocks, concurrency: int) -> Life:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_binary(),
        data_converter=data_converter(Keyring.generate()))
    # The test server takes no flags for them: registered as the suite does (an unknown
    # attribute fails the trajectory's workflow task).
    await add_search_attributes(env.client, env.client.namespace, all_search_attributes())
    life = Life(families)
    task_queue = f"bench-long-life-{kind}-{uuid.uuid4().hex[:6]}"
    ids = [f"life-{uuid.uuid4().hex[:8]}" for _ in range(families)]
    # Every open workflow stays cached (the default of 1,000 would evict under N = 1,000).
    cache = families + 100
    try:
        if kind == "regie":
            store = TimedStore(pool, key_wrapper)
            async with build_worker(env.client, store, task_queue, POLICY,
                                    max_cached_workflows=cache):
                await live(env, ids, regie_script(env.client, task_queue), concurrency,
                           cpu, life)
            life.store = (store.append_seconds, store.read_seconds, store.events)
        else:
            async with raw_worker(env.client, pool, task_queue, cache):
                await live(env, ids, raw_script(env.client, task_queue), concurrency, cpu,
                           life)
    finally:
        await env.shutdown()
    return life


def report(results: list[tuple[Life | None, Life | None]]) -> None:
    print(f"\n{'N':>6} {'':6} {'wall s':>8} {'s/family':>9} {'ratio':>6} {'commands':>9} "
          f"{'clock':>7} {'updates':>8} {'CPU ms/family: this':>20} {'server':>7} "
          f"{'pg':>6} {'store ms/family: append':>24} {'read':>6} {'events':>7}")
    for regie, raw in results:
        for label, life in (("regie", regie), ("raw", raw)):
            if life is None:
                continue
            ratio = (f"{life.wall / raw.wall:6.2f}" if life is regie and raw is not None
                     else f"{'':6}")
            store = "" if life.store is None else (
                f"{1000 * life.per_family(life.store[0]):24.1f} "
                f"{1000 * life.per_family(life.store[1]):6.1f} "
                f"{life.store[2] / life.families:7.1f}")
            print(f"{life.families:6d} {label:6} {life.wall:8.1f} "
                  f"{life.per_family(life.wall):9.3f} {ratio} "
                  f"{life.commands:9.1f} {life.clock:7.1f} {life.updates:8d} "
                  f"{1000 * life.per_family(life.cpu[0]):20.1f} "
                  f"{1000 * life.per_family(life.cpu[1]):7.1f} "
                  f"{1000 * life.per_family(life.cpu[2]):6.1f} {store}")
    print("\nwall s: the whole simulated two years; s/family: wall / N; ratio: regie wall / "
          "raw wall at the same N; commands: wall seconds with updates in flight; clock: "
          "wall seconds in env.sleep (the test server firing timers and waiting for the "
          "workflows' tasks); updates: updates and signals sent. CPU ms/family: this "
          "process (worker and client; the store's Python side for regie), the "
          "time-skipping server's process, PostgreSQL's processes. store: wall time inside "
          "append and read_stream (waiting for the database included), and events stored, "
          "per family.")


async def storage_report(pool: asyncpg.Pool) -> None:
    """Bytes per stored event, as PostgreSQL holds the events of these lives: the table
    (heap), its TOAST (large jsonb out of line), each index, and all together; the
    outbox's rows beside. For the scale model (docs/scale.md)."""
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE events")
        await conn.execute("VACUUM ANALYZE outbox")
        rows: int = await conn.fetchval("SELECT count(*) FROM events")
        if rows == 0:
            return
        sizes = await conn.fetchrow("""
            SELECT pg_relation_size('events') AS heap,
                   pg_table_size('events') - pg_relation_size('events') AS toast,
                   pg_indexes_size('events') AS indexes,
                   pg_total_relation_size('events') AS total,
                   avg(pg_column_size(data))::float AS data,
                   avg(pg_column_size(metadata))::float AS metadata
            FROM events""")
        indexes = await conn.fetch("""
            SELECT indexrelid::regclass::text AS name, pg_relation_size(indexrelid) AS size
            FROM pg_index WHERE indrelid = 'events'::regclass ORDER BY 1""")
        assert sizes is not None  # an aggregate always gives a row
        outbox_rows: int = await conn.fetchval("SELECT count(*) FROM outbox")
        outbox: int = await conn.fetchval("SELECT pg_total_relation_size('outbox')")
    print(f"\nstorage: {rows} events of these lives (VACUUM ANALYZE first)")
    print(f"  bytes per event: heap {sizes['heap'] / rows:.0f}, TOAST {sizes['toast'] / rows:.0f}, "
          f"indexes {sizes['indexes'] / rows:.0f}, total {sizes['total'] / rows:.0f} "
          f"(jsonb data {sizes['data']:.0f}, metadata {sizes['metadata']:.0f} on average)")
    for index in indexes:
        print(f"  index {index['name']}: {index['size'] / rows:.1f} bytes per event")
    if outbox_rows:
        print(f"  outbox: {outbox_rows} rows, {outbox / outbox_rows:.0f} bytes per row "
              f"with its indexes")


async def run(dsn: str, postmaster: int, args: argparse.Namespace) -> None:
    pool = await create_pool(dsn, max_size=16)
    try:
        async with pool.acquire() as conn:
            await import_directory(conn, load_directory_file(DIRECTORY), source="bench")
            await conn.execute("CREATE TABLE IF NOT EXISTS bench_long_life "
                               "(id bigserial PRIMARY KEY, n int NOT NULL)")
        cpu = CpuClocks(postmaster)
        # One KEK for the whole run: the lives of each N share people (the coordinator's
        # name is personal data), whose keys the first N wrapped.
        key_wrapper = EnvKeyring(Kek.generate())
        results: list[tuple[Life | None, Life | None]] = []
        for families in args.families:
            lives: dict[str, Life] = {}
            for side in args.sides:
                print(f"N = {families}: {side} ...", flush=True)
                lives[side] = await simulate(side, families, pool, key_wrapper, cpu,
                                             args.concurrency)
                print(f"N = {families}: {side} {lives[side].wall:.1f} s", flush=True)
            results.append((lives.get("regie"), lives.get("raw")))
            report(results)
        await storage_report(pool)
    finally:
        await pool.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.long_life",
        description="N families through two years each under time skipping: wall time per "
                    "family and where it goes, next to a raw workflow of the same shape.")
    parser.add_argument("--families", default="50,200,1000",
                        help="comma-separated N to simulate, in order (default 50,200,1000)")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="updates in flight at once (default 32)")
    parser.add_argument("--sides", default="regie,raw",
                        help="which lives to simulate at each N, in order: regie, raw or "
                             "both (default regie,raw; the ratio needs both)")
    args = parser.parse_args()
    args.sides = [side.strip() for side in str(args.sides).split(",") if side.strip()]
    if not args.sides or not set(args.sides) <= {"regie", "raw"}:
        parser.error("--sides takes regie, raw or regie,raw")
    try:
        args.families = [int(n) for n in str(args.families).split(",") if n.strip()]
    except ValueError:
        parser.error("--families takes numbers separated by commas, e.g. 50,200")
    if not args.families or min(args.families) < 1 or args.concurrency < 1:
        parser.error("--families and --concurrency must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    # Warnings and up only: the append activity logs every append at INFO.
    configure_logging("WARNING")
    # As the worker and the gateway run (infra/garbage_collection.py); raw sides alike.
    tune_for_throughput()
    with tempfile.TemporaryDirectory(prefix="regie-bench-long-life-",
                                     ignore_cleanup_errors=True) as data:
        pgdata = Path(data) / "pg"
        server = start_embedded_postgres(pgdata, delete_on_exit=True)
        try:
            # The first line of postmaster.pid: PostgreSQL's own processes are its children.
            postmaster = int((pgdata / "postmaster.pid").read_text().split("\n")[0])
            asyncio.run(ensure_database(server.get_uri(), BENCH_DATABASE))
            dsn = server.get_uri(BENCH_DATABASE)
            asyncio.run(migrate_database(dsn))
            asyncio.run(run(dsn, postmaster, args))
        finally:
            server.cleanup()


if __name__ == "__main__":
    # As the importable module, so the raw workflow's class is
    # `bench.long_life.RawLifeWorkflow` (the sandbox loads it by module name).
    from bench.long_life import main as module_main

    module_main()
