"""A case's state for deciding the rights of a command, without reading it all each time.

A command's rights (`domain.access.check_command`) depend on who is on the case (team,
coordinator, escalation episodes, referring organisations), never on personal data. So
the gateway folds the case from its events read *withheld* (every personal field as
erased: no subject key fetched, nothing decrypted) and keeps the folded state per case,
with the stream version it was folded up to. The next command on that case reads only
the events after that version and folds them onto it.

Why this is exact: events are immutable and a stream is append-only (triggers refuse
UPDATE, DELETE and TRUNCATE), so the events up to a version never change, and every
command still reads the store for what came after; another gateway's or a worker's
appends are seen as they would be by a full read.

Why it may be kept: the state holds no personal data (read withheld), so erasing a person
(crypto-shredding) leaves nothing in it to destroy. Reads of a case (`readable`, the
workspace's pages) do not come here: they fold the events with personal data as it is
now, every time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from domain.events import RecordedEvent
from domain.trajectory import TrajectoryState, fold

# Cases whose states are kept (least recently used first out). A state is a few kB to a
# few tens of kB for a long case; this bounds the memory at tens of MB, and a case not
# kept costs one full (withheld) read, as before.
CASES_KEPT = 1024

ReadWithheld = Callable[[str, int], Awaitable[list[RecordedEvent]]]


@dataclass(frozen=True)
class _Folded:
    version: int  # the last stream version folded in
    state: TrajectoryState


class RightsStates:
    def __init__(self, read_withheld: ReadWithheld, capacity: int = CASES_KEPT) -> None:
        """`read_withheld(case_id, after_version)`: the case's events after that version,
        personal fields withheld."""
        self._read = read_withheld
        self._capacity = capacity
        self._kept: OrderedDict[str, _Folded] = OrderedDict()

    def kept(self, case_id: str) -> TrajectoryState | None:
        """The state kept for `case_id`, possibly behind the store (a guess, for work
        that can start before `state` answers; never for deciding)."""
        folded = self._kept.get(case_id)
        return None if folded is None else folded.state

    async def state(self, case_id: str) -> TrajectoryState | None:
        """The case as its stored events say now, personal fields withheld; None when it
        has no events."""
        folded = self._kept.get(case_id)
        after = 0 if folded is None else folded.version
        events = await self._read(case_id, after)
        if not events:
            if folded is None:
                return None
            self._kept.move_to_end(case_id)
            return folded.state
        state = fold(events, folded.state if folded is not None else None)
        newer = _Folded(events[-1].version, state)
        # Requests on one case may overlap: keep whichever saw the most of the stream.
        current = self._kept.get(case_id)
        if current is None or current.version < newer.version:
            self._kept[case_id] = newer
        self._kept.move_to_end(case_id)
        while len(self._kept) > self._capacity:
            self._kept.popitem(last=False)
        return state
