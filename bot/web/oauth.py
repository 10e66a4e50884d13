"""The browser's side of an authorization (bot.services.authorizations):

- `GET /jira/oauth/start?state=…`: the link in Slack; remembers this browser (a cookie) and sends it
  on to Jira's authorization page.
- `GET /jira/oauth/callback`: Jira sends the browser back here; the page names who is being linked to
  whom and holds the confirmation form.
- `POST /jira/oauth/callback`: the form's "Confirm" makes the link or install;
  `POST /jira/oauth/cancel`: its "Cancel" makes nothing.

The cookie is HttpOnly, SameSite=Lax (sent when Jira redirects the browser back, never on another
site's POST) and Secure when the bot's public URL is https.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qsl

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.services.authorizations import AuthorizationService, CallbackResult
from bot.services.linking import START_PATH
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import Notifier
from bot.slack.views.blocks import escape_mrkdwn
from bot.web.pages import ConfirmationPage, render_confirmation, render_page

log = logging.getLogger(__name__)
CALLBACK_PATH = "/jira/oauth/callback"
CANCEL_PATH = "/jira/oauth/cancel"
BROWSER_COOKIE = "jirabot_browser"
COOKIE_PATH = "/jira/oauth"
COOKIE_MAX_AGE = 3600
FORM_LIMIT = 4096
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def oauth_routes(
    authorizations: AuthorizationService, notifier: Notifier, directory: SlackDirectory, public_url: str
) -> list[Route]:
    secure = public_url.lower().startswith("https://")

    def remember_browser(response: Response, browser: str) -> Response:
        response.set_cookie(
            BROWSER_COOKIE,
            browser,
            max_age=COOKIE_MAX_AGE,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=secure,
        )
        return response

    def page(result: CallbackResult) -> Response:
        log.info("jira.oauth.page", extra={"status": result.status_code, "reason": result.reason})
        return HTMLResponse(
            render_page(result.title, result.paragraphs, ok=result.ok),
            status_code=result.status_code,
            headers=_NO_STORE,
            background=BackgroundTask(_tell_slack, notifier, result),
        )

    def head_only(request: Request) -> Response | None:
        """A HEAD (link checkers, previews) neither claims a state nor uses a code."""
        if request.method != "HEAD":
            return None
        return HTMLResponse(
            render_page(
                "Open this link in your browser", ["Open this link in a browser to continue."], ok=True
            ),
            headers=_NO_STORE,
        )

    async def start(request: Request) -> Response:
        if (response := head_only(request)) is not None:
            return response
        browser = _browser_of(request) or secrets.token_urlsafe(32)
        result = await authorizations.start(state=request.query_params.get("state"), browser=browser)
        if result.redirect_to is None:
            return page(result)
        return remember_browser(
            RedirectResponse(result.redirect_to, status_code=302, headers=_NO_STORE), browser
        )

    async def callback(request: Request) -> Response:
        if (response := head_only(request)) is not None:
            return response
        params = request.query_params
        browser = _browser_of(request)
        result = await authorizations.complete(
            state=params.get("state"),
            code=params.get("code"),
            error=params.get("error"),
            error_description=params.get("error_description"),
            browser=browser,
        )
        confirmation = result.confirmation
        if confirmation is None or browser is None or result.team_id is None or result.slack_user_id is None:
            return page(result)
        names = await directory.names(result.team_id, result.slack_user_id, result.enterprise_id)
        jira_account = confirmation.jira_name
        if confirmation.jira_email and confirmation.jira_email != confirmation.jira_name:
            jira_account = f"{confirmation.jira_name} ({confirmation.jira_email})"
        html = render_confirmation(
            ConfirmationPage(
                install=confirmation.install,
                slack_user=names.user,
                workspace=names.workspace,
                jira_account=jira_account,
                site=confirmation.site,
                confirm_action=f"{public_url}{CALLBACK_PATH}",
                cancel_action=f"{public_url}{CANCEL_PATH}",
                token=confirmation.token,
            )
        )
        log.info("jira.oauth.page", extra={"status": 200, "reason": result.reason})
        return remember_browser(HTMLResponse(html, headers=_NO_STORE), browser)

    async def confirm(request: Request) -> Response:
        token = await _form_token(request)
        return page(await authorizations.confirm(token=token, browser=_browser_of(request)))

    async def cancel(request: Request) -> Response:
        token = await _form_token(request)
        return page(await authorizations.cancel(token=token, browser=_browser_of(request)))

    return [
        Route(START_PATH, start, methods=["GET"]),
        Route(CALLBACK_PATH, callback, methods=["GET"]),
        Route(CALLBACK_PATH, confirm, methods=["POST"]),
        Route(CANCEL_PATH, cancel, methods=["POST"]),
    ]


def _browser_of(request: Request) -> str | None:
    value = request.cookies.get(BROWSER_COOKIE, "")
    return value if 20 <= len(value) <= 100 else None


async def _form_token(request: Request) -> str | None:
    """The confirmation form's token, from a small urlencoded body (anything else has none)."""
    if not request.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return None
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    token = fields.get("confirmation", "")
    return token if 0 < len(token) <= 100 else None


async def _tell_slack(notifier: Notifier, result: CallbackResult) -> None:
    if not (result.team_id and result.slack_user_id and result.slack_text):
        return
    # The text names the Jira account and site, which Jira controls: shown as text, never as links.
    text = escape_mrkdwn(result.slack_text)
    await notifier.dm(result.team_id, result.slack_user_id, text, enterprise_id=result.enterprise_id)
    if result.linked:
        await notifier.refresh_home(result.team_id, result.slack_user_id, result.enterprise_id)
