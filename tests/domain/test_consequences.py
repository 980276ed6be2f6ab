"""What follows by itself from a state: collected in one go, in the order it is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.command_table import decide
from domain.commands import ReportStagnation
from domain.consequences import consequences, with_consequences
from domain.deadlines import due_events
from domain.decision import DecisionContext
from domain.events import EscalationOpened, PartnerSignalRecorded, StagnationFound
from domain.family import family_subject
from domain.personal import Erased, without_personal_data_of
from domain.policy import RegionPolicy
from domain.trajectory import TrajectoryState, evolve
from tests.factories import refer_family

POLICY = RegionPolicy()
REFERRED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def referred(case_id: str = "case-1") -> TrajectoryState:
    ctx = DecisionContext(now=REFERRED_AT, policy=POLICY)
    state = TrajectoryState()
    for event in decide(refer_family(case_id), state, ctx):
        state = evolve(state, event, REFERRED_AT)
    return state


def test_a_passed_deadline_and_the_episode_it_opens_come_together() -> None:
    late = REFERRED_AT + timedelta(weeks=POLICY.waiting_norm_intake_weeks, days=1)
    state = referred()
    # `due_events` gives one round (the finding); `consequences` every round after it.
    assert [type(e) for e in due_events(state, late, POLICY)] == [StagnationFound]
    found = consequences(state, late, POLICY)
    assert [type(e) for e in found] == [StagnationFound, EscalationOpened]
    after = state
    for event in found:
        after = evolve(after, event, late)
    assert consequences(after, late, POLICY) == []


def test_a_command_is_recorded_with_what_it_sets_off_and_a_no_op_sets_off_nothing() -> None:
    state = referred()
    now = REFERRED_AT + timedelta(days=1)
    report = ReportStagnation(actor="coordinator:pro-1", reported_by="pro-1",
                              description="het plan staat stil")
    decided = decide(report, state, DecisionContext(now=now, policy=POLICY))
    recorded = with_consequences(state, decided, now, POLICY)
    assert recorded[: len(decided)] == decided
    assert [type(e) for e in recorded[len(decided):]] == [EscalationOpened]
    # Nothing decided: not even a deadline that happens to be due is recorded with it.
    far = REFERRED_AT + timedelta(days=400)
    assert with_consequences(state, [], far, POLICY) == []


def test_personal_data_of_an_erased_subject_is_left_out_and_the_fact_kept() -> None:
    subject = family_subject("case-1")
    signal = PartnerSignalRecorded(idempotency_key="k-1", organisation="GGD", kind="concern",
                                   subject=subject, description="zorgen thuis",
                                   acted_on=False, note="noted for the care coordinator")
    assert without_personal_data_of(signal, frozenset({"someone-else"})) is signal
    kept = without_personal_data_of(signal, frozenset({subject}))
    assert kept.description == Erased()
    assert kept.model_copy(update={"description": "zorgen thuis"}) == signal
