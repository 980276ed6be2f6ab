"""Signing in and out of the workspace.

With an identity provider (`REGIE_OIDC_ISSUER`): the authorisation-code flow of
`oidc_login.py`. Without one, on the local stack only (the dev issuer is on): a page to
sign in as a professional from the directory, who must be active there. The dev page
does not exist when an identity provider is set. Each sign-in form carries a CSRF token
from the signed login cookie; a sign-in and a refused one are written to the access log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.access import AccessRefused, Principal
from infra.access_log import Access, Accessor, Outcome, record_access
from infra.authentication import UnauthenticatedError
from infra.tokens import IdentityProviderUnavailableError
from workers.workspace import oidc_login
from workers.workspace.session import PendingLogin, expiry, new_token
from workers.workspace.words_nl import word

if TYPE_CHECKING:
    from workers.workspace import Workspace

PREFIX = "/werkplek"
CALLBACK = f"{PREFIX}/oidc/terug"
_MAX_ID = 100


def mount_login(app: FastAPI, workspace: Workspace) -> None:
    settings = workspace.settings

    def dev_login() -> bool:
        return settings.dev_issuer_enabled

    def redirect_uri(request: Request) -> str:
        return str(request.url_for("workspace_oidc_callback"))

    async def log_sign_in(request: Request, principal: Principal | None, outcome: Outcome,
                          reason: str | None) -> None:
        accessor = Accessor.of(principal)
        async with workspace.desk.pool().acquire() as conn:
            await record_access(conn, Access(
                accessor=accessor, action="workspace_sign_in", outcome=outcome,
                request_id=getattr(request.state, "request_id", "") or new_token(),
                case_id=None, status=200 if outcome is Outcome.ALLOWED else 401,
                reason=reason))

    def login_page(request: Request, status_code: int = 200, error: str | None = None
                   ) -> HTMLResponse:
        pending = PendingLogin(expires=expiry(workspace.clock()), csrf=new_token())
        response = workspace.render(
            request, "login.html", status_code=status_code, title=word("login.title"),
            login_csrf=pending.csrf, dev=dev_login(), oidc=settings.workspace_oidc,
            oidc_ready=oidc_login.configured(settings), error=error,
            expired=request.query_params.get("verlopen") == "1")
        workspace.sessions.begin_login(response, request, pending)
        return response

    @app.get(f"{PREFIX}/inloggen", include_in_schema=False, response_class=HTMLResponse)
    async def sign_in_page(request: Request) -> Response:
        return login_page(request)

    @app.post(f"{PREFIX}/inloggen", include_in_schema=False, response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        pending = workspace.sessions.pending_login(request, workspace.clock())
        sent = form.get("csrf")
        if pending is None or not isinstance(sent, str) or sent != pending.csrf:
            return login_page(request, status.HTTP_400_BAD_REQUEST, word("login.expired"))
        if settings.workspace_oidc:
            if not oidc_login.configured(settings):
                return login_page(request, status.HTTP_503_SERVICE_UNAVAILABLE,
                                  word("login.not_configured"))
            target, remembered = oidc_login.authorization_redirect(
                settings, redirect_uri(request), pending)
            response: Response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
            workspace.sessions.begin_login(response, request, remembered)
            return response
        if not dev_login():
            return login_page(request, status.HTTP_403_FORBIDDEN, word("login.no_login"))
        professional_id = form.get("professional_id")
        if not isinstance(professional_id, str) or not 0 < len(professional_id) <= _MAX_ID:
            return login_page(request, status.HTTP_422_UNPROCESSABLE_CONTENT,
                              word("login.unknown"))
        return await start(request, professional_id.strip())

    async def start(request: Request, professional_id: str) -> Response:
        try:
            principal = await workspace.authenticator().professional(professional_id)
        except UnauthenticatedError as error:
            await log_sign_in(request, None, Outcome.UNAUTHENTICATED, str(error))
            return login_page(request, status.HTTP_401_UNAUTHORIZED, word("login.unknown"))
        await log_sign_in(request, principal, Outcome.ALLOWED, None)
        # A page of our own, not a redirect: after a cross-site sign-in a browser would
        # not send the SameSite=Strict cookie on a redirect that the provider started.
        response = workspace.render(request, "signed_in.html", title=word("login.done"))
        workspace.sessions.start(response, request, professional_id, workspace.clock())
        return response

    @app.get(CALLBACK, include_in_schema=False, name="workspace_oidc_callback",
             response_class=HTMLResponse)
    async def oidc_callback(request: Request) -> Response:
        pending = workspace.sessions.pending_login(request, workspace.clock())
        if not settings.workspace_oidc or not oidc_login.configured(settings):
            return login_page(request, status.HTTP_404_NOT_FOUND, word("login.no_login"))
        if pending is None:
            return login_page(request, status.HTTP_400_BAD_REQUEST, word("login.expired"))
        query = request.query_params
        try:
            professional_id = await oidc_login.exchange_code(
                settings, workspace.authenticator().tokens, redirect_uri(request), pending,
                query.get("code"), query.get("state"), query.get("error"))
        except oidc_login.LoginFailed as failure:
            await log_sign_in(request, None, Outcome.UNAUTHENTICATED, str(failure))
            return login_page(request, status.HTTP_401_UNAUTHORIZED,
                              f"{word('login.failed')}: {failure}")
        except IdentityProviderUnavailableError as error:
            return login_page(request, status.HTTP_503_SERVICE_UNAVAILABLE, str(error))
        return await start(request, professional_id)

    @app.post(f"{PREFIX}/uitloggen", include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        session = workspace.sessions.current(request, workspace.clock())
        if session is not None and form.get("csrf") != session.csrf:
            raise AccessRefused(word("csrf"))
        response = RedirectResponse(f"{PREFIX}/inloggen", status.HTTP_303_SEE_OTHER)
        workspace.sessions.end(response)
        return response
