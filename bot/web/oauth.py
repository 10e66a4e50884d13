"""GET /jira/oauth/callback: the browser comes back from Jira here."""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.services.linking import CallbackResult, LinkingService
from bot.slack.notifier import Notifier
from bot.slack.views.blocks import escape_mrkdwn
from bot.web.pages import render_page

log = logging.getLogger(__name__)
CALLBACK_PATH = "/jira/oauth/callback"


def oauth_callback_route(linking: LinkingService, notifier: Notifier) -> Route:
    async def callback(request: Request) -> Response:
        params = request.query_params
        result = await linking.complete(
            state=params.get("state"),
            code=params.get("code"),
            error=params.get("error"),
            error_description=params.get("error_description"),
        )
        log.info("jira.oauth.callback", extra={"status": result.status_code, "reason": result.reason})
        html = render_page(result.title, result.paragraphs, ok=result.ok)
        return HTMLResponse(
            html,
            status_code=result.status_code,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
            background=BackgroundTask(_tell_slack, notifier, result),
        )

    return Route(CALLBACK_PATH, callback, methods=["GET"])


async def _tell_slack(notifier: Notifier, result: CallbackResult) -> None:
    if not (result.team_id and result.slack_user_id and result.slack_text):
        return
    # The text names the Jira account and site, which Jira controls: shown as text, never as links.
    text = escape_mrkdwn(result.slack_text)
    await notifier.dm(result.team_id, result.slack_user_id, text, enterprise_id=result.enterprise_id)
    if result.linked:
        await notifier.refresh_home(result.team_id, result.slack_user_id, result.enterprise_id)
