"""What Temporal shows of a case (`domain.case_summary`, `Deadline.summary`): the next
deadline in words on the region's calendar day, counts and ids, and no personal data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.case_summary import case_summary
from domain.deadlines import Deadline, deadlines, next_pending
from domain.events import StagnationFound, StagnationRule
from domain.local_time import day_text
from domain.trajectory import Phase
from tests.domain.test_decide import CLOSED_AT, EVALUATION_DAY, closed, planned, referred


def test_a_date_deadline_is_named_by_its_own_day_not_the_midnight_it_passes() -> None:
    story = planned()
    [evaluation] = [d for d in deadlines(story.state, story.policy)
                    if isinstance(d.event, StagnationFound)
                    and d.event.about.rule is StagnationRule.EVALUATION_OVERDUE]
    # It passes at 2 May 00:00 in Amsterdam; the family knows it as 1 May.
    assert evaluation.at == datetime(2025, 5, 1, 22, 0, tzinfo=UTC)
    assert evaluation.summary("Europe/Amsterdam") == "evaluation due 1 May 2025"
    assert evaluation.local_day("Europe/Amsterdam") == EVALUATION_DAY


def test_an_instant_deadline_is_named_by_its_day_in_the_region() -> None:
    story = closed()
    pending = next_pending(story.state, story.policy)
    assert pending is not None
    due = CLOSED_AT + timedelta(weeks=6)
    assert pending.at == due
    assert pending.summary("Europe/Amsterdam") == "check-in 0 due 13 Jun 2025"
    # Late in the evening in UTC is the next day in Amsterdam.
    late = Deadline(at=datetime(2025, 12, 20, 23, 30, tzinfo=UTC), event=pending.event)
    assert late.local_day("Europe/Amsterdam") == date(2025, 12, 21)


def test_day_text_is_the_same_whatever_the_locale() -> None:
    assert [day_text(date(2026, m, 21)) for m in (1, 12)] == ["21 Jan 2026", "21 Dec 2026"]


def test_the_summary_of_a_case_in_aftercare_has_counts_and_the_next_check_in() -> None:
    story = closed()
    summary = case_summary(story.state, story.policy)
    assert summary.phase is Phase.AFTERCARE
    assert summary.region == story.policy.region
    assert summary.open_escalations == 0 and summary.escalation_level == 0
    assert summary.next_deadline_summary == "check-in 0 due 13 Jun 2025"
    assert summary.next_deadline_day == date(2025, 6, 13)
    assert summary.family_members == len(story.state.members) > 0


def test_the_summary_holds_no_names() -> None:
    for story in (referred(), planned(), closed()):
        shown = case_summary(story.state, story.policy).model_dump_json()
        names = {m.name for m in story.state.members} | {t.name for t in story.state.team}
        assert names and [n for n in names if str(n) in shown] == []
        assert "de Vries" not in shown
