"""The Slack end of personal notifications: a grouped DM goes to its recipient through the paced sender
(one message at a time per conversation, Slack's 429 `Retry-After` honoured there)."""

from __future__ import annotations

import logging

from bot.services.inbox import TransientDeliveryError
from bot.services.personal import PersonalDm
from bot.slack.sender import ChannelSender, SlackSendFailed, SlackUnavailable
from bot.slack.views.personal import build_personal_dm

log = logging.getLogger(__name__)


class PersonalDmPoster:
    def __init__(self, sender: ChannelSender) -> None:
        self._sender = sender

    async def __call__(self, dm: PersonalDm) -> None:
        tenant = dm.tenant
        try:
            await self._sender.post(
                tenant.team_id, tenant.enterprise_id, dm.slack_user_id, build_personal_dm(dm)
            )
        except SlackUnavailable as exc:
            raise TransientDeliveryError(f"slack: {exc}") from exc
        except SlackSendFailed as exc:
            log.warning("slack.personal.refused", extra={"team_id": tenant.team_id, "error": exc.error})
