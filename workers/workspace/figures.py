"""The region's yearly figures (`infra.region_report`) as charts for the Regiocijfers
page: waiting times against the norms, stagnations by cause and the level that resolved
them, family group plans per year against the region's aim, and the revolving-door
rate."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from domain.policy import RegionPolicy
from infra.region_report import RegionReport
from workers.workspace.charts import Bar, bar_chart
from workers.workspace.words_nl import RULES, STAGES, word

# A Dutch working week: the norms are in weeks, the waits in working days.
WORKING_DAYS_A_WEEK = 5


@dataclass(frozen=True)
class Figure:
    heading: str
    chart: Markup
    explanation: str


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"


def region_charts(reports: dict[int, RegionReport], year: int, policy: RegionPolicy
                  ) -> list[Figure]:
    report = reports[year]
    waiting = [
        Bar(label=STAGES[s.stage.value], value=s.median_working_days or 0,
            marked=(s.median_working_days or 0) > s.norm_weeks * WORKING_DAYS_A_WEEK,
            note=word("region.wait_note", norm=s.norm_weeks,
                      days=s.norm_weeks * WORKING_DAYS_A_WEEK, within=s.within_norm,
                      waits=s.waits, share=_percent(s.share_within_norm)))
        for s in report.waiting]
    stagnations = [
        Bar(label=RULES[f.cause.value], value=f.opened,
            note=word("region.stagnation_note",
                      levels=", ".join(f"{level}: {n}" for level, n in
                                       sorted(f.resolved_at_level.items())) or "-",
                      open=f.still_open))
        for f in report.stagnations]
    resolved_by_level = [
        Bar(label=word("escalations.level", level=level),
            value=sum(f.resolved_at_level.get(level, 0) for f in report.stagnations))
        for level in (1, 2, 3)]
    plans = [Bar(label=str(y), value=r.family_group_plans_made,
                 marked=r.family_group_plans_made < policy.family_group_plans_aim,
                 note=word("region.below_aim")
                 if r.family_group_plans_made < policy.family_group_plans_aim else "")
             for y, r in sorted(reports.items())]
    door = report.revolving_door
    revolving = [Bar(label=str(year), value=(door.rate or 0) * 100,
                     note=word("region.door_note", reopened=door.reopened,
                               closures=door.closures, months=door.aftercare_months))]
    return [
        Figure(word("region.waiting"), bar_chart(
            "wachttijden", word("region.waiting"), word("region.waiting_desc"), waiting,
            unit=" " + word("region.working_days")), word("region.waiting_explain")),
        Figure(word("region.stagnations"), bar_chart(
            "stagnaties", word("region.stagnations"), word("region.stagnations_desc"),
            stagnations), word("region.stagnations_explain")),
        Figure(word("region.resolved_levels"), bar_chart(
            "niveaus", word("region.resolved_levels"), word("region.resolved_levels_desc"),
            resolved_by_level), word("region.binding", n=report.binding_decisions)),
        Figure(word("region.plans"), bar_chart(
            "fgp", word("region.plans"), word("region.plans_desc"), plans,
            limit=policy.family_group_plans_aim,
            limit_label=word("region.aim", aim=policy.family_group_plans_aim)),
            word("region.plans_explain")),
        Figure(word("region.revolving"), bar_chart(
            "draaideur", word("region.revolving"), word("region.revolving_desc"), revolving,
            unit="%"), word("region.revolving_explain")),
    ]
