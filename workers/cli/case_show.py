"""`regie case show ID` and `regie timeline ID`: one case in the domain's words.

The state is the fold of the case's events in the store (the source of truth), shown as
the view the gateway gives its readers (`domain.case_view`): members, consent, the
coordinator and team, the active plan with its goals and agreements, the open escalation
episodes with their working days left; then what happened, when, by whom and why. The
operator reads as an operator (every case, personal data while its key exists), and the
read is in the access log under the operating system user.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import typer
from pydantic import BaseModel, ConfigDict

from domain.access import ProfessionalPrincipal
from domain.case_view import CaseView, case_view
from domain.events import PlanEvaluated, RecordedEvent
from domain.local_time import local_date
from domain.personal import Erased
from domain.plan import GoalProgress
from domain.trajectory import EpisodeStatus, TrajectoryState, fold, stream_id_for
from infra.directory import read_directory
from infra.settings import Settings
from workers.cli.case_id import CaseIdArgument
from workers.cli.episode_clock import days_left_text, working_days_left
from workers.cli.event_sentences import Names, TimelineEntry, timeline
from workers.cli.exit_codes import ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import (
    cell,
    day_text,
    due_day,
    emit_json,
    fail,
    line,
    markup,
    show,
    table,
    when_text,
)
from workers.cli.runtime import load_policy, log_access, open_store
from workers.cli.words import personal, word


class OpenEpisode(BaseModel):
    model_config = ConfigDict(frozen=True)
    episode_id: str
    rule: str
    level: int
    assignee_id: str | None
    assignee: str | None
    deadline: datetime | None
    working_days_left: int | None


class CaseReport(BaseModel):
    """What `case show --json` prints: the view, the latest evaluation of each goal of
    the active plan, the open episodes' clocks, and the timeline."""

    model_config = ConfigDict(frozen=True)
    case: CaseView
    goal_progress: dict[str, GoalProgress]
    open_episodes: tuple[OpenEpisode, ...]
    timeline: tuple[TimelineEntry, ...]


def not_found(case_id: str) -> int:
    return fail(f"there is no case {case_id!r}; see `regie case list` or `regie overview`",
                ExitCode.NOT_FOUND)


async def read_case(settings: Settings, case_id: str, action: str
                    ) -> tuple[list[RecordedEvent], Names] | None:
    store, _server = await open_store(settings)
    await log_access(store, action, case_id=case_id)
    events = await store.read_stream(stream_id_for(case_id))
    if not events:
        return None
    async with store.pool.acquire() as conn:
        directory = await read_directory(conn)
    state = fold(events)
    people = {p.id: p.name for p in directory.professionals}
    actors = {ProfessionalPrincipal(professional_id=p.id, organisation_id=p.organisation_id
                                    ).actor: p.name for p in directory.professionals}
    # Names in the case itself are personal data: shown while their key exists.
    for member in state.members:
        if not isinstance(member.name, Erased):
            people[member.person_id] = member.name
    for team_member in state.team:
        if not isinstance(team_member.name, Erased):
            people[team_member.member_id] = team_member.name
    return events, Names(people=people, actors=actors)


def case_report(events: Sequence[RecordedEvent], names: Names, time_zone: str,
                today: date) -> CaseReport:
    state = fold(events)
    return CaseReport(
        case=case_view(state), goal_progress=_goal_progress(events, state),
        open_episodes=tuple(
            OpenEpisode(episode_id=e.episode_id, rule=word(e.rule), level=e.level,
                        assignee_id=e.assignee_id,
                        assignee=names.of(e.assignee_id) if e.assignee_id else None,
                        deadline=e.deadline,
                        working_days_left=None if e.deadline is None else
                        working_days_left(e.deadline, today, time_zone))
            for e in state.episodes if e.status is EpisodeStatus.OPEN),
        timeline=tuple(timeline(events, names, time_zone)))


def _goal_progress(events: Sequence[RecordedEvent], state: TrajectoryState
                   ) -> dict[str, GoalProgress]:
    """The latest evaluation of each goal of the active plan version."""
    progress: dict[str, GoalProgress] = {}
    for event in events:
        if isinstance(event.payload, PlanEvaluated) and (
                event.payload.plan_version == state.plan_version):
            progress.update({r.goal_id: r.progress for r in event.payload.results})
    return progress


async def case_show(settings: Settings, case_id: str, *, as_json: bool,
                    today: date | None = None) -> int:
    policy = load_policy()
    found = await read_case(settings, case_id, "case_show")
    if found is None:
        return not_found(case_id)
    events, names = found
    zone_name = policy.time_zone
    today = today or local_date(datetime.now(UTC), zone_name)
    report = case_report(events, names, zone_name, today)
    if as_json:
        emit_json(report)
        return 0
    _show_state(report, names, zone_name, today)
    show_timeline(report.timeline, zone_name)
    return 0


async def case_timeline(settings: Settings, case_id: str, *, as_json: bool) -> int:
    policy = load_policy()
    found = await read_case(settings, case_id, "timeline")
    if found is None:
        return not_found(case_id)
    events, names = found
    entries = timeline(events, names, policy.time_zone)
    if as_json:
        for entry in entries:
            emit_json(entry)
        return 0
    show_timeline(entries, policy.time_zone)
    return 0


def show_timeline(entries: Sequence[TimelineEntry], time_zone: str) -> None:
    grid = table("when", "who", "what happened, and why", title="Timeline")
    for entry in entries:
        grid.add_row(cell(when_text(entry.at, time_zone)), cell(entry.who), cell(entry.what))
    show(grid)


def _show_state(report: CaseReport, names: Names, time_zone: str, today: date) -> None:
    view = report.case
    line(f"[bold]Case {markup(view.case_id)}[/bold]: {markup(word(view.phase))} "
         f"(version {view.version})")
    moments = [(label, at) for label, at in (
        ("referred", view.referred_at), ("intake", view.intake_at),
        ("care started", view.care_started_at), ("closed", view.closed_at),
        ("aftercare until", view.aftercare_ends_at)) if at is not None]
    line(markup(" · ".join(f"{label} {when_text(at, time_zone)}" for label, at in moments)))
    if view.end_reason:
        line(f"ended: {markup(view.end_reason)}")

    family = table("person", "role", "name", "age", "parental authority", title="Family")
    for m in view.members:
        age = m.age_on(today)
        family.add_row(cell(m.person_id), cell(word(m.role)), cell(personal(m.name)),
                       cell("(erased)" if age is None else age),
                       cell("yes" if m.has_parental_authority else "no"))
    show(family)

    if view.consents:
        consent = table("consent", "for", "purpose", "given by", "given", "withdrawn",
                        title="Consent")
        for c in view.consents:
            purpose = word(c.purpose) + (f" with {c.recipient}" if c.recipient else "")
            consent.add_row(cell(c.consent_id), cell(names.of(c.subject_id)), cell(purpose),
                            cell(", ".join(names.of(p) for p in c.given_by)),
                            cell(when_text(c.given_at, time_zone)),
                            cell(when_text(c.withdrawn_at, time_zone)
                                 if c.withdrawn_at else "-"))
        show(consent)

    coordinator = (f"{names.of(view.coordinator_id)} ({view.coordinator_id})"
                   if view.coordinator_id else "none yet")
    line(f"Care coordinator: {markup(coordinator)}")
    if view.team:
        team = table("member", "name", "kind", "organisation", title="Team")
        for t in view.team:
            role = " (coordinator)" if t.member_id == view.coordinator_id else ""
            team.add_row(cell(t.member_id), cell(personal(t.name) + role), cell(word(t.kind)),
                         cell(t.organisation))
        show(team)

    _show_plan(report, names, today)

    if report.open_episodes:
        episodes = table("episode", "stagnation", "level", "with", "respond by", "left",
                         title="Open escalation")
        for e in report.open_episodes:
            late = e.working_days_left is not None and e.working_days_left < 0
            episodes.add_row(
                cell(e.episode_id), cell(e.rule), cell(e.level or "-"),
                cell(e.assignee or "-"),
                cell(day_text(due_day(e.deadline, time_zone)) if e.deadline else "-"),
                cell("-" if e.working_days_left is None
                     else days_left_text(e.working_days_left),
                     "bold red" if late else ""))
        show(episodes)


def _show_plan(report: CaseReport, names: Names, today: date) -> None:
    view = report.case
    plan = view.plan
    if plan is None:
        line(f"No plan yet (family group plan: {markup(word(view.family_group_plan))})")
        return
    evaluation = (day_text(plan.evaluation_date) if plan.evaluation_date else "no date")
    line(f"[bold]Plan version {view.plan_version}[/bold] ({markup(word(view.plan_source))}),"
         f" next evaluation {markup(evaluation)}")
    goals = table("goal", "for", "life domain", "goal", "measured by", "latest evaluation",
                  title="Goals")
    for g in plan.goals:
        goals.add_row(cell(g.goal_id), cell(names.of(g.person_id)), cell(word(g.life_domain)),
                      cell(personal(g.description)), cell(personal(g.criterion)),
                      cell(word(report.goal_progress.get(g.goal_id))))
    show(goals)
    if plan.agreements:
        agreements = table("agreement", "who does what", "owner", "by", "status",
                           title="Agreements")
        for a in plan.agreements:
            done = a.agreement_id in view.completed_agreements
            late = not done and a.due is not None and a.due < today
            status = "done" if done else "overdue" if late else "open"
            agreements.add_row(cell(a.agreement_id), cell(personal(a.action)),
                               cell(names.of(a.owner) if a.owner else "-"),
                               cell(day_text(a.due) if a.due else "-"),
                               cell(status, "bold red" if late else ""))
        show(agreements)
    for d in plan.decisions:
        binding = "binding decision" if d.binding else "decision"
        line(f"{binding} ({markup(d.episode_id)}, by {markup(names.of(d.decided_by))}): "
             f"{markup(personal(d.decision))}")


def register(app: typer.Typer, cases: typer.Typer) -> None:
    @cases.command("show")
    def show_command(case_id: CaseIdArgument, as_json: JsonOption = False) -> None:
        """The case in the domain's words: family, consent, coordinator and team, the
        active plan, open escalations with working days left; then what happened, when,
        by whom and why (times in the region's clock). Recorded in the access log."""
        execute(lambda settings: case_show(settings, case_id, as_json=as_json))

    @app.command("timeline")
    def timeline_command(case_id: CaseIdArgument, as_json: JsonOption = False) -> None:
        """What happened to one case, when, by whom and why (the timeline of `case
        show`). Recorded in the access log."""
        execute(lambda settings: case_timeline(settings, case_id, as_json=as_json))
