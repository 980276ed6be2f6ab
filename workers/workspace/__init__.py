"""The caseworkers' web workspace: server-rendered pages on the gateway, under /werkplek.

A professional signs in (the region's identity provider, or on the local stack the dev
sign-in page) and gets a short, signed session cookie (`session.py`). Every page and
every form then passes the gateway's Door (`Door.enter_session`: the same access log
and rate limit as the JSON routes) and the same desk (`workers.case_desk`): the rights
of `domain.access`, the case folded from the store, and the command path with its
idempotency key, one per rendered form. Partners' API keys do not open it.

    /werkplek/                 Mijn gezinnen: my cases, most urgent first
    /werkplek/gezinnen/{id}    one case: family, consent, team, plan, timeline, forms
    /werkplek/opschaling       open escalation episodes by level
    /werkplek/caseload         caseload per coordinator against the cap (SVG)
    /werkplek/regio            the region's yearly figures (SVG)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from domain.access import (
    TEAM,
    AccessRefused,
    CaseRole,
    Principal,
    ProfessionalPrincipal,
    Read,
    check_overview,
    check_read,
    check_workspace,
)
from domain.calendar import WorkingDayCalendar, dutch_calendar
from domain.errors import DomainError
from domain.trajectory import TrajectoryState
from domain.urgency import Countdown, Urgency, countdown, urgency, urgency_key
from infra.authentication import API_KEY_HEADER, Authenticator, UnauthenticatedError
from infra.case_index import (
    cases_naming,
    cases_with_escalations,
    professional_names,
    reports_of,
)
from infra.caseload import caseloads
from infra.directory import access_facts
from infra.region_report import region_report
from infra.settings import Settings
from infra.structured_logging import get_logger
from workers.access_control import Door, GatewayError, visit_of
from workers.case_desk import CaseDesk
from workers.workspace import figures, formatting, words_nl
from workers.workspace.charts import Bar, bar_chart
from workers.workspace.forms import FORMS, FormError, command_from
from workers.workspace.login import mount_login
from workers.workspace.session import Session, Sessions, Signer

log = get_logger("regie.workspace")

PREFIX = "/werkplek"
HERE = Path(__file__).parent
# Where a form on a list page may send the browser back to: only these pages.
RETURN_PAGES = {"opschaling": f"{PREFIX}/opschaling"}
NOTICES = {"vastgelegd": "form.done", "al-verstuurd": "form.replayed"}
# Pages hold personal data: not cached, not framed by another site (forms cannot be
# clicked through an invisible frame), and nothing loaded or run from anywhere else.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


# The same rule as a case id everywhere (`ReferFamily.case_id`, the JSON routes' path).
CASE_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")


def _known_shape(case_id: str) -> str:
    if not CASE_ID.fullmatch(case_id):
        raise GatewayError(status.HTTP_404_NOT_FOUND, "not_found", words_nl.word("not_found"))
    return case_id


def is_workspace(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(f"{PREFIX}/")


@cache
def _calendar(first: int, last: int, time_zone: str) -> WorkingDayCalendar:
    return dutch_calendar(range(first, last + 1), time_zone=time_zone)


class Workspace:
    def __init__(self, door: Door, desk: CaseDesk, settings: Settings,
                 authenticator: Callable[[], Authenticator],
                 clock: Callable[[], datetime]) -> None:
        self.door = door
        self.desk = desk
        self.settings = settings
        self.authenticator = authenticator
        self.clock = clock
        self.sessions = Sessions(Signer(settings.workspace_session_key),
                                 settings.workspace_session_minutes)
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.globals.update(
            w=words_nl.word, lang=words_nl.LANG, PHASES=words_nl.PHASES,
            ROLES=words_nl.ROLES, RULES=words_nl.RULES, PROGRESS=words_nl.PROGRESS,
            LIFE_DOMAINS=words_nl.LIFE_DOMAINS, MEMBER_ROLES=words_nl.MEMBER_ROLES,
            TEAM_KINDS=words_nl.TEAM_KINDS, CONSENT_PURPOSES=words_nl.CONSENT_PURPOSES,
            EVENTS=words_nl.EVENTS, day=formatting.day_text, personal=formatting.personal,
            moment=self.moment, prefix=PREFIX)

    # -- the frame ------------------------------------------------------------------------

    def moment(self, instant: datetime | None) -> str:
        return formatting.moment_text(instant, self.desk.policy.time_zone)

    def calendar_for(self, *instants: datetime) -> WorkingDayCalendar:
        years = [i.year for i in instants]
        return _calendar(min(years) - 1, min(max(years) + 1, 2099), self.desk.policy.time_zone)

    async def _session_principal(self, request: Request) -> Principal:
        if request.headers.get(API_KEY_HEADER) is not None:
            # Authenticate the key (so the refusal is logged under its organisation),
            # then refuse it: partners do not use the workspace.
            return await self.authenticator().principal(request.headers[API_KEY_HEADER], None)
        session = self.sessions.current(request, self.clock())
        if session is None:
            raise UnauthenticatedError(words_nl.word("session.ended"))
        request.state.session = session
        return await self.authenticator().professional(session.professional_id)

    async def enter(self, request: Request, action: str) -> ProfessionalPrincipal:
        """The Door for a page or form: the session's professional, logged as `action`."""
        principal = await self.door.enter_session(action, self._session_principal)(request)
        check_workspace(principal)
        assert isinstance(principal, ProfessionalPrincipal)
        return principal

    def render(self, request: Request, template: str, status_code: int = 200,
               **context: Any) -> HTMLResponse:
        session: Session | None = getattr(request.state, "session", None)
        principal = None
        visit = getattr(request.state, "visit", None)
        if visit is not None:
            principal = visit.principal
        return self.templates.TemplateResponse(
            request, template, status_code=status_code,
            context={"me": principal, "csrf": session.csrf if session else "", **context},
            headers=PAGE_HEADERS)

    def error_page(self, request: Request, status_code: int, message: str,
                   headers: dict[str, str] | None = None) -> Response:
        if status_code == status.HTTP_401_UNAUTHORIZED:
            # Back to signing in; the page asked for is the only thing carried along,
            # and only a path of the workspace.
            return RedirectResponse(f"{PREFIX}/inloggen?verlopen=1",
                                    status_code=status.HTTP_303_SEE_OTHER)
        title = {403: "forbidden", 404: "not_found"}.get(status_code, "error")
        response = self.render(request, "error.html", status_code=status_code,
                               title=words_nl.word(title), message=message)
        for name, value in (headers or {}).items():
            if name.lower() == "retry-after":
                response.headers[name] = value
        return response

    def check_csrf(self, request: Request, form: FormData) -> None:
        session: Session | None = getattr(request.state, "session", None)
        sent = form.get("csrf")
        if session is None or not isinstance(sent, str) or sent != session.csrf:
            raise AccessRefused(words_nl.word("csrf"))

    # -- reading cases --------------------------------------------------------------------

    async def case_lines(self, request: Request, principal: ProfessionalPrincipal,
                         case_ids: list[str], keep: Callable[[frozenset[CaseRole]], bool]
                         ) -> list[tuple[str, TrajectoryState, frozenset[CaseRole], Urgency]]:
        """The cases among `case_ids` the reader has a role on that `keep` accepts, with
        their urgency, most urgent first; each read is logged."""
        now = self.clock()
        lines = []
        for case_id in dict.fromkeys(case_ids):
            state, roles, _ = await self.desk.roles(case_id, principal)
            if state is None or not keep(roles):
                continue
            check_read(principal, roles, Read.STATE, case_id)
            visit_of(request).cases_read.append(case_id)
            instants = [now, *(e.deadline for e in state.episodes if e.deadline)]
            lines.append((case_id, state, roles, urgency(
                state, self.desk.policy, self.calendar_for(*instants), now)))
        lines.sort(key=lambda line: urgency_key(line[3]))
        return lines

    async def my_cases(self, request: Request) -> Response:
        principal = await self.enter(request, "list_my_cases")
        async with self.desk.pool().acquire() as conn:
            candidates = await cases_naming(conn, [principal.professional_id])
        lines = await self.case_lines(request, principal, candidates,
                                      lambda roles: bool(roles & TEAM))
        return self.render(request, "my_cases.html", title=words_nl.word("my_cases.title"),
                           lines=lines, countdown=countdown_text)

    async def escalations(self, request: Request,
                          form_state: dict[str, Any] | None = None,
                          principal: ProfessionalPrincipal | None = None) -> Response:
        """The board; `principal`: already through the Door (a refused form again)."""
        principal = principal or await self.enter(request, "list_escalations")
        me = principal.professional_id
        async with self.desk.pool().acquire() as conn:
            reports = await reports_of(conn, me)
            facts = await access_facts(conn, [me], self.desk.policy.region)
            candidates = await cases_naming(conn, [me, *reports])
            if principal.operator or facts.process_director_id == me:
                candidates += await cases_with_escalations(conn)
        lines = await self.case_lines(request, principal, candidates,
                                      lambda roles: True)
        now = self.clock()
        episodes = []
        for case_id, state, _, _ in lines:
            for episode in state.open_episodes:
                left = None if episode.deadline is None else self.countdown(
                    episode.deadline, now)
                episodes.append((case_id, state, episode, left))
        episodes.sort(key=lambda e: (-e[2].level, e[3].working_days_left if e[3] else 10**6))
        levels = sorted({e[2].level for e in episodes}, reverse=True)
        return self.render(
            request, "escalations.html", title=words_nl.word("escalations.title"),
            episodes=episodes, levels=levels, countdown=countdown_text,
            new_key=new_form_key, notice=self.notice(request), **(form_state or {}))

    def countdown(self, deadline: datetime, now: datetime) -> Countdown:
        return countdown(deadline, now, self.calendar_for(deadline, now),
                         self.desk.policy.time_zone)

    def notice(self, request: Request) -> str | None:
        key = NOTICES.get(request.query_params.get("melding", ""))
        return None if key is None else words_nl.word(key)

    async def case_page(self, request: Request, case_id: str,
                        form_state: dict[str, Any] | None = None,
                        principal: ProfessionalPrincipal | None = None) -> Response:
        """The case; `principal`: already through the Door (a refused form again)."""
        principal = principal or await self.enter(request, Read.STATE.value)
        state = await self.desk.readable(case_id, principal, Read.STATE)
        _, roles, _ = await self.desk.roles(case_id, principal)
        events = await self.desk.events(case_id)
        now = self.clock()
        may = {name for name, spec in FORMS.items() if roles & spec.row.who}
        return self.render(
            request, "case.html",
            title=words_nl.word("case.title", case_id=case_id), case_id=case_id,
            state=state, roles=roles, events=list(reversed(events)), may=may,
            countdown=countdown_text, new_key=new_form_key,
            episode_left={e.episode_id: self.countdown(e.deadline, now)
                          for e in state.open_episodes if e.deadline is not None},
            notice=self.notice(request), today=formatting.local_day(
                now, self.desk.policy.time_zone), **(form_state or {}))

    # -- acting -----------------------------------------------------------------------------

    async def act(self, request: Request, case_id: str, command_name: str) -> Response:
        principal = await self.enter(request, command_name)
        spec = FORMS.get(command_name)
        if spec is None:
            raise GatewayError(status.HTTP_404_NOT_FOUND, "not_found",
                               words_nl.word("not_found"))
        form = await request.form(max_files=0, max_fields=120)
        self.check_csrf(request, form)
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        key = values.get("idempotency_key", "")
        back = RETURN_PAGES.get(values.get("return_to", ""))
        if not 1 <= len(key) <= 200:
            raise AccessRefused(words_nl.word("csrf"))
        failed: dict[str, str]
        try:
            command = command_from(spec, values, principal.professional_id)
            answer = await self.desk.command(spec.row, case_id, command, key, principal)
        except FormError as error:
            visit_of(request).reason = str(error)
            failed = error.errors
        except DomainError as error:
            if isinstance(error, AccessRefused):
                raise
            visit_of(request).reason = error.message
            failed = {error.field or "form": error.message}
        else:
            replayed = not hasattr(answer, "recorded")
            notice = "al-verstuurd" if replayed else "vastgelegd"
            target = back or f"{PREFIX}/gezinnen/{case_id}"
            return RedirectResponse(f"{target}?melding={notice}#{command_name}",
                                    status_code=status.HTTP_303_SEE_OTHER)
        # Refused: the page again, the message beside the field, what was typed kept, and
        # the same key (it was released, so the corrected form is one request too).
        form_state = {"failed_form": command_name, "errors": failed, "values": values,
                      "failed_key": key}
        if back is not None:
            response = await self.escalations(request, form_state, principal)
        else:
            response = await self.case_page(request, case_id, form_state, principal)
        response.status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
        return response

    # -- overviews --------------------------------------------------------------------------

    async def overseer(self, request: Request, action: str) -> ProfessionalPrincipal:
        """The Door for the overviews (caseloads, figures): team leads, managers and the
        region's process director (`domain.access.check_overview`)."""
        principal = await self.enter(request, action)
        me = principal.professional_id
        async with self.desk.pool().acquire() as conn:
            reports = await reports_of(conn, me)
            facts = await access_facts(conn, [me], self.desk.policy.region)
        check_overview(principal, manages=bool(reports),
                       directs_region=facts.process_director_id == me)
        return principal

    async def caseload(self, request: Request) -> Response:
        await self.overseer(request, "read_caseloads")
        policy = self.desk.policy
        async with self.desk.pool().acquire() as conn:
            loads = await caseloads(conn, policy.region, policy=policy)
            names = await professional_names(conn, [row.coordinator_id for row in loads])
        cap = policy.caseload_cap
        rows = [(names.get(row.coordinator_id, row.coordinator_id), row) for row in loads]
        chart = bar_chart(
            "caseload", words_nl.word("caseload.title"), words_nl.word("caseload.chart"),
            [Bar(label=name, value=row.open_cases + row.reserved, marked=row.over_cap,
                 note=words_nl.word("caseload.over") if row.over_cap else "")
             for name, row in rows],
            limit=cap, limit_label=f"{words_nl.word('col.cap')} {cap}") if rows else None
        return self.render(request, "caseload.html", title=words_nl.word("caseload.title"),
                           rows=rows, cap=cap, chart=chart)

    async def region(self, request: Request) -> Response:
        await self.overseer(request, "read_region_report")
        policy = self.desk.policy
        this_year = formatting.local_day(self.clock(), policy.time_zone).year
        asked = request.query_params.get("jaar", "")
        year = int(asked) if asked.isdigit() and 2000 <= int(asked) <= this_year else this_year
        async with self.desk.pool().acquire() as conn:
            reports = {y: await region_report(conn, y, policy.region, policy=policy)
                       for y in range(year - 4, year + 1)}
        return self.render(request, "region.html", title=words_nl.word("region.title"),
                           year=year, years=range(this_year - 9, this_year + 1),
                           report=reports[year],
                           charts=figures.region_charts(reports, year, policy))


def new_form_key() -> str:
    """A fresh idempotency key for a rendered form: resubmitting it does nothing twice."""
    return uuid.uuid4().hex


def countdown_text(left: Countdown | None) -> str:
    if left is None:
        return words_nl.word("none")
    if left.overdue:
        return words_nl.word("days_over", n=-left.working_days_left)
    return words_nl.word("days_left", n=left.working_days_left)


def mount_workspace(app: FastAPI, door: Door, desk: CaseDesk, settings: Settings,
                    authenticator: Callable[[], Authenticator],
                    clock: Callable[[], datetime] | None = None) -> Workspace:
    workspace = Workspace(door, desk, settings, authenticator,
                          clock or (lambda: datetime.now(UTC)))
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"),
              name="workspace-static")
    mount_login(app, workspace)

    def page(path: str, handler: Callable[..., Awaitable[Response]], *,
             post: bool = False) -> None:
        (app.post if post else app.get)(path, include_in_schema=False,
                                        response_class=HTMLResponse)(handler)

    async def my_cases(request: Request) -> Response:
        return await workspace.my_cases(request)

    async def case(request: Request, case_id: str) -> Response:
        return await workspace.case_page(request, _known_shape(case_id))

    async def act(request: Request, case_id: str, command: str) -> Response:
        return await workspace.act(request, _known_shape(case_id), command)

    async def escalations(request: Request) -> Response:
        return await workspace.escalations(request)

    async def caseload(request: Request) -> Response:
        return await workspace.caseload(request)

    async def region(request: Request) -> Response:
        return await workspace.region(request)

    page(f"{PREFIX}/", my_cases)
    page(f"{PREFIX}/gezinnen/{{case_id}}", case)
    page(f"{PREFIX}/gezinnen/{{case_id}}/{{command}}", act, post=True)
    page(f"{PREFIX}/opschaling", escalations)
    page(f"{PREFIX}/caseload", caseload)
    page(f"{PREFIX}/regio", region)
    app.state.workspace = workspace
    return workspace


__all__ = ["PREFIX", "Workspace", "is_workspace", "mount_workspace"]
