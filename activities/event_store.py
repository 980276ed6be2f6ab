"""Activities that reach the event store. Workflows append and read only through these."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.events import NewEvent, RecordedEvent
from domain.notifications import Notification
from infra.event_store import (
    ConcurrencyError,
    EventDataRejectedError,
    EventIdConflictError,
    EventStore,
    SubjectErasedError,
)
from infra.structured_logging import get_logger

log = get_logger(__name__)


class AppendEventsInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    stream_id: str
    expected_version: int = Field(ge=0)
    events: list[NewEvent]
    # Written to the outbox in the same transaction as `events`: a step and the news of
    # it are recorded together or not at all (a retried activity writes them once).
    notifications: list[Notification] = []
    case_id: str | None = None  # for log lines only


class AppendEventsResult(BaseModel):
    positions: list[int]
    last_version: int
    already_stored: bool


class ReadStreamInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    stream_id: str
    from_version: int = Field(default=0, ge=0)
    # A page: an activity's result must stay far below Temporal's payload limit (2 MB),
    # however long a family's stream grows. None: all (runs from before paging).
    limit: int | None = Field(default=None, ge=1)


class EventStoreActivities:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    @activity.defn(name="append_events")
    async def append_events(self, input: AppendEventsInput) -> AppendEventsResult:
        info = activity.info()
        try:
            result = await self._store.append(input.stream_id, input.expected_version,
                                              input.events, input.notifications)
        except (ConcurrencyError, EventIdConflictError, EventDataRejectedError) as error:
            # Retrying cannot fix these: the workflow must decide again (or refuse what
            # the store cannot hold), so fail at once, never holding the case's lock
            # across an endless retry.
            raise ApplicationError(str(error), type=type(error).__name__,
                                   non_retryable=True) from error
        except SubjectErasedError as error:
            # The erased subjects' ids travel as details (typed, not parsed out of the
            # message), so the workflow can record the event without their data.
            raise ApplicationError(str(error), *error.subjects, type=type(error).__name__,
                                   non_retryable=True) from error
        log.info("events_appended", stream_id=input.stream_id, case_id=input.case_id,
                 workflow_id=info.workflow_id, positions=result.positions,
                 notifications=len(input.notifications),
                 already_stored=result.already_stored, attempt=info.attempt)
        return AppendEventsResult(positions=result.positions, last_version=result.last_version,
                                  already_stored=result.already_stored)

    @activity.defn(name="read_stream")
    async def read_stream(self, input: ReadStreamInput) -> list[RecordedEvent]:
        return await self._store.read_stream(input.stream_id, input.from_version,
                                             input.limit)
