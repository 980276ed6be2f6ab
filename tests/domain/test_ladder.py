"""Which messages of an escalation episode the trajectory records: only the steps and
alerts its ladder could have sent (domain.ladder). The story: an evaluation due on
Thursday 1 May 2025 is not held, so episode ep-1 opens when that day is over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import WorkingDayCalendar, dutch_calendar
from domain.commands import ResolveEscalation
from domain.deadlines import end_of_day
from domain.escalation import LevelStep, RegionAlert, record_alert, record_step
from domain.ladder import LadderTerms, alert_mismatch, stagnation_start, step_mismatch
from domain.notifications import RecipientRole
from domain.policy import EscalationDeadlines, RegionPolicy
from domain.trajectory import Episode, evolve
from tests.domain.test_deadlines import fire
from tests.domain.test_decide import EVALUATION_DAY, POLICY, Story, planned

NL = dutch_calendar(range(2024, 2028))
TERMS = LadderTerms.of(POLICY)
START = end_of_day(EVALUATION_DAY)  # Friday 2 May 2025, 00:00 in Amsterdam
# Five working days from Friday 2 May: Monday 5 May is Bevrijdingsdag (a day off in 2025,
# a lustrum year), so Tuesday 6 to Friday 9 and Monday 12 May.
LEVEL1 = datetime(2025, 5, 11, 22, 0, tzinfo=UTC)
LEVEL2 = NL.add_working_days(LEVEL1, 5)
LEVEL3 = NL.add_working_days(LEVEL2, 10)
ROLES = {1: RecipientRole.COORDINATOR, 2: RecipientRole.MANAGER,
         3: RecipientRole.PROCESS_DIRECTOR}


def opened() -> Story:
    story = planned()
    fire(story, START)
    assert story.state.episode("ep-1") is not None
    return story


def step(level: int, deadline: datetime, *, role: RecipientRole | None = None,
         episode_id: str = "ep-1", assignee_id: str = "pro-1",
         reason: str = "de termijn is verstreken") -> LevelStep:
    return LevelStep(episode_id=episode_id, level=level, assignee_id=assignee_id,
                     role=role or ROLES[level], deadline=deadline, reason=reason)


def alert(reminder: int, next_reminder: datetime, *, region_id: str = TERMS.region_id
          ) -> RegionAlert:
    return RegionAlert(episode_id="ep-1", reminder=reminder, region_id=region_id,
                       recipient_id="pro-4", next_reminder=next_reminder)


def check(story: Story, message: LevelStep | RegionAlert, at: datetime, *,
          terms: LadderTerms = TERMS, calendar: WorkingDayCalendar = NL) -> str | None:
    if isinstance(message, LevelStep):
        return step_mismatch(story.state, message, now=at, terms=terms, calendar=calendar)
    return alert_mismatch(story.state, message, now=at, terms=terms, calendar=calendar)


def accept(story: Story, message: LevelStep | RegionAlert, at: datetime) -> None:
    """The message matches: record it, as the trajectory does."""
    assert check(story, message, at) is None
    events = (record_step(story.state, message) if isinstance(message, LevelStep)
              else record_alert(story.state, message))
    assert len(events) == 1
    story.now = at
    for event in events:
        story.state = evolve(story.state, event, at)


def episode(story: Story) -> Episode:
    found = story.state.episode("ep-1")
    assert found is not None
    return found


def at_level(level: int) -> Story:
    """ep-1 after the genuine steps up to `level`, at the moment each was sent."""
    story = opened()
    deadlines = {1: LEVEL1, 2: LEVEL2, 3: LEVEL3}
    sent_at = {1: START, 2: LEVEL1, 3: LEVEL2}
    for n in range(1, level + 1):
        accept(story, step(n, deadlines[n]), sent_at[n])
    return story


# -- the genuine ladder -----------------------------------------------------------------


def test_the_first_deadline_counts_from_when_the_stagnation_began() -> None:
    story = opened()
    assert stagnation_start(story.state, episode(story)) == START
    assert NL.add_working_days(START, 5) == LEVEL1


def test_each_level_in_turn_with_its_working_day_deadline_matches() -> None:
    story = at_level(3)
    assert (episode(story).level, episode(story).deadline) == (3, LEVEL3)
    reminder1 = NL.add_working_days(LEVEL3, 5)
    accept(story, alert(1, reminder1), LEVEL3)
    accept(story, alert(2, NL.add_working_days(reminder1, 5)), reminder1)
    assert episode(story).reminders == 2


def test_the_first_step_may_skip_to_the_manager_or_the_process_director() -> None:
    # A coordinator the directory does not know, or no coordinator appointed yet.
    for level, days in ((2, 5), (3, 10)):
        story = opened()
        assert check(story, step(level, NL.add_working_days(START, days)), START) is None


def test_without_a_known_manager_the_ladder_skips_level_two() -> None:
    story = at_level(1)
    assert check(story, step(3, NL.add_working_days(LEVEL1, 10)), LEVEL1) is None


def test_nobody_in_the_directory_tells_the_region_and_looks_again() -> None:
    story = opened()
    region = RecipientRole.REGION
    retry1 = NL.add_working_days(START, TERMS.reminder_working_days)
    accept(story, step(1, retry1, role=region, assignee_id="default"), START)
    retry2 = NL.add_working_days(retry1, TERMS.reminder_working_days)
    accept(story, step(1, retry2, role=region, assignee_id="default"), retry1)
    # The directory was imported: the same level, now with a person, from the retry.
    accept(story, step(1, NL.add_working_days(retry2, 5)), retry2)
    assert episode(story).role is RecipientRole.COORDINATOR


def test_the_same_step_again_is_stale_not_a_mismatch() -> None:
    story = at_level(2)
    for old in (step(2, LEVEL2), step(1, LEVEL1)):
        assert check(story, old, LEVEL1 + timedelta(days=1)) is None
        assert record_step(story.state, old) == []


def test_the_same_instant_in_another_zone_matches() -> None:
    story = opened()
    local = LEVEL1.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert check(story, step(1, local), START) is None


def test_a_step_sent_a_moment_before_the_deadline_by_another_clock_matches() -> None:
    story = at_level(1)
    assert check(story, step(2, LEVEL2), LEVEL1 - timedelta(seconds=30)) is None


# -- messages that do not match ---------------------------------------------------------


def test_an_episode_this_trajectory_does_not_have() -> None:
    story = opened()
    assert check(story, step(1, LEVEL1, episode_id="ep-9"), START) == (
        "this trajectory has no such episode")


def test_an_episode_that_ended() -> None:
    story = at_level(1)
    story.do(ResolveEscalation(actor="coordinator:pro-1", episode_id="ep-1", by="pro-1",
                               decision="Evaluatie volgende week ingepland.",
                               next_evaluation_date=EVALUATION_DAY + timedelta(days=14)),
             at=START + timedelta(days=1))
    assert check(story, step(2, LEVEL2), LEVEL1) == "the episode is resolved"


def test_a_first_step_below_level_one() -> None:
    story = opened()
    assert check(story, step(0, LEVEL1, role=RecipientRole.COORDINATOR), START) == (
        "level 0 where level 1 to 3 comes next")


def test_a_skipped_level_before_the_deadline_passed() -> None:
    story = at_level(1)
    mismatch = check(story, step(3, NL.add_working_days(LEVEL1, 10)), START + timedelta(days=1))
    assert mismatch is not None
    assert f"before the level-1 deadline {LEVEL1.isoformat()} passed" in mismatch


def test_the_next_level_before_the_deadline_passed() -> None:
    story = at_level(1)
    assert check(story, step(2, LEVEL2), LEVEL1 - timedelta(hours=1)) == (
        f"sent at {(LEVEL1 - timedelta(hours=1)).isoformat()}, before the level-1 deadline "
        f"{LEVEL1.isoformat()} passed")


@pytest.mark.parametrize(("level", "role", "expected"), [
    (4, RecipientRole.PROCESS_DIRECTOR, "level 4 where level 2 to 3 comes next"),
    (1, RecipientRole.REGION, "level 1 where level 2 to 3 comes next"),
    (2, RecipientRole.COORDINATOR, "role coordinator at level 2"),
    (3, RecipientRole.REGION, "a step to the region at level 3, where the ladder looks for "
                              "level 2"),
])
def test_a_level_or_role_out_of_order(level: int, role: RecipientRole, expected: str) -> None:
    story = at_level(1)
    deadline = NL.add_working_days(LEVEL1, TERMS.working_days(role))
    assert check(story, step(level, deadline, role=role), LEVEL1) == expected


def test_a_level_again_with_a_later_deadline() -> None:
    story = at_level(2)
    assert check(story, step(2, NL.add_working_days(LEVEL2, 5)), LEVEL2) == (
        "level 2 where level 3 comes next")


def test_a_step_after_the_top_level() -> None:
    story = at_level(3)
    assert check(story, step(3, NL.add_working_days(LEVEL3, 10)), LEVEL3) == (
        "level 3 after the top level: only region alerts follow the level-3 deadline")


def test_a_deadline_a_working_day_off() -> None:
    story = at_level(1)
    wrong = NL.add_working_days(LEVEL1, 6)
    assert check(story, step(2, wrong), LEVEL1) == (
        f"deadline {wrong.isoformat()}, computed {LEVEL2.isoformat()}")


def test_a_deadline_that_counts_a_holiday_as_a_working_day() -> None:
    story = opened()
    weekdays_only = WorkingDayCalendar(())
    forged = weekdays_only.add_working_days(START, 5)  # Friday 9 May, through 5 May
    assert forged != LEVEL1
    assert check(story, step(1, forged), START) == (
        f"deadline {forged.isoformat()}, computed {LEVEL1.isoformat()}")


def test_the_terms_the_episode_started_with_decide() -> None:
    story = opened()
    quick = TERMS.model_copy(update={"deadlines": EscalationDeadlines(coordinator=2)})
    deadline = NL.add_working_days(START, 2)
    assert check(story, step(1, deadline), START) is not None
    assert check(story, step(1, deadline), START, terms=quick) is None


def test_what_did_not_match_says_nothing_of_who_or_why() -> None:
    story = at_level(1)
    mismatch = check(story, step(3, LEVEL2, assignee_id="pro-intruder",
                                 reason="Anna de Vries weigert elk contact"), START)
    assert mismatch is not None
    assert "pro-intruder" not in mismatch and "Anna" not in mismatch


# -- region alerts ----------------------------------------------------------------------


def test_an_alert_before_the_top_level() -> None:
    story = at_level(2)
    assert check(story, alert(1, NL.add_working_days(LEVEL2, 5)), LEVEL2) == (
        "a region alert while the episode is at level 2, before the level-3 deadline")


def test_an_alert_that_skips_a_reminder_names_another_region_or_another_day() -> None:
    story = at_level(3)
    reminder1 = NL.add_working_days(LEVEL3, 5)
    assert check(story, alert(2, reminder1), LEVEL3) == "reminder 2 where 1 comes next"
    assert check(story, alert(1, reminder1, region_id="elders"), LEVEL3) == (
        f"not the policy's region {TERMS.region_id}")
    wrong = NL.add_working_days(LEVEL3, 4)
    assert check(story, alert(1, wrong), LEVEL3) == (
        f"next reminder {wrong.isoformat()}, computed {reminder1.isoformat()}")


def test_an_alert_before_the_last_deadline_passed() -> None:
    story = at_level(3)
    early = LEVEL3 - timedelta(days=1)
    assert check(story, alert(1, NL.add_working_days(LEVEL3, 5)), early) == (
        f"sent at {early.isoformat()}, before the last deadline {LEVEL3.isoformat()} passed")


def test_a_reminder_counts_from_the_one_before() -> None:
    story = at_level(3)
    reminder1 = NL.add_working_days(LEVEL3, 5)
    accept(story, alert(1, reminder1), LEVEL3)
    reminder2 = NL.add_working_days(reminder1, 5)
    assert check(story, alert(2, reminder2), reminder1) is None
    assert check(story, alert(2, reminder1), reminder1) == (
        f"next reminder {reminder1.isoformat()}, computed {reminder2.isoformat()}")
    early = reminder1 - timedelta(hours=2)
    assert check(story, alert(2, reminder2), early) == (
        f"sent at {early.isoformat()}, before reminder 1's next reminder "
        f"{reminder1.isoformat()} passed")
    assert check(story, alert(1, reminder1), reminder1) is None  # recorded already


# -- the terms ------------------------------------------------------------------------


def test_the_terms_come_from_the_policy() -> None:
    policy = RegionPolicy(region="holland-noord", time_zone="Europe/Amsterdam",
                          escalation_deadlines_working_days=EscalationDeadlines(
                              coordinator=3, manager=4, process_director=8),
                          escalation_reminder_working_days=2)
    terms = LadderTerms.of(policy)
    assert [terms.working_days(role) for role in RecipientRole] == [3, 4, 8, 2]
    assert (terms.region_id, terms.time_zone) == ("holland-noord", "Europe/Amsterdam")
