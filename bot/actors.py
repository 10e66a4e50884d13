"""Who a request comes from, as plain values that both the Slack side and the services use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A Slack user in a workspace (``team_id`` is the enterprise id for org-wide installs)."""

    team_id: str
    enterprise_id: str | None
    user_id: str
