"""`regie report --year YYYY [--region R]`: the region's yearly figures (docs/domain.md
rule 14; definitions in docs/read_models.md) as tables."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.region_report import RegionReport, region_report
from infra.settings import Settings
from workers.cli.caseload import load_bar
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, day_text, emit_json, show, table
from workers.cli.runtime import load_policy, log_access, open_store
from workers.cli.waiting import share_text, summary_table
from workers.cli.words import word


def _number(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def show_report(report: RegionReport) -> None:
    where = report.region or "every region"
    figures = table("figure", "value",
                    title=f"{where}, {report.year} (as of {day_text(report.as_of)})")
    rows: list[tuple[str, object]] = [
        ("trajectories referred", report.referred),
        ("trajectories started (care began)", report.started),
        ("closures", report.closed),
        *((f"  closed: {word(reason)}", n) for reason, n in report.closed_by_reason.items()),
        ("family group plans offered", report.family_group_plans_offered),
        ("family group plans made", report.family_group_plans_made),
        ("family group plan offers lapsed", report.family_group_plans_lapsed),
        *((f"  skipped: {word(ground)}", n)
          for ground, n in report.family_group_plans_skipped.items()),
        ("first plans", report.first_plans),
        ("median days to the first plan", _number(report.median_days_to_first_plan)),
        ("median working days to the first plan",
         _number(report.median_working_days_to_first_plan)),
        ("binding decisions (doorzettingsmacht)", report.binding_decisions),
        (f"revolving door (reopened within {report.revolving_door.aftercare_months} months)",
         f"{report.revolving_door.reopened} of {report.revolving_door.closures} "
         f"({share_text(report.revolving_door.rate)}); "
         f"{report.revolving_door.still_in_window} still in the window"),
        ("young person took part in the plan",
         f"{report.participation.young_person_took_part} of {report.participation.plans} "
         f"plans ({share_text(report.participation.share_took_part)}); "
         f"{report.participation.not_recorded} not recorded"),
        ("coordinators over the caseload cap", report.coordinators_over_cap),
    ]
    for label, value in rows:
        figures.add_row(cell(label), cell(value))
    show(figures, summary_table(report.waiting, "Waiting times (waits that began in the year)"))

    if report.stagnations:
        stagnations = table("stagnation", "opened", "resolved at level 1 / 2 / 3",
                            "cleared at level 0 / 1 / 2 / 3", "still open",
                            title="Stagnations and where they ended")
        for s in report.stagnations:
            resolved = " / ".join(str(s.resolved_at_level.get(level, 0)) for level in (1, 2, 3))
            cleared = " / ".join(str(s.cleared_at_level.get(level, 0))
                                 for level in (0, 1, 2, 3))
            stagnations.add_row(cell(word(s.cause)), cell(s.opened), cell(resolved),
                                cell(cleared), cell(s.still_open))
        show(stagnations)
    if report.caseloads:
        loads = table("coordinator", "open cases", "cap", "", title="Caseloads now")
        for c in report.caseloads:
            style = "bold red" if c.over_cap else ""
            loads.add_row(cell(c.coordinator_id, style), cell(c.open_cases + c.reserved, style),
                          cell(c.cap), cell(load_bar(c.open_cases + c.reserved, c.cap), style))
        show(loads)


async def report(settings: Settings, year: int, region: str | None, *,
                 as_json: bool = False) -> int:
    policy = load_policy()
    store, _server = await open_store(settings)
    await log_access(store, "report")
    async with store.pool.acquire() as conn:
        figures = await region_report(conn, year, region, policy=policy)
    if as_json:
        emit_json(figures)
    else:
        show_report(figures)
    return 0


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        year: Annotated[int, typer.Option(min=2000, max=2100, help="The calendar year.",
                                          show_default=False)],
        region: Annotated[str | None, typer.Option(help="One region (default: all).")
                          ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """The region's figures for a year: trajectories, family group plans, time to the
        first plan, waiting against the norms, stagnations by cause and level, binding
        decisions, revolving door, participation, caseloads."""
        execute(lambda settings: report(settings, year, region, as_json=as_json))
