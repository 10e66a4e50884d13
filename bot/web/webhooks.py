"""`POST /jira/webhooks/{token}`: Jira's deliveries, verified, then committed to the inbox before Jira is
answered 2xx. The token in the path names the tenant; the proof is the JWT (Cloud) or the HMAC
signature (Data Center). Unverified → 401 and nothing kept; a redelivery (same
`X-Atlassian-Webhook-Identifier`) is answered 200 and not stored again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.clock import Clock
from bot.jira.events import issue_key_of
from bot.web.webhook_auth import Unverified, verify_cloud_jwt, verify_dc_signature
from storage.repositories.inbox import InboxRepository
from storage.repositories.tenants import TenantRecord
from storage.repositories.webhooks import EndpointRecord
from storage.store import Storage

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/jira/webhooks"
MAX_BODY = 1024 * 1024
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
ENDPOINT_CACHE_SECONDS = 10.0
BUSY_AFTERGLOW = 0.2


class _TooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, error: str | None = None) -> JSONResponse:
    return JSONResponse({"ok": error is None, **({"error": error} if error else {})}, status_code=status)


class WebhookReceiver:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        *,
        cloud_secret: str | None,
        on_stored: Callable[[], None] | None = None,
        inbox: InboxRepository | None = None,
    ) -> None:
        self._storage = storage
        # Its own connections on PostgreSQL, so that a burst is stored without waiting for the pool
        # that delivery work holds.
        self._inbox = inbox or storage.inbox
        self._in_flight = 0
        self._last_seen = 0.0
        self._clock = clock
        self._cloud_secret = cloud_secret
        self._on_stored = on_stored
        self._endpoints: dict[str, tuple[float, EndpointRecord | None, TenantRecord | None]] = {}

    async def _endpoint(self, token: str) -> tuple[EndpointRecord | None, TenantRecord | None]:
        """The endpoint and its tenant, remembered for a few seconds (a burst of deliveries reads them
        once, not once each)."""
        now = time.monotonic()
        cached = self._endpoints.get(token)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        endpoint = await self._storage.webhooks.endpoint_by_token(token)
        tenant = await self._storage.tenants.get_by_id(endpoint.tenant_id) if endpoint else None
        if len(self._endpoints) > 1000:
            self._endpoints.clear()
        self._endpoints[token] = (now + ENDPOINT_CACHE_SECONDS, endpoint, tenant)
        return endpoint, tenant

    def routes(self) -> list[Route]:
        return [
            Route(WEBHOOK_PATH, self.receive, methods=["POST"]),
            Route(WEBHOOK_PATH + "/{token}", self.receive, methods=["POST"]),
            Route(WEBHOOK_PATH + "/{token}/{rest:path}", self.receive, methods=["POST"]),
        ]

    @property
    def busy(self) -> bool:
        """Deliveries are being received right now (or were, a moment ago)."""
        return self._in_flight > 0 or time.monotonic() - self._last_seen < BUSY_AFTERGLOW

    async def receive(self, request: Request) -> Response:
        self._in_flight += 1
        self._last_seen = time.monotonic()
        try:
            return await self._receive(request)
        finally:
            self._in_flight -= 1

    async def _receive(self, request: Request) -> Response:
        try:
            body = await _read_body(request)
        except _TooLarge:
            return _answer(413, "too_large")
        token = request.path_params.get("token")
        endpoint, tenant = await self._endpoint(token) if token else (None, None)
        if endpoint is None or tenant is None:
            log.warning("jira.webhook.unknown_endpoint")
            return _answer(401, "unverified")
        try:
            if tenant.is_cloud:
                if not self._cloud_secret:
                    raise Unverified("cloud_secret_unset")
                verify_cloud_jwt(
                    request.headers.get("authorization"),
                    self._cloud_secret,
                    now=self._clock.now().timestamp(),
                )
            else:
                if not endpoint.secret:
                    raise Unverified("secret_unset")
                verify_dc_signature(request.headers.get("x-hub-signature"), body, endpoint.secret)
        except Unverified as exc:
            log.warning("jira.webhook.unverified", extra={"reason": exc.reason, "team_id": tenant.team_id})
            return _answer(401, "unverified")
        try:
            payload = json.loads(body)
        except ValueError:
            return _answer(400, "invalid_json")
        if not isinstance(payload, dict):
            return _answer(400, "invalid_json")
        identifier = (request.headers.get(IDENTIFIER_HEADER) or "").strip()[:100]
        delivery_id = (
            f"{tenant.id}:{identifier}"
            if identifier
            else (f"{tenant.id}:sha256:{hashlib.sha256(body).hexdigest()}")
        )
        stored = await self._inbox.add(
            delivery_id=delivery_id,
            tenant_id=tenant.id,
            issue_key=issue_key_of(payload),
            event=str(payload.get("webhookEvent") or "")[:64],
            payload=payload,
            now=self._clock.now(),
        )
        if stored and self._on_stored is not None:
            self._on_stored()
        log.info(
            "jira.webhook.received" if stored else "jira.webhook.duplicate",
            extra={"team_id": tenant.team_id, "event": payload.get("webhookEvent")},
        )
        return _answer(200)
