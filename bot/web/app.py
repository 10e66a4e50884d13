"""The ASGI application: Slack's endpoint, the Jira OAuth callback, health."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.container import Components
from bot.observability.asgi import RequestObserver
from bot.observability.tracing import trace_from_settings
from bot.web.headers import SecurityHeaders
from bot.web.limits import RequestLimits
from storage.migrate import upgrade

log = logging.getLogger(__name__)


def create_asgi_app(components: Components, *, migrate: bool = True, socket_mode: bool = False) -> Starlette:
    handler = AsyncSlackRequestHandler(components.bolt)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        try:
            await components.storage.db.ping()
        except Exception:
            log.warning("health.database_unreachable", exc_info=True)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if components.settings.multi_workspace:
        routes += [
            Route("/slack/install", slack_events, methods=["GET"]),
            Route("/slack/oauth_redirect", slack_events, methods=["GET"]),
        ]
    routes += components.routes

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if migrate:
            await upgrade(components.storage.db.engine)
        for start in components.startup:
            await start()
        socket_handler = await _start_socket_mode(components) if socket_mode else None
        log.info(
            "app.started",
            extra={"multi_workspace": components.settings.multi_workspace, "socket_mode": socket_mode},
        )
        try:
            yield
        finally:
            if socket_handler is not None:
                await socket_handler.close_async()
            for stop in reversed(components.shutdown):
                await stop()
            await components.aclose()
            log.info("app.stopped")

    # Outermost: request ids, HTTP and Slack metrics for every answer, refusals included; then bodies
    # capped and Slack's signature checked before any route reads them; security headers on every page.
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[
        Middleware(RequestObserver, routes=routes),
        Middleware(RequestLimits, signing_secret=components.settings.slack_signing_secret.get_secret_value()),
        Middleware(SecurityHeaders),
    ])
    trace_from_settings(components, app)
    return app


async def _start_socket_mode(components: Components) -> Any:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.slack.app import new_web_client

    settings = components.settings
    assert settings.slack_app_token is not None
    app_token = settings.slack_app_token.get_secret_value()
    handler = AsyncSocketModeHandler(
        components.bolt, app_token, web_client=new_web_client(settings, app_token)
    )
    await handler.connect_async()
    return handler
