"""Stagnation rules (domain.stagnation): typed findings, their identity, and findings
stored under schema v1 (a `key` string per rule) read as the typed models."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.commands import CompleteAgreement, RecordContactAttempt
from domain.deadlines import due_events, end_of_day
from domain.event_codec import DOMAIN_CODEC
from domain.events import (
    EVENT_ADAPTER,
    EscalationClosed,
    EscalationOpened,
    EventPayload,
    StagnationFound,
    StagnationRule,
)
from domain.policy import RegionPolicy
from domain.stagnation import (
    RULES,
    AgreementOverdue,
    EvaluationOverdue,
    FamilyUnreachable,
    NoProgress,
    PlanNotAdopted,
    Reported,
    StagnationAbout,
    WaitingNormCareStart,
    WaitingNormIntake,
    WrittenCopyOverdue,
)
from domain.trajectory import evolve
from domain.upcasting import JsonDict, UpcastError, upcast_v1_v2
from tests.domain.test_decide import ACTOR, PLAN_AT, Story, agreement, plan, planned

DUE = date(2025, 4, 15)


def settle(story: Story, at: datetime) -> list[EventPayload]:
    """What the workflow appends at `at`: due events, escalation bookkeeping included,
    asked for again until nothing is due."""
    events: list[EventPayload] = []
    for _ in range(20):
        more = due_events(story.state, at, story.policy)
        if not more:
            story.now = at
            return events
        for event in more:
            story.state = evolve(story.state, event, at)
        events += more
    raise AssertionError("due events keep coming")


def v1(rule: str, key: str) -> JsonDict:
    """A StagnationFound as schema v1 stored it."""
    return {"type": "StagnationFound", "rule": rule, "key": key, "evidence": "as found",
            "due": "2025-04-16T00:00:00Z", "subject": "", "details": None}


# -- an id with ':' ---------------------------------------------------------------------


def test_an_overdue_agreement_whose_id_has_a_colon_opens_and_closes_its_episode() -> None:
    story = planned(plan(agreements=(agreement("a:1", due=DUE),)))
    found, opened = settle(story, end_of_day(DUE))
    assert isinstance(found, StagnationFound)
    assert found.about == AgreementOverdue(agreement_id="a:1", due=DUE)
    assert opened == EscalationOpened(
        episode_id="ep-1", rule=StagnationRule.AGREEMENT_OVERDUE,
        finding_key="agreement_overdue:agreement:a:1:2025-04-15",
        concerned_professional_id="pro-1")

    story.do(CompleteAgreement(actor=ACTOR, agreement_id="a:1"),
             at=end_of_day(DUE) + timedelta(hours=9))
    assert settle(story, story.now) == [EscalationClosed(
        episode_id="ep-1", reason="the cause cleared: agreement a:1 was done")]


# -- policy keys ------------------------------------------------------------------------


@pytest.mark.parametrize("rule", list(StagnationRule))
def test_the_policy_keys_a_rule_declares_are_region_policy_fields(
        rule: StagnationRule) -> None:
    missing = [k for k in RULES[rule].policy_keys if k not in RegionPolicy.model_fields]
    assert missing == []


# -- schema v1 --------------------------------------------------------------------------


V1_KEYS: list[tuple[str, str, StagnationAbout]] = [
    ("waiting_norm_intake", "intake", WaitingNormIntake()),
    ("waiting_norm_care_start", "care_start", WaitingNormCareStart()),
    ("plan_not_adopted", "plan:2025-04-28", PlanNotAdopted(deadline=date(2025, 4, 28))),
    ("evaluation_overdue", "evaluation:v2:2025-05-01",
     EvaluationOverdue(plan_version=2, evaluation_date=date(2025, 5, 1))),
    ("agreement_overdue", "agreement:a-1:2025-04-15",
     AgreementOverdue(agreement_id="a-1", due=DUE)),
    ("agreement_overdue", "agreement:a:1:b:2025-04-15",
     AgreementOverdue(agreement_id="a:1:b", due=DUE)),
    ("written_copy_overdue", "copy:2025-04-07", WrittenCopyOverdue(due=date(2025, 4, 7))),
    ("no_progress", "evaluations-from:3", NoProgress(first_evaluation=3)),
    ("family_unreachable", "unreachable-since:2025-04-01T09:30:05",
     FamilyUnreachable(since=datetime(2025, 4, 1, 9, 30, 5, tzinfo=UTC))),
    ("reported", "report-2", Reported(report=2)),
]


@pytest.mark.parametrize(("rule", "key", "about"), V1_KEYS)
def test_a_v1_finding_reads_as_its_typed_model(rule: str, key: str,
                                               about: StagnationAbout) -> None:
    upcast = upcast_v1_v2(v1(rule, key))
    assert upcast["about"] == about.model_dump(mode="json")
    assert "rule" not in upcast and "key" not in upcast
    # As the event store reads a v1 row.
    stored = DOMAIN_CODEC.decode("StagnationFound", 1, v1(rule, key))
    assert isinstance(stored, StagnationFound) and stored.about == about
    # Episodes recorded under v1 name their findings by `rule:key`.
    assert stored.about.ref == f"{rule}:{key}"
    # As Temporal decodes a v1 payload in a recorded activity result (replay).
    assert EVENT_ADAPTER.validate_json(json.dumps(v1(rule, key))) == stored


@pytest.mark.parametrize(("rule", "key"), [
    ("waiting_norm_intake", "care_start"),
    ("plan_not_adopted", "copy:2025-04-28"),
    ("evaluation_overdue", "evaluation:v01:2025-05-01"),
    ("agreement_overdue", "agreement:2025-04-15"),
    ("reported", "report-x"),
])
def test_a_v1_key_that_does_not_fit_its_rule_is_refused(rule: str, key: str) -> None:
    with pytest.raises(UpcastError, match="StagnationFound v1"):
        upcast_v1_v2(v1(rule, key))


def test_findings_and_episodes_recorded_under_v1_are_not_repeated() -> None:
    """v1 kept the start of an unreachable window to the second; the window computed now
    has its microseconds. It is the same finding, and its episode stays the one."""
    story = planned()
    first = PLAN_AT + timedelta(days=1, microseconds=250)
    for day in range(3):
        story.do(RecordContactAttempt(actor=ACTOR, by="pro-1", channel="phone", reached=False),
                 at=first + timedelta(days=day))
    key = f"unreachable-since:{first:%Y-%m-%dT%H:%M:%S}"
    for payload in (EVENT_ADAPTER.validate_python(v1("family_unreachable", key)),
                    EscalationOpened(episode_id="ep-1", rule=StagnationRule.FAMILY_UNREACHABLE,
                                     finding_key=f"family_unreachable:{key}")):
        story.state = evolve(story.state, payload, story.now)
    assert due_events(story.state, story.now, story.policy) == []
    assert len(story.state.findings) == len(story.state.episodes) == 1
