"""The stack's restart decision: now, after a growing wait, or give up."""

from __future__ import annotations

import pytest

from infra.restart_policy import GiveUp, RestartAfter, RestartPolicy, decide

POLICY = RestartPolicy(max_restarts=4, window_seconds=60, initial_backoff_seconds=1,
                       max_backoff_seconds=3)


def test_a_first_crash_is_restarted_at_once() -> None:
    assert decide(POLICY, [100.0], now=100.0) == RestartAfter(0.0, attempt=1)


def test_crashes_in_a_row_wait_longer_each_time_up_to_the_cap() -> None:
    exits: list[float] = []
    decisions = []
    for at in (0.0, 1.0, 2.0, 3.0):
        exits.append(at)
        decisions.append(decide(POLICY, exits, now=at))
    assert decisions == [RestartAfter(0.0, 1), RestartAfter(1.0, 2), RestartAfter(2.0, 3),
                         RestartAfter(3.0, 4)]


def test_one_crash_too_many_within_the_window_gives_up_and_says_why() -> None:
    decision = decide(POLICY, [0.0, 1.0, 2.0, 3.0, 4.0], now=4.0)
    assert decision == GiveUp("it exited 5 times within 60 s")


def test_crashes_older_than_the_window_are_forgiven() -> None:
    assert decide(POLICY, [0.0, 1.0, 2.0, 3.0, 100.0], now=100.0) == RestartAfter(0.0, 1)


def test_without_restarts_the_first_crash_gives_up() -> None:
    assert isinstance(decide(RestartPolicy(max_restarts=0), [5.0], now=5.0), GiveUp)


@pytest.mark.parametrize("options", [{"max_restarts": -1}, {"window_seconds": 0},
                                     {"initial_backoff_seconds": 5, "max_backoff_seconds": 1}])
def test_a_policy_that_makes_no_sense_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        RestartPolicy(**options)  # type: ignore[arg-type]
