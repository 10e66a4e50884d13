"""What the create-issue form remembers between requests, as plain values that both the Slack side
(which carries it in a modal's `private_metadata`, see bot.slack.metadata) and the services use."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class ModalState:
    """What the create-issue modal needs to remember between requests.

    ``channel_id``/``message_ts`` name the source message (``message_ts`` is None for `/jira create`,
    whose ``channel_id`` is where the command was run); ``thread_ts`` is the thread to reply in.
    ``project_key``/``project_id``/``issue_type_id`` say which form is shown, and ``fields`` which
    further inputs it has, as ``(field_id, kind)`` pairs. ``description_digest`` fingerprints the
    prefilled description; ``has_draft`` says the prefill (with the full message text) is kept
    server-side, and ``truncated`` that the message was too long for the description input.
    """

    channel_id: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    project_key: str | None = None
    project_id: str | None = None
    issue_type_id: str | None = None
    fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    description_digest: str | None = None
    has_draft: bool = False
    truncated: bool = False

    @property
    def from_message(self) -> bool:
        return self.channel_id is not None and self.message_ts is not None

    def for_form(self, project_key: str | None, project_id: str | None, issue_type_id: str | None,
                 fields: tuple[tuple[str, str], ...]) -> ModalState:
        return replace(self, project_key=project_key, project_id=project_id, issue_type_id=issue_type_id,
                       fields=fields)
