"""The baseline: a bare slack-bolt AsyncApp whose only listener acknowledges `/jira`.

Served exactly as the bot is (uvicorn, Bolt's Starlette adapter, same uvicorn options, same signing
secret, same bot token and Slack API URL), in its own process, so that the bot's acknowledgement
figures can be read as a ratio of what its framework allows on this machine:

    python -m benchmarks.baseline --port 3100     # SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL
"""

from __future__ import annotations

import argparse
import logging
import os
import signal

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def build_app(signing_secret: str, token: str, slack_api_url: str) -> Starlette:
    bolt = AsyncApp(
        name="baseline",
        signing_secret=signing_secret,
        client=AsyncWebClient(token=token, base_url=slack_api_url, timeout=15),
        logger=logging.getLogger("slack_bolt"),
    )

    @bolt.command("/jira")
    async def jira(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baseline")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "warning").upper())
    app = build_app(
        os.environ["SLACK_SIGNING_SECRET"], os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_API_URL"]
    )
    # The same uvicorn options as `jirabot serve` (bot/cli.py).
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
