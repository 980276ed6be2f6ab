"""Escalation latency when many episode deadlines fall at the same moment.

Run: `python -m bench.escalation [--cases 1000] [--concurrency 64]`.

It prints figures and a ratio; it asserts nothing about time (a shared 2-core machine is
far too noisy for that). It only raises when the setup did not produce what is to be
measured (a deadline timer not set for the chosen moment, an escalation that never
arrives or reaches someone other than the manager), because then the figures would be
meaningless.

What is measured, on the local Temporal dev server and an embedded PostgreSQL, both
started here and stopped at the end:

- escalation: N trajectories (`FamilyTrajectoryWorkflow`), each brought into care by its
  updates (referral, intake, team member pro-1 from the directory, coordinator, start of
  care) and then given a reported stagnation, which opens episode ep-1 and starts its
  `EscalationEpisodeWorkflow`. Its level-1 deadline would be 5 working days away, so each
  episode is replaced (same workflow id, `TERMINATE_EXISTING`) by one whose input is the
  same except `stagnated_at`: a moment S whose deadline (S plus the coordinator's working
  days, Dutch calendar) is T, shortly after the setup (`--lead`). At T all N timers fire and
  the real path runs: the episode resolves level 2 (manager pro-2) through the directory
  look-up (a local activity) and signals the trajectory, which appends
  `EscalationLevelAssigned(level=2)`, with its outbox notification, through the append
  (a local activity). Figure: the delay from T to each event's `recorded_at` in the store
  (p50 / p99 / max), and escalations/s = N / (last recorded_at - T).
- raw: in the same run, on the same server, N tiny workflows that wait for one signal,
  run one no-op activity and complete. All N signals are sent at once (the same bounded
  concurrency as the setup); raw/s = N / (last close - first signal sent), and each
  workflow's delay from its signal being sent to its close.

The ratio escalations/s / raw/s is informative, not a target: an escalation does more
than one signal and one activity (a timer, the directory look-up, a signal to the
parent, the append with its transaction on the event store, and the workflow tasks in
between, in two workflows).

Both workers run in this process, with a workflow cache large enough for every open
workflow (the default of 1,000 would evict and replay workflows under N = 1,000), and
the dev server's rate limits raised (`--server-defaults` keeps them as shipped; on a
2-core machine they were not what limited the figures). The last two columns show where
the time went: the cores this process used, and how busy the whole machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import asyncpg
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from domain.calendar import WorkingDayCalendar, dutch_calendar
from domain.commands import (
    AddTeamMember,
    AppointCoordinator,
    AssessmentInput,
    CaseworkerCommand,
    RecordIntake,
    ReferFamily,
    ReportStagnation,
    StartCare,
)
from domain.events import IntakeOutcome
from domain.family import FamilyMember, LifeDomain, MemberRole, Referral, ReferralReason
from domain.local_time import DEFAULT_TIME_ZONE, local_date
from domain.policy import RegionPolicy
from domain.team import TeamMember, TeamMemberKind
from infra.database import create_pool, ensure_database, migrate_database, start_embedded_postgres
from infra.directory import import_directory, load_directory_file
from infra.event_store import PostgresEventStore
from infra.local_kek import EnvKeyring, Kek
from infra.payload_codec import data_converter
from infra.payload_keys import Keyring
from infra.structured_logging import configure_logging
from infra.temporal import PASSTHROUGH_MODULES
from workers.worker import build_worker
from workflows.client import send_command
from workflows.escalation import EscalationEpisodeWorkflow
from workflows.messages import EpisodeInput, episode_workflow_id
from workflows.search_attributes import SEARCH_ATTRIBUTES
from workflows.trajectory import (
    FamilyTrajectoryWorkflow,
    ReferInput,
    StartTrajectoryInput,
    workflow_id_for,
)

T = TypeVar("T")
R = TypeVar("R")

BENCH_DATABASE = "regie_bench_escalation"
DIRECTORY = Path(__file__).parents[1] / "infra" / "directory.example.yaml"
POLICY = RegionPolicy(region="holland-noord")
COORDINATOR = "pro-1"  # in the directory; pro-2 manages pro-1
MANAGER = "pro-2"
ACTOR = f"coordinator:{COORDINATOR}"
EPISODE = "ep-1"  # the first episode of each trajectory: the reported stagnation's
TASK_QUEUE = "bench-escalation"
RAW_TASK_QUEUE = "bench-raw"
RAW_WORKFLOW = "BenchSignalThenActivity"
# How long one workflow may take to reach a state the setup waits for.
SETUP_WAIT = timedelta(minutes=3)
# The dev server's limits, raised so that a burst measures the server's work, not a
# rate limiter (frontend.rps and namespaceRPS default to 2,400/s, visibility to 10/s).
RAISED_LIMITS = {
    "frontend.rps": 100_000,
    "frontend.namespaceRPS": 100_000,
    "frontend.namespaceRPS.visibility": 10_000,
    "frontend.persistenceMaxQPS": 100_000,
    "history.rps": 100_000,
    "history.persistenceMaxQPS": 100_000,
    "matching.rps": 100_000,
    "matching.persistenceMaxQPS": 100_000,
}

LEVEL_TWO_EVENTS = """FROM events WHERE event_type = 'EscalationLevelAssigned'
                        AND data->>'level' = '2' AND stream_id LIKE 'trajectory-bench-%'"""


# -- the raw baseline: one signal, one activity --------------------------------------------


@activity.defn(name="bench_noop")
async def bench_noop() -> None:
    return None


@workflow.defn(name=RAW_WORKFLOW)
class SignalThenActivityWorkflow:
    def __init__(self) -> None:
        self._signalled = False

    @workflow.signal
    def go(self) -> None:
        self._signalled = True

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._signalled)
        await workflow.execute_activity(bench_noop, start_to_close_timeout=timedelta(seconds=30))


def raw_worker(client: Client, cache: int) -> Worker:
    # The same sandbox as Regie's worker; this module is passed through so the sandbox
    # does not re-import the whole benchmark (and its imports) for every workflow.
    runner = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default
                                     .with_passthrough_modules(*PASSTHROUGH_MODULES, "bench"))
    return Worker(client, task_queue=RAW_TASK_QUEUE, workflows=[SignalThenActivityWorkflow],
                  activities=[bench_noop], workflow_runner=runner, max_cached_workflows=cache)


# -- helpers ----------------------------------------------------------------------------------


async def bounded(items: Sequence[T], concurrency: int, fn: Callable[[T], Awaitable[R]],
                  progress: str | None = None) -> list[R]:
    """`fn` over `items`, at most `concurrency` at a time; results in order. With
    `progress`, prints a line at every quarter done."""
    semaphore = asyncio.Semaphore(concurrency)
    done = 0
    start = time.perf_counter()

    async def one(item: T) -> R:
        nonlocal done
        async with semaphore:
            result = await fn(item)
        done += 1
        if progress and len(items) >= 20 and done % (len(items) // 4) == 0:
            print(f"  {progress}: {done}/{len(items)} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        return result

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(item)) for item in items]
    return [task.result() for task in tasks]


async def history_once(client: Client, workflow_id: str,
                       ready: Callable[[Sequence[HistoryEvent]], bool]) -> list[HistoryEvent]:
    """The workflow's history, as soon as it exists and `ready` holds for it."""
    handle = client.get_workflow_handle(workflow_id)
    give_up = time.monotonic() + SETUP_WAIT.total_seconds()
    while True:
        try:
            events = list((await handle.fetch_history()).events)
            if ready(events):
                return events
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        if time.monotonic() > give_up:
            raise RuntimeError(f"{workflow_id}: not there or not ready after {SETUP_WAIT}")
        await asyncio.sleep(0.25)


def has(event_type: EventType.ValueType) -> Callable[[Sequence[HistoryEvent]], bool]:
    return lambda events: any(e.event_type == event_type for e in events)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def bench_time_zone(now: datetime, window: timedelta) -> str:
    """A zone in which `now` to `now + window` is one Dutch working day.

    The calendar counts working days in the policy's zone and keeps the local time of
    day, so a deadline can only fall on a working day there. The benchmark measures
    throughput, not the calendar, so on a weekend or a holiday in Amsterdam it gives its
    region another zone (an `Etc/GMT` offset) in which it is a working day already or
    still; on a working day it keeps Amsterdam."""
    zones = [DEFAULT_TIME_ZONE] + [f"Etc/GMT{-hours:+d}" for hours in
                                   sorted(range(-12, 15), key=lambda h: (abs(h), h)) if hours]
    for name in zones:
        calendar = dutch_calendar(range(now.year - 1, now.year + 2), time_zone=name)
        first, last = local_date(now, name), local_date(now + window, name)
        if first == last and calendar.is_working_day(first):
            return name
    raise SystemExit(f"{now:%Y-%m-%d %H:%M} UTC is not a Dutch working day in any zone for "
                     f"the next {window}; run the benchmark another time")


def stagnation_moment(deadline: datetime, calendar: WorkingDayCalendar, days: int
                      ) -> datetime:
    """A moment S with `calendar.add_working_days(S, days) == deadline`, searched back day
    by day (the calendar keeps the local time of day, so S has the deadline's)."""
    for back in range(1, 8 * days + 30):
        candidate = deadline - timedelta(days=back)
        if calendar.add_working_days(candidate, days) == deadline:
            return candidate
    raise SystemExit(f"no moment {days} working days before {deadline:%Y-%m-%d %H:%M} UTC "
                     f"in {calendar.time_zone}")


# -- the escalation side -----------------------------------------------------------------------


def referral(case_id: str) -> ReferFamily:
    parent, child = f"{case_id}-p", f"{case_id}-c"
    return ReferFamily(case_id=case_id, referral=Referral(
        referral_id=f"{case_id}-ref-1", organisation="Basisschool De Linde",
        referrer="intern begeleider",
        members=(
            FamilyMember(person_id=parent, role=MemberRole.PARENT, name="Anna de Vries",
                         birth_date=date(1985, 3, 14), has_parental_authority=True),
            FamilyMember(person_id=child, role=MemberRole.CHILD, name="Sam de Vries",
                         birth_date=date(2014, 9, 2)),
        ),
        reasons=(ReferralReason(about=child, life_domain=LifeDomain.EDUCATION_WORK,
                                description="veel verzuim (frequent absence)"),),
    ))


async def into_care_with_episode(client: Client, case_id: str) -> EpisodeInput:
    """Referral to a reported stagnation; returns the input its episode was started with."""
    start = WithStartWorkflowOperation(
        FamilyTrajectoryWorkflow.run, StartTrajectoryInput(case_id=case_id),
        id=workflow_id_for(case_id), task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    await client.execute_update_with_start_workflow(
        FamilyTrajectoryWorkflow.refer,
        ReferInput(command=referral(case_id), actor="partner:school"),
        start_workflow_operation=start)
    handle = await start.workflow_handle()
    steps: list[CaseworkerCommand] = [
        RecordIntake(
            actor=ACTOR, outcome=IntakeOutcome.ACCEPTED, assessments=(AssessmentInput(
                life_domain=LifeDomain.EDUCATION_WORK, strengths="betrokken moeder",
                problems="schoolverzuim"),)),
        AddTeamMember(
            actor=ACTOR, member=TeamMember(member_id=COORDINATOR,
                                           kind=TeamMemberKind.PROFESSIONAL,
                                           name="Fatima El Amrani",
                                           organisation="wijkteam-alkmaar")),
        AppointCoordinator(actor="manager:pro-2", member_id=COORDINATOR),
        StartCare(actor=ACTOR),
        ReportStagnation(
            actor=ACTOR, reported_by=COORDINATOR,
            description="school en gezin wachten op elkaar; het plan staat stil"),
    ]
    for command in steps:
        await send_command(handle, command)
    # The trajectory opens the episode and starts its workflow right after the report.
    # Waiting until it sleeps towards its level-1 deadline leaves nothing in flight to be
    # cut off when it is replaced.
    events = await history_once(client, episode_workflow_id(case_id, EPISODE),
                                has(EventType.EVENT_TYPE_TIMER_STARTED))
    started = events[0].workflow_execution_started_event_attributes
    (episode,) = await client.data_converter.decode(started.input.payloads, [EpisodeInput])
    assert isinstance(episode, EpisodeInput)
    return episode


async def move_deadline(client: Client, episode: EpisodeInput, stagnated_at: datetime,
                        deadline: datetime) -> None:
    """Replace the episode's workflow by one whose level-1 deadline is `deadline`, and
    wait until it has set its timer for it."""
    workflow_id = episode_workflow_id(episode.case_id, episode.episode_id)
    await client.start_workflow(
        EscalationEpisodeWorkflow.run, episode.model_copy(update={"stagnated_at": stagnated_at}),
        id=workflow_id, task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING)
    events = await history_once(client, workflow_id, has(EventType.EVENT_TYPE_TIMER_STARTED))
    timer = next(e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED)
    fires = (timer.event_time.ToDatetime(tzinfo=UTC)
             + timer.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta())
    if abs(fires - deadline) > timedelta(minutes=1):  # a slip would be days
        raise RuntimeError(f"{workflow_id}: level-1 timer fires at {fires}, not at the "
                           f"deadline {deadline}")


async def escalation_burst(dsn: str, cases: int, deadline: datetime,
                           wait_seconds: float) -> Burst:
    """Wait for the deadline, then for all level-2 events; their delays from it. Reads on
    a connection of its own, so the worker's pool keeps all of its connections."""
    conn = await asyncpg.connect(dsn)
    await asyncio.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()))
    cpu = CpuSample.now()
    give_up = time.monotonic() + wait_seconds
    try:
        while (stored := await conn.fetchval(f"SELECT count(*) {LEVEL_TWO_EVENTS}")) < cases:
            if time.monotonic() > give_up:
                raise RuntimeError(f"only {stored} of {cases} escalations recorded "
                                   f"{wait_seconds:.0f} s after the deadline")
            await asyncio.sleep(0.25)
        cpu_end = CpuSample.now()
        rows = await conn.fetch(f"SELECT stream_id, recorded_at, data->>'assignee_id' AS "
                                f"assignee {LEVEL_TWO_EVENTS}")
        notified = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE role = 'manager' AND recipient_id = $1 "
            "AND case_id LIKE 'bench-%'", MANAGER)
    finally:
        await conn.close()
    if len(rows) != cases or len({r["stream_id"] for r in rows}) != cases:
        raise RuntimeError(f"{len(rows)} level-2 events for {cases} cases")
    if {r["assignee"] for r in rows} != {MANAGER} or notified != cases:
        raise RuntimeError(f"level 2 went to {sorted({r['assignee'] for r in rows})}, with "
                           f"{notified} notifications to {MANAGER}; expected {MANAGER} only, "
                           f"{cases} notifications")
    recorded: list[datetime] = [r["recorded_at"] for r in rows]
    return Burst(delays=[(r - deadline).total_seconds() for r in recorded],
                 span=(max(recorded) - deadline).total_seconds(), cpu=cpu.until(cpu_end))


# -- the raw side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuUse:
    process_cores: float  # this process (both workers and the client), in cores
    machine_busy: float | None  # all cores of the machine, as a fraction (Linux only)


@dataclass(frozen=True)
class CpuSample:
    wall: float
    process: float
    busy: int | None
    total: int | None

    @staticmethod
    def now() -> CpuSample:
        busy = total = None
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
            total = sum(fields)
            busy = total - fields[3] - fields[4]  # minus idle and iowait
        except (OSError, ValueError):
            pass
        return CpuSample(time.monotonic(), time.process_time(), busy, total)

    def until(self, end: CpuSample) -> CpuUse:
        wall = max(end.wall - self.wall, 1e-9)
        machine = None
        if (self.busy is not None and self.total is not None and end.busy is not None
                and end.total is not None and end.total > self.total):
            machine = (end.busy - self.busy) / (end.total - self.total)
        return CpuUse((end.process - self.process) / wall, machine)


@dataclass(frozen=True)
class Burst:
    delays: list[float]  # seconds from the trigger to the outcome, one per workflow
    span: float  # seconds from the first trigger to the last outcome
    cpu: CpuUse  # while the burst was being worked off

    @property
    def rate(self) -> float:
        return len(self.delays) / self.span


async def raw_burst(client: Client, cases: int, concurrency: int) -> Burst:
    ids = [f"bench-raw-{i:05d}" for i in range(cases)]

    async def start(workflow_id: str) -> None:
        # By name: passing `SignalThenActivityWorkflow.run` (no argument, returns None)
        # trips a mypy protocol-cache quirk that then fails other modules' typed calls.
        await client.start_workflow(RAW_WORKFLOW, id=workflow_id, task_queue=RAW_TASK_QUEUE)
        # Waiting for the signal: its first workflow task is done.
        await history_once(client, workflow_id,
                           has(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED))

    await bounded(ids, concurrency, start)
    print(f"  raw: {cases} workflows waiting for their signal", flush=True)

    async def signal(workflow_id: str) -> float:
        sent = time.time()
        await client.get_workflow_handle(workflow_id).signal(SignalThenActivityWorkflow.go)
        return sent

    cpu = CpuSample.now()
    sent = await bounded(ids, concurrency, signal)

    async def closed(workflow_id: str) -> float:
        handle = client.get_workflow_handle(workflow_id)
        close_time = (await handle.describe()).close_time
        assert close_time is not None
        return close_time.timestamp()

    await bounded(ids, concurrency,
                  lambda workflow_id: client.get_workflow_handle(workflow_id).result())
    cpu_end = CpuSample.now()
    closes = await bounded(ids, concurrency, closed)
    return Burst(delays=[c - s for s, c in zip(sent, closes, strict=True)],
                 span=max(closes) - min(sent), cpu=cpu.until(cpu_end))


# -- report -------------------------------------------------------------------------------------


def report(escalation: Burst, raw: Burst) -> None:
    print(f"\n{'':38} {'p50 s':>7} {'p99 s':>7} {'max s':>7} {'per s':>7} "
          f"{'proc CPU':>9} {'machine':>8}")
    for label, burst in (("escalation: deadline -> event stored", escalation),
                         ("raw: signal sent -> workflow closed", raw)):
        delays = sorted(burst.delays)
        machine = ("-" if burst.cpu.machine_busy is None
                   else f"{100 * burst.cpu.machine_busy:.0f}%")
        print(f"{label:38} {percentile(delays, 50):7.2f} {percentile(delays, 99):7.2f} "
              f"{delays[-1]:7.2f} {burst.rate:7.1f} {burst.cpu.process_cores:9.2f} "
              f"{machine:>8}")
    print(f"\nratio escalations/s / raw signal+activity/s: {escalation.rate / raw.rate:.2f}")
    print("per s: escalations / (last recorded_at - deadline); raw workflows / (last close "
          "- first signal sent)."
          "\nproc CPU: cores used by this process (both workers, the client) while the burst "
          "was worked off; machine: busy share of all cores (the dev server, PostgreSQL and "
          "anything else on the machine)."
          "\nAn escalation is a timer, the directory look-up, a signal to the trajectory and "
          "the append (events + outbox in one transaction), both local activities, so the "
          "ratio is informative, not a target.")


# -- main -----------------------------------------------------------------------------------------


def temporal_binary() -> str:
    found = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    if not Path(found).exists():
        raise SystemExit("the temporal CLI is not installed; run `python3 infra/bootstrap.py "
                         "test` once to set up .venv")
    return found


async def run(dsn: str, args: argparse.Namespace) -> None:
    cases: int = args.cases
    extra: list[str] = []
    if not args.server_defaults:
        for key, value in RAISED_LIMITS.items():
            extra += ["--dynamic-config-value", f"{key}={value}"]
    # Encrypted as in production (a key of this run's own): the codec's cost is part of
    # the figures.
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=data_converter(Keyring.generate()),
        ui=False, dev_server_extra_args=extra, search_attributes=SEARCH_ATTRIBUTES)
    pool = await create_pool(dsn)
    try:
        client = env.client
        async with pool.acquire() as conn:
            await import_directory(conn, load_directory_file(DIRECTORY), source="bench")
        store = PostgresEventStore(pool, key_wrapper=EnvKeyring(Kek.generate()))
        # Every trajectory and its episode stay cached (plus the replaced episodes).
        cache = 3 * cases + 100
        print(f"{cases} cases, concurrency {args.concurrency}, workflow cache {cache}, "
              f"dev server limits {'as shipped' if args.server_defaults else 'raised'}",
              flush=True)
        # Chosen before the setup, so a run that cannot place its deadline stops at once.
        # The window: a generous guess at the setup (about 0.7 s a case here) plus the
        # burst's own time-out.
        time_zone = bench_time_zone(datetime.now(UTC),
                                    timedelta(seconds=args.timeout + 2 * cases))
        policy = POLICY.model_copy(update={"time_zone": time_zone})
        print(f"region time zone {time_zone}", flush=True)
        async with build_worker(client, store, TASK_QUEUE, policy,
                                max_cached_workflows=cache), \
                raw_worker(client, cases + 100):
            case_ids = [f"bench-{i:05d}" for i in range(cases)]
            setup_start = time.perf_counter()
            episodes = await bounded(case_ids, args.concurrency,
                                     lambda c: into_care_with_episode(client, c),
                                     progress="into care, episode opened")
            in_care = time.perf_counter() - setup_start

            # Every level-1 deadline at one moment T, a little after the setup ends.
            # Replacing an episode costs well under half of bringing a case into care.
            lead = timedelta(seconds=round(args.lead if args.lead is not None
                                           else 10 + 0.6 * in_care))
            deadline = datetime.now(UTC).replace(microsecond=0) + lead
            days = policy.escalation_deadlines_working_days.coordinator
            calendar = dutch_calendar(range(deadline.year - 1, deadline.year + 2),
                                      time_zone=time_zone)
            stagnated_at = stagnation_moment(deadline, calendar, days)
            moving = time.perf_counter()
            await bounded(episodes, args.concurrency,
                          lambda e: move_deadline(client, e, stagnated_at, deadline),
                          progress="episode deadlines moved")
            moved = time.perf_counter() - moving
            slack = (deadline - datetime.now(UTC)).total_seconds()
            print(f"setup {time.perf_counter() - setup_start:.1f} s: into care with an "
                  f"episode {in_care:.1f} s ({cases / in_care:.1f} cases/s), deadlines "
                  f"moved {moved:.1f} s", flush=True)
            print(f"all {cases} level-1 deadlines at {deadline:%H:%M:%S} UTC "
                  f"(stagnated_at {stagnated_at.isoformat()}, {days} working days before), "
                  f"{slack:.1f} s after the setup", flush=True)
            if slack < 1:
                raise RuntimeError("the setup ran past the deadline; run again with a "
                                   "larger --lead")

            escalation = await escalation_burst(dsn, cases, deadline, args.timeout)
            print(f"  escalation: all {cases} level-2 events stored", flush=True)

            raw = await raw_burst(client, cases, args.concurrency)
        report(escalation, raw)
    finally:
        await pool.close()
        await env.shutdown()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.escalation",
        description="Delay from a shared escalation deadline to the event in the store, "
                    "next to raw Temporal signal+activity throughput.",
    )
    parser.add_argument("--cases", type=int, default=1000,
                        help="trajectories, each with an open episode (default 1000)")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="client calls in flight during setup and for the raw signals "
                             "(default 64)")
    parser.add_argument("--lead", type=float, default=None,
                        help="seconds from the end of the trajectories' setup to the shared "
                             "deadline; the episodes are replaced meanwhile (default: 10 + "
                             "0.6 x the time the trajectories' setup took)")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds to wait for all escalations after the deadline "
                             "(default 600)")
    parser.add_argument("--server-defaults", action="store_true",
                        help="keep the dev server's rate limits as shipped")
    args = parser.parse_args()
    for name in ("cases", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


class DropTerminatedChildNotices(logging.Filter):
    """The trajectory does not await the episodes it starts (ABANDON), so each replaced
    episode makes its parent log "_ChildWorkflowHandle exception was never retrieved"
    when it leaves the cache; expected here, one traceback per case."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("_ChildWorkflowHandle exception was never")


def main() -> None:
    args = parse_args()
    # JSON log lines on stderr, warnings and up only: the append activity logs every
    # append at INFO, which would bury the figures.
    configure_logging("WARNING")
    logging.getLogger("temporalio.worker._workflow_instance").addFilter(
        DropTerminatedChildNotices())
    with tempfile.TemporaryDirectory(prefix="regie-bench-escalation-",
                                     ignore_cleanup_errors=True) as data:
        # Started outside the event loop: it blocks until the server accepts connections.
        server = start_embedded_postgres(Path(data) / "pg", delete_on_exit=True)
        try:
            asyncio.run(ensure_database(server.get_uri(), BENCH_DATABASE))
            dsn = server.get_uri(BENCH_DATABASE)
            asyncio.run(migrate_database(dsn))
            asyncio.run(run(dsn, args))
        finally:
            server.cleanup()


if __name__ == "__main__":
    # Run as the importable module, so the raw workflow's class is
    # `bench.escalation.SignalThenActivityWorkflow`: the sandbox loads a workflow's class
    # by its module's name, which `__main__` is not.
    from bench.escalation import main as module_main

    module_main()
