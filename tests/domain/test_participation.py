"""Whether the young person took part in making a plan: given with the plan command,
recorded on the plan version, and unknown (never "no") for plans recorded before."""

from __future__ import annotations

from datetime import date

import pytest

from domain.commands import (
    AdjustPlan,
    AdoptPlan,
    EvaluatePlan,
    GoalResult,
    OfferFamilyGroupPlan,
    SubmitFamilyGroupPlan,
)
from domain.events import EVENT_ADAPTER, PlanAdopted
from domain.plan import GoalProgress, PlanSource
from domain.upcasting import UPCASTERS
from tests.domain.test_decide import ACTOR, EVALUATED_AT, PLAN_AT, in_care, plan, skipped


@pytest.mark.parametrize("took_part", [True, False, None])
def test_a_professional_plan_records_whether_the_young_person_took_part(
        took_part: bool | None) -> None:
    story = skipped()
    [event] = story.do(AdoptPlan(actor=ACTOR, plan=plan(), young_person_took_part=took_part),
                       at=PLAN_AT)
    assert isinstance(event, PlanAdopted)
    assert (event.source, event.young_person_took_part) == (PlanSource.PROFESSIONAL, took_part)


def test_the_familys_own_plan_and_an_adjustment_record_it_too() -> None:
    story = in_care()
    story.do(OfferFamilyGroupPlan(actor=ACTOR))
    [own] = story.do(SubmitFamilyGroupPlan(actor=ACTOR, plan=plan(),
                                           young_person_took_part=True), at=PLAN_AT)
    story.do(EvaluatePlan(actor=ACTOR, results=(
        GoalResult(goal_id="g-1", progress=GoalProgress.PROGRESSING),),
        next_evaluation_date=date(2025, 9, 1)), at=EVALUATED_AT)
    [adjusted] = story.do(AdjustPlan(actor=ACTOR, plan=plan(evaluation_date=date(2025, 9, 1)),
                                     young_person_took_part=False), at=EVALUATED_AT)
    assert isinstance(own, PlanAdopted) and isinstance(adjusted, PlanAdopted)
    assert (own.source, own.young_person_took_part) == (PlanSource.FAMILY_GROUP_PLAN, True)
    assert (adjusted.source, adjusted.young_person_took_part) == (PlanSource.ADJUSTMENT, False)


def test_a_plan_recorded_before_v2_reads_as_not_recorded() -> None:
    v1 = {"type": "PlanAdopted", "plan_version": 1, "source": "professional",
          "plan": {"goals": []}}
    upcast = UPCASTERS.upcast("PlanAdopted", 1, PlanAdopted.SCHEMA_VERSION, v1)
    event = EVENT_ADAPTER.validate_python(upcast)
    assert isinstance(event, PlanAdopted) and event.young_person_took_part is None
    assert PlanAdopted.SCHEMA_VERSION == 2
    # A v1 payload inside a Temporal history is read by the model itself: the same.
    assert EVENT_ADAPTER.validate_python(v1) == event
