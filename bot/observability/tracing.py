"""OpenTelemetry traces, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set and the `otel` extra is
installed (`pip install 'jirabot[otel]'`).

The official instrumentations make the spans: incoming requests (Starlette), Jira and Atlassian calls
(httpx), Slack Web API calls (aiohttp client), database work (SQLAlchemy); each job run is a span of its
own. Work done after Slack's ack (lazy listeners, tasks) stays in the request's trace: the trace
context, like the request id, travels in context variables that asyncio copies into new tasks.
Spans go over OTLP/HTTP (protobuf) to `{OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`; the exporter's other
`OTEL_*` variables (headers, timeouts, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`) apply as usual.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

if TYPE_CHECKING:
    from bot.container import Components

log = logging.getLogger(__name__)

SERVICE_NAME = "jirabot"


class Tracing:
    """The tracer provider of one app, and what to undo when the app stops."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    async def shutdown(self) -> None:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().uninstrument()
        self.provider.shutdown()  # flushes what is still queued


def trace_from_settings(components: Components, app: Starlette) -> Tracing | None:
    endpoint = components.settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning("tracing.unavailable", extra={"hint": "pip install 'jirabot[otel]'"})
        return None
    # A traces-only endpoint, when given, is the exporter's to read; else ours, as the spec appends it.
    explicit = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    exporter = (
        OTLPSpanExporter() if explicit else OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    )
    tracing = enable_tracing(components, app, exporter)
    trace.set_tracer_provider(tracing.provider)
    log.info("tracing.enabled", extra={"endpoint": explicit or endpoint})
    return tracing


def enable_tracing(components: Components, app: Starlette, exporter: Any, *, batch: bool = True) -> Tracing:
    """Sends the spans of this app to `exporter` (batched; `batch=False` exports each span as it ends)."""
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.instrumentation.starlette import StarletteInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    StarletteInstrumentor.instrument_app(app, tracer_provider=provider)
    HTTPXClientInstrumentor.instrument_client(components.http, tracer_provider=provider)
    components.services["slack_connections"].trace_configs.append(
        create_trace_config(tracer_provider=provider)
    )
    # The instrumentation declares SQLAlchemy < 2.1 while it works with 2.1 (same engine events).
    SQLAlchemyInstrumentor().instrument(
        engine=components.storage.db.engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )
    scheduler = components.services.get("scheduler")
    if scheduler is not None:
        scheduler.tracer = provider.get_tracer("jirabot.jobs")
    tracing = Tracing(provider)
    components.shutdown.insert(0, tracing.shutdown)  # stops run in reverse: flush last
    return tracing
