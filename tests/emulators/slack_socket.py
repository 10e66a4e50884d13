"""Socket Mode for the Slack emulator: `apps.connections.open` and the WebSocket link.

Slack's protocol: the app calls `apps.connections.open` with its app-level token (`xapp-…`) and gets a
`wss://` URL; on connecting it receives `{"type": "hello"}`; Slack then sends envelopes
`{"envelope_id", "type": "slash_commands" | "interactive" | "events_api", "payload",
"accepts_response_payload"}` and the app acknowledges each with `{"envelope_id", "payload"?}`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import uuid
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect


class SocketModeLink:
    """The server side of Socket Mode, attached to a SlackEmulator (its loop and base URL)."""

    def __init__(self) -> None:
        self.app_tokens: set[str] = set()
        self._tickets: set[str] = set()
        self._sockets: list[WebSocket] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None

    # Web API: apps.connections.open ------------------------------------------------------------
    def open_connection(self, token: str | None, ws_base: str) -> dict[str, Any]:
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token not in self.app_tokens:
            return {
                "ok": False,
                "error": "invalid_auth" if token.startswith("xapp-") else "not_allowed_token_type",
            }
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets.add(ticket)
        return {"ok": True, "url": f"{ws_base}/link/?ticket={ticket}&app_id=A0APP0001"}

    # The WebSocket ----------------------------------------------------------------------------
    async def endpoint(self, websocket: WebSocket) -> None:
        ticket = websocket.query_params.get("ticket", "")
        with self._lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            await websocket.close(code=4001)
            return
        await websocket.accept()
        self.loop = asyncio.get_running_loop()
        with self._lock:
            self._sockets.append(websocket)
        await websocket.send_text(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP0001"}})
        )
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                envelope_id = message.get("envelope_id")
                if envelope_id:
                    with self._lock:
                        self._acks[envelope_id] = message
        except WebSocketDisconnect:
            pass
        finally:
            with self._lock:
                if websocket in self._sockets:
                    self._sockets.remove(websocket)

    @property
    def connected(self) -> bool:
        with self._lock:
            return bool(self._sockets)

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Sends an envelope to the connected app (from any thread); returns its envelope_id."""
        with self._lock:
            if not self._sockets or self.loop is None:
                raise AssertionError("no app is connected over Socket Mode")
            socket = self._sockets[-1]
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        asyncio.run_coroutine_threadsafe(socket.send_text(json.dumps(envelope)), self.loop).result(5)
        return envelope_id

    def ack(self, envelope_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._acks.get(envelope_id)
