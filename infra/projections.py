"""The read models the projector keeps, and rebuilding one from the start of the log.

`PROJECTIONS` maps each subscriber name (its row in `subscription_checkpoints`) to a
function that makes a new projection: the projector runs them all, `regie projections
rebuild` rebuilds one. A new read model is one line here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from infra import case_list, closures, escalation_board, plan_adoptions, trajectory_overview
from infra.event_store import EventBatch, PostgresEventStore
from infra.pgtypes import Conn
from infra.subscription import CatchUpSubscription, Projection

PROJECTIONS: dict[str, Callable[[], Projection]] = {
    trajectory_overview.SUBSCRIBER: trajectory_overview.TrajectoryOverviewProjection,
    case_list.SUBSCRIBER: case_list.CaseListProjection,
    escalation_board.SUBSCRIBER: escalation_board.EscalationBoardProjection,
    closures.SUBSCRIBER: closures.ClosuresProjection,
    plan_adoptions.SUBSCRIBER: plan_adoptions.PlanAdoptionsProjection,
}

# Positions of the log per batch in a rebuild. Larger than a live subscriber's batch:
# there is no latency to keep low, and each batch costs a few round trips whatever its
# size. Bounded, because a batch's rows are held in memory at once.
REBUILD_BATCH = 5000


class UnknownProjectionError(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"no read model named {self.name!r}; known: {', '.join(sorted(PROJECTIONS))}"


@dataclass(frozen=True)
class RebuildFigures:
    events: int  # positions of the log passed over
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


async def rebuild(store: PostgresEventStore, name: str, *,
                  on_progress: Callable[[int, int], None] | None = None,
                  batch_size: int = REBUILD_BATCH) -> RebuildFigures:
    """Empty the read model `name`, set its checkpoint back to 0 and catch up with the
    whole log; `on_progress(done, total)` after each batch.

    One transaction: readers of the read model (the caseload check) see the old rows
    until the rebuilt ones commit, never a half-built table, and a failed rebuild leaves
    the old read model and checkpoint as they were. The projector's subscriber of the
    same name waits on the checkpoint row meanwhile, then goes on from where the rebuild
    ended. Events appended during the rebuild are left for that subscriber: the total
    is the log's length when the rebuild started.
    """
    make = PROJECTIONS.get(name)
    if make is None:
        raise UnknownProjectionError(name)
    projection = make()
    subscription = CatchUpSubscription(store, name, projection, batch_size=batch_size)
    started = time.perf_counter()
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO subscription_checkpoints (subscriber) VALUES ($1)
               ON CONFLICT (subscriber) DO NOTHING""", name)
        # Taken first, as every subscriber batch does: no batch of the running projector
        # is half-way while the table is emptied.
        await conn.execute(
            "SELECT 1 FROM subscription_checkpoints WHERE subscriber = $1 FOR UPDATE", name)
        await projection.reset(conn)
        await conn.execute(
            """UPDATE subscription_checkpoints SET position = 0, updated_at = now()
               WHERE subscriber = $1""", name)
        total: int = await conn.fetchval("SELECT count(*) FROM events")
        if on_progress is not None:
            on_progress(0, total)
        # Reading ahead needs a second connection; a pool of one reads and applies in turn.
        if store.pool.get_max_size() < 2:
            done = await _apply_all(subscription, conn, None, total, on_progress)
        else:
            async with store.pool.acquire() as reader:
                done = await _apply_all(subscription, conn, reader, total, on_progress)
    return RebuildFigures(done, time.perf_counter() - started)


async def _apply_all(subscription: CatchUpSubscription, conn: Conn, reader: Conn | None,
                     total: int, on_progress: Callable[[int, int], None] | None) -> int:
    """Apply batches on `conn` until `total` positions are passed; returns how many were.

    With a `reader` (a second connection), the next batch is fetched on it while this one
    is applied: the database finds and sends a batch while this process decodes and folds
    the one before, instead of each waiting for the other (about 7% of a rebuild)."""
    done = position = 0
    ahead: asyncio.Future[EventBatch] | None = None
    try:
        while done < total:
            batch = await (ahead if ahead is not None
                           else subscription.read_next(conn, position))
            if not batch.passed:
                break
            position = batch.last_position
            if reader is not None:
                ahead = asyncio.ensure_future(subscription.read_next(reader, position))
            await subscription.apply(conn, batch)
            done += batch.passed
            if on_progress is not None:
                on_progress(min(done, total), total)
    finally:
        if ahead is not None:
            # The read past the end (or past a failure) is not wanted, nor is its error.
            ahead.cancel()
            await asyncio.wait([ahead])
            if not ahead.cancelled():
                ahead.exception()
    return done
