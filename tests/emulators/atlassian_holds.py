"""Knobs of the Atlassian emulator that act around a request Jira really handles.

``hold``: the request waits (Jira "is working on it") until the test releases it; then Jira handles
it, whether or not the client is still there, as a server that got the request would.
``answer_after``: Jira handles the request, and the client gets another answer instead (a proxy's 503
after Jira made the issue).
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response


@dataclass
class Hold:
    pattern: re.Pattern[str]
    method: str | None
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    handled: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()

    def wait_arrived(self, timeout: float = 10.0) -> bool:
        return self.arrived.wait(timeout)

    def wait_handled(self, timeout: float = 10.0) -> bool:
        return self.handled.wait(timeout)

    async def block(self) -> None:
        """Waits until the test, on another thread, releases it (polled: a thread blocked on the event
        would keep the interpreter from exiting after a failed test)."""
        self.arrived.set()
        while not self.released.is_set():  # noqa: ASYNC110 - set from another thread and event loop
            await asyncio.sleep(0.01)


@dataclass
class _Answer:
    pattern: re.Pattern[str]
    method: str | None
    status: int
    body: Any
    headers: dict[str, str]
    times: int

    def response(self) -> Response:
        if self.body is None:
            return Response(b"", status_code=self.status, headers=self.headers)
        if isinstance(self.body, dict | list):
            return JSONResponse(self.body, status_code=self.status, headers=self.headers)
        return Response(
            str(self.body), status_code=self.status, headers=self.headers, media_type="text/plain"
        )


class RequestHolds:
    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._holds: list[Hold] = []
        self._answers: list[_Answer] = []

    def hold(self, path_regex: str, method: str | None = None) -> Hold:
        hold = Hold(re.compile(path_regex), method.upper() if method else None)
        with self._lock:
            self._holds.append(hold)
        return hold

    def answer_after(
        self,
        path_regex: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
        times: int = 1,
    ) -> None:
        with self._lock:
            self._answers.append(
                _Answer(
                    re.compile(path_regex),
                    method.upper() if method else None,
                    status,
                    body,
                    dict(headers or {}),
                    times,
                )
            )

    def take_hold(self, method: str, path: str) -> Hold | None:
        """The first hold that matches (each holds one request)."""
        with self._lock:
            for hold in self._holds:
                if hold.pattern.search(path) and hold.method in (None, method):
                    self._holds.remove(hold)
                    return hold
        return None

    def take_answer(self, method: str, path: str) -> Response | None:
        with self._lock:
            for answer in self._answers:
                if answer.pattern.search(path) and answer.method in (None, method):
                    answer.times -= 1
                    if answer.times <= 0:
                        self._answers.remove(answer)
                    return answer.response()
        return None

    def clear(self) -> None:
        with self._lock:
            for hold in self._holds:
                hold.release()
            self._holds.clear()
            self._answers.clear()
