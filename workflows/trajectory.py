"""FamilyTrajectoryWorkflow: one durable workflow per family (id `trajectory-<case id>`).

- Commands arrive as Updates, one per row of `domain.command_table`: the workflow
  registers them from the table. Each validator runs the row's decider against the
  current state, so a command that breaks a rule is rejected with its message before
  anything is written to the workflow history or the event store.
- Partner signals carry an idempotency key; the keys are part of the state (they are in
  the events), so a resent signal is ignored, also after continue-as-new.
- Every handler takes the same path (`_record`): decide on the current state, add what
  that sets off (`domain.consequences`: passed deadlines, stagnation findings, escalation
  episodes), append it all in one activity, apply it, then react (`_react`: start or end
  escalation episodes). A lock serialises handlers: each decides on the state the
  previous one left.
- A message from an escalation episode is recorded only when it is a step (or region
  alert) the episode's ladder could have sent: the trajectory computes the next level and
  its working-day deadline itself (`domain.ladder`). Anything else is logged, not
  recorded: a signal is only a message, and whoever reaches Temporal can send one.
- A signal, timer or episode message never fails the trajectory: a concurrent writer
  makes it re-read the stream and decide again; data about an erased person is recorded
  without that person's data; a store outage is retried, with the lock released between
  rounds so queries and other handlers are not held up forever.
- Clocks are durable timers: the run loop sleeps until the earliest deadline of the state
  (`domain.deadlines`) or until a command changes the state.
- Long life: the workflow continues as new well before its history grows large. The new
  run rebuilds its state from the event store, the same path that rebuilds any
  trajectory from its stream alone (`resume=True`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import (
    ApplicationError,
    FailureError,
    WorkflowAlreadyStartedError,
)

from workflows.escalation import EscalationEpisodeWorkflow
from workflows.failures import application_failure, failure_type
from workflows.messages import (
    EpisodeEnded,
    EpisodeInbox,
    EpisodeInput,
    EpisodeOutcome,
    LevelStep,
    RegionAlert,
    TrajectoryInbox,
    episode_workflow_id,
)
from workflows.search_attributes import updates as search_attribute_updates

with workflow.unsafe.imports_passed_through():
    from activities.case_context import CaseloadRequest, HolidaysRequest, PolicyRequest
    from activities.event_store import AppendEventsInput, AppendEventsResult, ReadStreamInput
    from domain.calendar import CalendarRangeError, WorkingDayCalendar
    from domain.case_summary import CaseSummary, case_summary
    from domain.command_table import COMMAND_TABLE, CommandRow, decide, row_for
    from domain.commands import CaseworkerCommand, Command, PartnerSignal, ReferFamily
    from domain.consequences import consequences, with_consequences
    from domain.deadlines import due_events, next_pending
    from domain.decision import DecisionContext
    from domain.errors import DomainError
    from domain.escalation import record_alert, record_step
    from domain.events import (
        EscalationClosed,
        EscalationOpened,
        EscalationResolved,
        EventMetadata,
        EventPayload,
        RecordedEvent,
        StagnationFound,
    )
    from domain.ladder import LadderTerms, alert_mismatch, stagnation_start, step_mismatch
    from domain.local_time import local_date, local_text
    from domain.notifications import Notification, RecipientRole
    from domain.personal import without_personal_data_of, without_personal_text
    from domain.policy import RegionPolicy
    from domain.trajectory import (
        EpisodeStatus,
        Phase,
        TrajectoryState,
        evolve,
        fold,
        new_event,
        stream_id_for,
    )


class StartTrajectoryInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    # True: rebuild the state from the event store first (continue-as-new, or rebuilding
    # a trajectory from its stream alone).
    resume: bool = False
    # Continue as new once the history holds this many events (Temporal's hard limit is
    # 51,200; it also suggests continuing as new on its own, which is honoured too).
    max_history_events: int = Field(default=10_000, ge=50)
    # How many attempts one round of appending makes in a store outage (0.5 s apart,
    # doubling to 5 s: about 13 s for 6) before the handler lets go of the lock, and its
    # first wait before the next round (doubling, up to 5 minutes). A round is shorter
    # than the gateway's update timeout, so a caseworker hears about an outage instead of
    # waiting on a lock; the update stays in progress, and a resend with its key gets its
    # result once the store is back. (Attempts, not a time: a local activity's
    # schedule-to-close time-out does not end its retries.)
    append_attempts: int = Field(default=6, ge=1, le=20)
    outage_backoff: timedelta = Field(default=timedelta(seconds=5), gt=timedelta(0))
    # The terms each open episode was started with, carried over a continue-as-new: its
    # messages are checked with those, also when the new run reads a changed policy.
    episode_terms: dict[str, LadderTerms] = Field(default_factory=dict)
    # Partners' signals that arrived while the previous run was handing over: handled
    # first by this run (a flood of signals must not keep a case from continuing as new).
    carried_signals: list[PartnerSignal] = Field(default_factory=list)


class PersonalDataErased(BaseModel):
    model_config = ConfigDict(frozen=True)
    person_id: str


class ReferInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    command: ReferFamily
    actor: str = Field(min_length=1, description="e.g. partner:<organisation>")


class CommandResult(BaseModel):
    """What an update returns: the version it left the trajectory at, and whether it
    recorded anything (False for a command that was already carried out)."""

    model_config = ConfigDict(frozen=True)
    case_id: str
    version: int
    recorded: bool


ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=1))
# Within one round of appending (`StartTrajectoryInput.append_attempts`).
APPEND_FIRST_RETRY = timedelta(milliseconds=500)
APPEND_MAX_RETRY = timedelta(seconds=5)
OUTAGE_BACKOFF_MAX = timedelta(minutes=5)
# A writer that keeps beating this one is an outage of another kind: back off like one.
CONFLICTS_PER_ROUND = 3
# Running cases recorded a command and what it set off in separate appends, each through
# a regular activity; this patch marks runs that record them in one append, as a local
# activity (workflow.patched keeps old histories replaying).
ONE_APPEND_PATCH = "one-append-per-step"
# Runs recorded before this patch recorded every message of their episodes as it came;
# since, a message is recorded only when it matches the episode's ladder (which may fetch
# the holidays, an activity those runs did not have).
CHECK_MESSAGES_PATCH = "check-episode-messages"
# Runs started before this patch read their whole stream in one activity.
PAGED_READS_PATCH = "paged-stream-reads"
# Runs started before this patch used `workflow.uuid4()` itself as an event's id.
RUN_UNIQUE_IDS_PATCH = "run-unique-event-ids"
# Runs started before this patch showed Temporal no search attributes, memo or summaries;
# since, the run loop shows the case in domain words (`_show_in_temporal`).
SHOW_IN_TEMPORAL_PATCH = "show-case-in-temporal"
# Runs before this patch, meeting their own event ids stored with other content, decided
# the step again after catching up; since, what the step's lost attempt stored stands.
OWN_LOST_APPEND_PATCH = "own-lost-append-stands"
# Events per page of a rebuild: at a few kB an event (sealed personal data, encrypted by
# the payload codec), a page stays well under Temporal's 2 MB payload limit.
READ_PAGE_EVENTS = 200
# The holidays fetched at once for checking deadlines: from last year on, as the
# episode's calendar does from its start.
CALENDAR_YEARS = 3

# A step: the events to record on the current state (may raise DomainError).
Step = Callable[[TrajectoryState], list[EventPayload]]
# What in an episode's message does not match its ladder (None: it matches).
Mismatch = Callable[[TrajectoryState, LadderTerms, WorkingDayCalendar], str | None]


def _append_summary(payloads: list[EventPayload]) -> str:
    """e.g. "append CareStarted, StagnationFound": event types, never their data."""
    kinds = [type(p).__name__ for p in payloads]
    shown = ", ".join(kinds[:4]) + (f" and {len(kinds) - 4} more" if len(kinds) > 4 else "")
    return f"append {shown}"


def workflow_id_for(case_id: str) -> str:
    return f"trajectory-{case_id}"


def _actor_of(command: Command) -> str:
    """Who gives a caseworker's command: the gateway sets it from the caller's
    credentials (`domain.access`), so a command without one did not come through it."""
    if not isinstance(command, CaseworkerCommand) or command.actor is None:
        raise ApplicationError("a command must name the authenticated actor that gives it",
                               "unauthenticated", type="DomainError", non_retryable=True)
    return command.actor


def _refused(error: DomainError) -> ApplicationError:
    # ApplicationError fails only the update (the caller sees the message), never the
    # workflow; non_retryable because the same command will be refused again.
    # The field rides along as a second detail (absent when the refusal names none).
    details = (error.code,) if error.field is None else (error.code, error.field)
    return ApplicationError(error.message, *details, type="DomainError", non_retryable=True)


# The store's refusals: retrying the same append cannot help, deciding again can.
STORE_REFUSALS = ("ConcurrencyError", "EventIdConflictError", "SubjectErasedError",
                  "EventDataRejectedError")


class _StoreUnavailable(Exception):
    """One round of appending did not reach the store."""


@workflow.defn
class FamilyTrajectoryWorkflow(TrajectoryInbox):
    @workflow.init
    def __init__(self, input: StartTrajectoryInput) -> None:
        self._input = input
        self._case_id = input.case_id
        self._stream_id = stream_id_for(input.case_id)
        self._state = TrajectoryState()
        self._policy: RegionPolicy | None = None
        # Set once the policy is loaded and, on resume, the state rebuilt: handlers that
        # arrive earlier (update-with-start, signals right after continue-as-new) wait.
        self._ready = False
        self._lock = asyncio.Lock()
        self._one_append = True
        self._check_messages = True
        self._episode_terms = dict(input.episode_terms)
        # The holidays loaded for checking episodes' deadlines, and the years they cover.
        self._holidays: tuple[list[date], range] | None = None
        # (state version, moment) at which the consequences were last recorded: the run
        # loop need not look for them again before anything changes.
        self._settled: tuple[int, datetime] | None = None
        # Someone's personal data was erased: this run holds it in memory (and in its
        # history), so the case starts afresh from the store, where it is gone.
        self._start_afresh = False
        # Handing over to a new run: partners' signals arriving now go with it instead of
        # starting handlers here, so the hand-over is not starved by a flood.
        self._handing_over = False
        self._carried: list[PartnerSignal] = []
        # What Temporal shows of the case (search attributes, memo), as last upserted.
        self._show = False
        self._shown: CaseSummary | None = None
        # The event ids of the last append tried (see `_stored_by_lost_attempt`).
        self._attempted_ids: list[uuid.UUID] = []
        for row in COMMAND_TABLE:
            if row.update is not None:
                workflow.set_update_handler(row.update, self._update_handler(row),
                                            validator=self._update_validator(row))

    # -- the run loop -------------------------------------------------------------------

    @workflow.run
    async def run(self, input: StartTrajectoryInput) -> TrajectoryState:
        self._one_append = workflow.patched(ONE_APPEND_PATCH)
        self._check_messages = workflow.patched(CHECK_MESSAGES_PATCH)
        self._show = workflow.patched(SHOW_IN_TEMPORAL_PATCH)
        self._policy = await workflow.execute_activity(
            "current_policy", PolicyRequest(case_id=self._case_id), result_type=RegionPolicy,
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY,
            summary=self._summary("region policy"))
        if input.resume:
            self._state = fold(await self._read_stream(0))
        self._ready = True
        for carried in input.carried_signals:
            await self._partner_signal(carried)
        workflow.logger.info("trajectory running", extra={
            "case_id": self._case_id, "version": self._state.version, "resumed": input.resume})
        while True:
            await self._apply_due_deadlines()
            self._show_in_temporal()
            if self._state.phase is Phase.ENDED:
                break
            if self._history_is_long() or self._start_afresh:
                self._handing_over = True
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(StartTrajectoryInput(
                    case_id=self._case_id, resume=True,
                    max_history_events=input.max_history_events,
                    append_attempts=input.append_attempts,
                    outage_backoff=input.outage_backoff,
                    carried_signals=self._carried,
                    episode_terms={e.episode_id: self._episode_terms[e.episode_id]
                                   for e in self._state.open_episodes
                                   if e.episode_id in self._episode_terms}))
            await self._sleep_until_next_deadline_or_change()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.logger.info("trajectory ended", extra={"case_id": self._case_id})
        # The result stays in the closed run's history until retention: no names in it.
        return without_personal_text(self._state)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (info.is_continue_as_new_suggested()
                or info.get_current_history_length() >= self._input.max_history_events)

    async def _apply_due_deadlines(self) -> None:
        policy = self._require_policy()
        if self._one_append:
            if self._settled == (self._state.version, workflow.now()):
                return  # the handler that just ran recorded them already
            await self._record(lambda s: consequences(s, workflow.now(), policy),
                               "system:deadline")
            self._settled = (self._state.version, workflow.now())
            return
        # Runs from before the patch: one append per round, as they were recorded.
        while await self._record(lambda s: due_events(s, workflow.now(), policy),
                                 "system:deadline"):
            pass

    async def _sleep_until_next_deadline_or_change(self) -> None:
        version = self._state.version
        policy = self._require_policy()
        pending = next_pending(self._state, policy)
        timeout = (None if pending is None
                   else max(pending.at - workflow.now(), timedelta(seconds=1)))
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: (self._state.version != version or self._history_is_long()
                         or self._start_afresh),
                timeout=timeout,
                # The Web UI says what the timer waits for: "evaluation due 21 Dec 2026".
                timeout_summary=None if pending is None else self._summary(
                    pending.summary(policy.time_zone)))

    def _summary(self, text: str) -> str | None:
        """A timer's or activity's summary for the Web UI (runs from before the patch
        keep their commands as recorded). Kinds, counts, ids and dates only."""
        return text if self._show else None

    def _show_in_temporal(self) -> None:
        """Upsert the case's search attributes and memo when they changed: the Web UI's
        workflow list filters and shows cases by them (`workflows.search_attributes`).
        No personal data: `domain.case_summary` holds none."""
        if not self._show:
            return  # runs from before the patch, until they continue as new
        summary = case_summary(self._state, self._require_policy())
        if summary == self._shown:
            return
        attributes = search_attribute_updates(summary)
        before = (None if self._shown is None
                  else search_attribute_updates(self._shown))
        if before is None or [(u.key.name, u.value) for u in attributes] != [
                (u.key.name, u.value) for u in before]:
            workflow.upsert_search_attributes(attributes)
        workflow.upsert_memo({"case": summary.model_dump(mode="json")})
        self._shown = summary

    def _require_policy(self) -> RegionPolicy:
        if self._policy is None:
            raise RuntimeError("the region policy is not loaded yet")
        return self._policy

    # -- queries ---------------------------------------------------------------------

    @workflow.query
    def state(self) -> TrajectoryState:
        """The state the rules decide on, without names and personal free text: those are
        read from the store by whoever may see them (`domain.case_view`)."""
        return without_personal_text(self._state)

    # -- the one path of every handler: decide, append, apply, react ---------------------

    def _context(self, caseload: int | None = None) -> DecisionContext:
        return DecisionContext(now=workflow.now(), policy=self._require_policy(),
                               coordinator_caseload=caseload)

    def _decision(self, command: Command, caseload: int | None = None) -> Step:
        """The step that decides `command` on whatever state the lock hands over."""
        return self._with_consequences(lambda s: decide(command, s, self._context(caseload)))

    def _with_consequences(self, step: Step) -> Step:
        """`step` with what it sets off (for runs recorded before the patch, the run loop
        adds that in appends of its own)."""
        if not self._one_append:
            return step
        policy = self._require_policy()
        return lambda s: with_consequences(s, step(s), workflow.now(), policy)

    async def _record(self, step: Step, actor: str,
                      notifications: Callable[[list[EventPayload]], tuple[Notification, ...]]
                      | None = None, *, refuse_erased: bool = False) -> list[EventPayload]:
        """Decide with `step` on the current state, append, apply and react; return what
        was recorded. `DomainError` from the step reaches the caller, nothing recorded.

        - Another writer got there first: re-read the stream and decide again.
        - Personal data about an erased person: refused (`refuse_erased`, a caseworker's
          command) or recorded without that person's data (signals, timers, episodes).
        - The store cannot be reached: let go of the lock, wait, decide again.
        """
        erased: frozenset[str] = frozenset()
        backoff = self._input.outage_backoff
        # Every event id this step tried, over all its rounds: an append that committed
        # but whose answer was lost in an outage is found by them in a later round,
        # which draws new ids (see `_stored_by_lost_attempt`).
        tried: set[uuid.UUID] = set()
        while True:
            async with self._lock:
                conflicts = 0
                while True:
                    decided_at = workflow.now()
                    payloads = step(self._state)
                    if erased:
                        payloads = [without_personal_data_of(p, erased) for p in payloads]
                    if not payloads:
                        return []
                    notes = notifications(payloads) if notifications else ()
                    try:
                        await self._append(payloads, actor, notes)
                    except FailureError as error:
                        failure = failure_type(error)
                        if failure in ("ConcurrencyError", "EventIdConflictError"):
                            conflicts += 1
                            if conflicts > CONFLICTS_PER_ROUND:
                                break
                            caught_up = await self._catch_up()
                            if workflow.patched(OWN_LOST_APPEND_PATCH):
                                stored = self._stored_by_lost_attempt(caught_up, tried)
                                if stored:
                                    return stored
                            continue
                        if failure == "EventDataRejectedError":
                            # Data the store cannot hold: refused, answered and logged;
                            # nothing written, and the case goes on.
                            workflow.logger.warning("refused: the store cannot hold this data",
                                                    extra={"case_id": self._case_id})
                            raise _refused(DomainError(
                                "the event store cannot hold this data (for example a NUL "
                                "character in a text); nothing was recorded",
                                code="unstorable")) from error
                        if failure == "SubjectErasedError":
                            subjects = self._erased_subjects(error)
                            if refuse_erased or not subjects or subjects <= erased:
                                raise self._erased_refusal(error) from error
                            workflow.logger.warning("recording without erased data", extra={
                                "case_id": self._case_id, "subjects": sorted(subjects)})
                            erased |= subjects
                            continue
                        raise
                    except _StoreUnavailable:
                        tried.update(self._attempted_ids)
                        break
                    if self._one_append:
                        # Every step records its consequences with it (see `_decision`).
                        self._settled = (self._state.version, decided_at)
                    await self._react(payloads)
                    return payloads
            # Outside the lock: queries, and handlers that need no append, go on.
            workflow.logger.warning("event store unavailable; deciding again later", extra={
                "case_id": self._case_id, "retry_in_s": backoff.total_seconds()})
            await workflow.sleep(backoff, summary=self._summary(
                "event store unavailable: deciding again after this wait"))
            backoff = min(backoff * 2, OUTAGE_BACKOFF_MAX)

    def _stored_by_lost_attempt(self, caught_up: list[RecordedEvent],
                                tried: set[uuid.UUID]) -> list[EventPayload]:
        """What an earlier attempt of this very step stored, if it did.

        The append is a local activity: it runs inside the workflow task, so when that
        task is lost after the append committed (a worker that died or stalled past the
        task's time-out), the task's next attempt runs the step again, at a later
        `workflow.now()`, and draws the same event ids (they are deterministic). The
        store then holds those ids with other content (`EventIdConflictError`). No other
        writer can hold them (they are unique to this run and draw), so what is stored
        under them is this step, recorded once: it stands, and the step is not decided a
        third time on the state that now includes it (a repeatable command, a contact
        attempt or an evaluation, would otherwise be recorded twice).

        The same holds across rounds (`tried`): an append that committed while the
        outage took its answer is met in the next round as a `ConcurrencyError` (that
        round drew new ids), and what the earlier round stored stands likewise."""
        mine = tried | set(self._attempted_ids)
        return [e.payload for e in caught_up if e.event_id in mine]

    def _erased_subjects(self, error: FailureError) -> frozenset[str]:
        failure = application_failure(error)
        details = failure.details if failure is not None else ()
        return frozenset(d for d in details if isinstance(d, str))

    def _erased_refusal(self, error: FailureError) -> ApplicationError:
        workflow.logger.warning("refused: personal data of an erased person", extra={
            "case_id": self._case_id, "subjects": sorted(self._erased_subjects(error))})
        return _refused(DomainError(
            "this would record personal data of a person whose data was erased on request; "
            "leave their personal details out, or register them as a new person if they "
            "gave new consent", code="subject_erased"))

    async def _append(self, payloads: list[EventPayload], actor: str,
                      notifications: tuple[Notification, ...]) -> None:
        """Persist `payloads` (one activity, one transaction) and apply them."""
        info = workflow.info()
        metadata = EventMetadata(actor=actor, workflow_id=info.workflow_id, run_id=info.run_id)
        now = workflow.now()
        events = [new_event(p, event_id=self._event_id(), now=now, metadata=metadata)
                  for p in payloads]
        self._attempted_ids = [e.event_id for e in events]
        try:
            request = AppendEventsInput(
                stream_id=self._stream_id, case_id=self._case_id,
                expected_version=self._state.version, events=events,
                notifications=list(notifications))
            # A local activity: the append runs in this worker within the workflow task,
            # with no round trip through the server's task queue. It is short and
            # idempotent on event ids (a retried task replays the same ids), which is
            # what local activities are for.
            run = (workflow.execute_local_activity if self._one_append
                   else workflow.execute_activity)
            result: AppendEventsResult = await run(
                "append_events", request, result_type=AppendEventsResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(initial_interval=APPEND_FIRST_RETRY,
                                         backoff_coefficient=2.0,
                                         maximum_interval=APPEND_MAX_RETRY,
                                         maximum_attempts=self._input.append_attempts),
                summary=self._summary(_append_summary(payloads)))
        except FailureError as error:
            if failure_type(error) in STORE_REFUSALS:
                raise
            raise _StoreUnavailable() from error
        state = self._state
        for payload in payloads:
            state = evolve(state, payload, now)
        if result.last_version != state.version:
            raise RuntimeError(f"store is at version {result.last_version}, "
                               f"state at {state.version}")
        self._state = state

    def _event_id(self) -> uuid.UUID:
        """A new event's id: deterministic on replay, and unique across runs. The random
        sequence of `workflow.uuid4()` may start over in a run continued as new (it does
        on the test server), and the store refuses an id it already holds with other
        content; the run id tells the runs apart."""
        drawn = workflow.uuid4()
        if not workflow.patched(RUN_UNIQUE_IDS_PATCH):
            return drawn  # runs from before the patch used the draw itself
        return uuid.uuid5(uuid.UUID(workflow.info().run_id), drawn.hex)

    async def _catch_up(self) -> list[RecordedEvent]:
        """Fold what another writer appended (a retried append that did land, an operator
        tool) and react to it, so its episodes run too; the events folded."""
        events = await self._read_stream(self._state.version)
        self._state = fold(events, self._state)
        workflow.logger.info("caught up with the store", extra={
            "case_id": self._case_id, "version": self._state.version})
        await self._react([e.payload for e in events])
        return events

    async def _read_stream(self, from_version: int) -> list[RecordedEvent]:
        if not workflow.patched(PAGED_READS_PATCH):
            # Runs from before paging read their stream in one activity.
            return await self._read_page(from_version, None)
        events: list[RecordedEvent] = []
        while True:
            page = await self._read_page(from_version, READ_PAGE_EVENTS)
            events.extend(page)
            if len(page) < READ_PAGE_EVENTS:
                return events
            from_version = page[-1].version

    async def _read_page(self, from_version: int, limit: int | None) -> list[RecordedEvent]:
        events: list[RecordedEvent] = await workflow.execute_activity(
            "read_stream", ReadStreamInput(stream_id=self._stream_id,
                                           from_version=from_version, limit=limit),
            result_type=list[RecordedEvent],
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY,
            summary=self._summary(f"read the case's events from version {from_version}"))
        return events

    # -- reactions: what the workflow does about recorded events -------------------------

    async def _react(self, payloads: list[EventPayload]) -> None:
        """Start the ladder of each episode just opened; tell an episode that ended."""
        for payload in payloads:
            if isinstance(payload, StagnationFound):
                workflow.logger.info("stagnation found", extra={
                    "case_id": self._case_id, "rule": payload.rule.value, "key": payload.key})
            elif isinstance(payload, EscalationOpened):
                await self._start_episode(payload)
            elif isinstance(payload, EscalationResolved | EscalationClosed):
                reason = (payload.reason if isinstance(payload, EscalationClosed)
                          else f"resolved by {payload.by} at level {payload.level}")
                child = workflow.get_external_workflow_handle(
                    episode_workflow_id(self._case_id, payload.episode_id))
                try:
                    await child.signal(EpisodeInbox.end, EpisodeEnded(reason=reason))
                except FailureError:
                    # The episode's workflow is gone already (it failed, or an operator
                    # ended it); the event above is what counts.
                    workflow.logger.warning("episode workflow not running", extra={
                        "case_id": self._case_id, "episode_id": payload.episode_id})

    async def _start_episode(self, opened: EscalationOpened) -> None:
        episode = self._state.episode(opened.episode_id)
        if episode is None or episode.status is not EpisodeStatus.OPEN:
            return  # it closed in the same append (caught up from the store)
        finding = next(f for f in reversed(self._state.findings)
                       if f.ref == opened.finding_key)
        terms = LadderTerms.of(self._require_policy())
        try:
            # ABANDON: the episode outlives this run when the trajectory continues
            # as new; it signals the trajectory by workflow id, so the new run gets it.
            child_run = await workflow.start_child_workflow(
                EscalationEpisodeWorkflow.run,
                EpisodeInput(case_id=self._case_id, episode_id=opened.episode_id,
                             region_id=terms.region_id,
                             parent_workflow_id=workflow.info().workflow_id,
                             coordinator_id=self._state.coordinator_id,
                             concerned_professional_id=opened.concerned_professional_id,
                             opened_because=finding.evidence,
                             stagnated_at=stagnation_start(self._state, episode),
                             terms=terms),
                id=episode_workflow_id(self._case_id, opened.episode_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON)
        except WorkflowAlreadyStartedError:
            return  # started by the run that recorded it
        self._episode_terms[opened.episode_id] = terms
        child_run.add_done_callback(self._episode_finished)

    def _episode_finished(self, run: asyncio.Future[EpisodeOutcome]) -> None:
        # Nobody awaits an episode's result: its steps reach the case as signals. Take
        # the outcome here so a failed or terminated episode is logged once, plainly.
        if run.cancelled():
            return
        error = run.exception()
        if error is not None:
            workflow.logger.warning("escalation episode did not complete", extra={
                "case_id": self._case_id, "error": str(error)})

    def _notification(self, key: str, recipient_id: str, role: RecipientRole,
                      organisation_id: str | None, message: str) -> Notification:
        return Notification(
            idempotency_key=f"{self._case_id}:{key}", recipient_id=recipient_id, role=role,
            organisation_id=organisation_id, case_id=self._case_id,
            case_link=f"/v1/trajectories/{self._case_id}", message=message)

    # -- signals: from escalation episodes (TrajectoryInbox) and from partners ------------

    @workflow.signal
    async def escalation_step(self, step: LevelStep) -> None:
        await workflow.wait_condition(lambda: self._ready)
        note = self._notification(
            f"{step.episode_id}:level-{step.level}", step.assignee_id, step.role,
            step.organisation_id,
            f"Opschaling {step.episode_id} (case {self._case_id}) is with you at level "
            f"{step.level}; respond by "
            f"{local_text(step.deadline, self._require_policy().time_zone)}. {step.reason}")
        await self._record_from_episode(
            step.episode_id, "escalation_step",
            lambda s, terms, calendar: step_mismatch(s, step, now=workflow.now(), terms=terms,
                                                     calendar=calendar),
            lambda s: record_step(s, step), note)

    @workflow.signal
    async def escalation_alert(self, alert: RegionAlert) -> None:
        await workflow.wait_condition(lambda: self._ready)
        note = self._notification(
            f"{alert.episode_id}:alert-{alert.reminder}", alert.region_id,
            RecipientRole.REGION, alert.organisation_id,
            f"Region {alert.region_id}: escalation {alert.episode_id} of case "
            f"{self._case_id} passed its last deadline without a decision "
            f"(reminder {alert.reminder}); next reminder "
            f"{local_date(alert.next_reminder, self._require_policy().time_zone)}.")
        await self._record_from_episode(
            alert.episode_id, "escalation_alert",
            lambda s, terms, calendar: alert_mismatch(s, alert, now=workflow.now(), terms=terms,
                                                      calendar=calendar),
            lambda s: record_alert(s, alert), note)

    async def _record_from_episode(self, episode_id: str, signal: str, mismatch: Mismatch,
                                   step: Step, note: Notification) -> None:
        """Record an episode's message, with its notification, when it is one the
        episode's ladder could have sent; otherwise log what does not match and record
        nothing. Decided under the lock, on the state the message would change."""
        if not self._check_messages:
            # Runs from before the patch recorded each message as it came.
            await self._record(self._with_consequences(step), "system:escalation",
                               lambda _: (note,))
            return
        problem: str | None = None

        def checked(state: TrajectoryState) -> list[EventPayload]:
            nonlocal problem
            terms = self._episode_terms.get(episode_id) or LadderTerms.of(
                self._require_policy())  # episodes started before the terms were kept
            problem = mismatch(state, terms, self._calendar(terms.time_zone))
            return [] if problem is not None else step(state)

        while True:
            try:
                await self._record(self._with_consequences(checked), "system:escalation",
                                   lambda _: (note,))
                break
            except CalendarRangeError as error:
                # The holidays of that year are not loaded: fetch them and decide again.
                await self._load_holidays(error.day)
        if problem is not None:
            # Ids and instants only: the message's names and reasons may be anything.
            workflow.logger.warning("escalation message not recorded: it does not match "
                                    "the episode's ladder", extra={
                                        "case_id": self._case_id, "episode_id": episode_id,
                                        "signal": signal, "mismatch": problem})

    def _calendar(self, time_zone: str) -> WorkingDayCalendar:
        if self._holidays is None:
            raise CalendarRangeError("no holidays loaded yet",
                                     day=local_date(workflow.now(), time_zone))
        holidays, years = self._holidays
        return WorkingDayCalendar(holidays, years=years, time_zone=time_zone)

    async def _load_holidays(self, day: date) -> None:
        """The holidays of `day`'s year and the next ones, with those loaded already.
        From the `dutch_holidays` activity, as the episode has them: the dates are then
        in this run's history too, so a replay counts with the same ones."""
        first, last = day.year - 1, day.year + CALENDAR_YEARS - 1
        if self._holidays is not None:
            known = self._holidays[1]
            first, last = min(first, known.start), max(last, known.stop - 1)
        holidays: list[date] = await workflow.execute_activity(
            "dutch_holidays", HolidaysRequest(first_year=first, last_year=last),
            result_type=list[date], start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY, summary=self._summary(f"Dutch holidays {first}-{last}"))
        self._holidays = (holidays, range(first, last + 1))

    @workflow.signal
    def personal_data_erased(self, erased: PersonalDataErased) -> None:
        """A person of this case was erased (`regie erase-subject`): continue as new, so
        the live run no longer holds what the store no longer gives."""
        workflow.logger.info("personal data erased; starting afresh from the store",
                             extra={"case_id": self._case_id})
        self._start_afresh = True

    @workflow.signal
    async def partner_signal(self, signal: PartnerSignal) -> None:
        if self._handing_over:
            self._carried.append(signal)
            return
        await workflow.wait_condition(lambda: self._ready)
        await self._partner_signal(signal)

    async def _partner_signal(self, signal: PartnerSignal) -> None:
        try:
            await self._record(self._decision(signal), f"partner:{signal.organisation}")
        except DomainError as error:
            # A signal has nobody to answer: log the refusal, never fail the trajectory.
            workflow.logger.warning("partner signal refused", extra={
                "case_id": self._case_id, "code": error.code, "reason": error.message})
        except ApplicationError as error:
            workflow.logger.warning("partner signal refused", extra={
                "case_id": self._case_id, "reason": error.message})

    # -- updates: the referral, and one per row of the command table --------------------

    @workflow.update
    async def refer(self, input: ReferInput) -> CommandResult:
        return await self._execute(input.command, input.actor)

    @refer.validator
    def _v_refer(self, input: ReferInput) -> None:
        self._validate(input.command)

    def _update_handler(self, row: CommandRow) -> Callable[[RawValue], object]:
        async def handle(payload: RawValue) -> CommandResult:
            command = self._decode(row, payload)
            return await self._execute(command, _actor_of(command))
        return handle

    def _update_validator(self, row: CommandRow) -> Callable[[RawValue], None]:
        def validate(payload: RawValue) -> None:
            command = self._decode(row, payload)
            _actor_of(command)
            self._validate(command)
        return validate

    def _decode(self, row: CommandRow, payload: RawValue) -> Command:
        try:
            command = workflow.payload_converter().from_payload(payload.payload, row.model)
        except ValidationError as error:
            # Locations and messages only: the input may hold personal data.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in error.errors(include_input=False, include_url=False))
            raise ApplicationError(f"invalid {row.update}: {problems}", "invalid_command",
                                   type="DomainError", non_retryable=True) from None
        if not isinstance(command, row.model):
            raise ApplicationError(f"invalid {row.update}", "invalid_command",
                                   type="DomainError", non_retryable=True)
        return command

    def _check_case(self, command: Command) -> None:
        if isinstance(command, ReferFamily) and command.case_id != self._case_id:
            raise ApplicationError(
                f"this is the trajectory of case {self._case_id}; the referral names case "
                f"{command.case_id}", type="DomainError", non_retryable=True)

    def _validate(self, command: Command) -> None:
        # Before the run is ready (its first moments) the handler decides instead.
        if not self._ready:
            return
        self._check_case(command)
        try:
            decide(command, self._state, self._context())
        except DomainError as error:
            raise _refused(error) from error

    async def _execute(self, command: Command, actor: str) -> CommandResult:
        await workflow.wait_condition(lambda: self._ready)
        # `decide` runs again in `_record` under the lock; the one check it does not
        # repeat is the case id, which the validator skipped if the run was not ready yet.
        self._check_case(command)
        caseload = None
        member_id = row_for(command).caseload_member(command)
        if member_id is not None:
            caseload = await workflow.execute_activity(
                "coordinator_caseload",
                CaseloadRequest(member_id=member_id, case_id=self._case_id),
                result_type=int, start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
                summary=self._summary(f"caseload of coordinator {member_id}"))
        try:
            payloads = await self._record(self._decision(command, caseload), actor,
                                          refuse_erased=True)
        except DomainError as error:  # the state moved since validation
            raise _refused(error) from error
        workflow.logger.info("command handled", extra={
            "case_id": self._case_id, "command": type(command).__name__,
            "events": [type(p).__name__ for p in payloads]})
        return CommandResult(case_id=self._case_id, version=self._state.version,
                             recorded=bool(payloads))
