"""`GET /metrics`: Prometheus text format, the totals of every worker (see bot.observability.metrics)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.observability.metrics import Metrics


def metrics_route(metrics: Metrics) -> Route:
    async def scrape(_: Request) -> Response:
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", scrape, methods=["GET"])
