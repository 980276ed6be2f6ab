"""What follows by itself from a trajectory's state: the reaction step of the domain.

After a command's events (or a timer firing, or a step of an escalation episode), some
facts follow without anyone asking: a deadline that has passed, a stagnation rule that
now holds, an escalation episode that a finding opens or that a cleared cause closes.
`consequences` collects all of them, each applied before the next is looked for, so the
workflow records a command together with everything it sets off in one append.
"""

from __future__ import annotations

from datetime import datetime

from domain.deadlines import due_events
from domain.events import EventPayload
from domain.policy import RegionPolicy
from domain.trajectory import TrajectoryState, evolve

# Each round records at least one event that removes its own cause (domain.deadlines),
# so the rounds end; the bound turns a rule that never settles into a clear error
# instead of a workflow task that loops.
MAX_ROUNDS = 200


class UnsettledRulesError(RuntimeError):
    pass


def consequences(state: TrajectoryState, now: datetime, policy: RegionPolicy
                 ) -> list[EventPayload]:
    """Every event due by `now` on `state`, in the order it is due."""
    found: list[EventPayload] = []
    for _ in range(MAX_ROUNDS):
        step = due_events(state, now, policy)
        if not step:
            return found
        for payload in step:
            state = evolve(state, payload, now)
        found.extend(step)
    raise UnsettledRulesError(
        f"the deadline and escalation rules did not settle after {MAX_ROUNDS} rounds; "
        f"last round: {[type(p).__name__ for p in step]}")


def with_consequences(state: TrajectoryState, payloads: list[EventPayload], now: datetime,
                      policy: RegionPolicy) -> list[EventPayload]:
    """`payloads` followed by what they set off; nothing when `payloads` is empty (a
    command already carried out records nothing, not even a due deadline)."""
    if not payloads:
        return []
    after = state
    for payload in payloads:
        after = evolve(after, payload, now)
    return [*payloads, *consequences(after, now, policy)]
