"""One id per unit of work (a Slack request, an OAuth callback, a webhook delivery), carried by a context
variable into every log line it causes, including lines logged by tasks spawned after Slack's ack
(asyncio copies the context into the tasks it creates)."""

from __future__ import annotations

import logging
import random
import re
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("jirabot_request_id", default=None)
# Ids that come from outside (Slack's event and trigger ids, Atlassian's delivery ids) end up in logs:
# only plain, short ones are taken as they are.
_SAFE = re.compile(r"[A-Za-z0-9._:-]{1,100}")


def new_request_id() -> str:
    """16 hex digits; an id to find log lines by, not a secret (so no system call for it)."""
    return f"{random.getrandbits(64):016x}"


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(candidate: str | None = None) -> str:
    """Makes `candidate` (or a new id, when it is missing or not plain) the current request id."""
    value = candidate if candidate and _SAFE.fullmatch(candidate) else new_request_id()
    _request_id.set(value)
    return value


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to each record logged while a request id is bound."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True
