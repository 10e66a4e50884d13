"""Linking views as data, and Slack would accept every one of them."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.linking import AdminStatus, UserStatus
from bot.slack.commands import parse_command
from bot.slack.views import linking as views
from bot.slack.views.help import build_help_message
from storage.repositories.accounts import AccountRecord
from storage.repositories.tenants import TenantCounts, TenantRecord
from tests.emulators.slack import validate_blocks, validate_view

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
TENANT = TenantRecord(
    1, "T1", None, "cloud", "https://acme.atlassian.net", "acme", "c1", None, None, "U0ADMIN", NOW, None, None
)
ACCOUNT = AccountRecord(
    1, 1, "T1", "U1", "acc-1", "Bob Builder", "bob@x", "at", "rt", NOW, None, "linked", NOW, NOW, None, None
)
URL = "https://auth.atlassian.com/authorize?state=" + "x" * 300


def test_parse_command() -> None:
    assert parse_command("").name == "help"
    assert parse_command("  CONNECT ").name == "connect"
    assert (
        parse_command("admin install https://a.atlassian.net").name,
        parse_command("admin install https://a.atlassian.net").args,
    ) == ("admin install", "https://a.atlassian.net")
    assert parse_command("admin frob").name == "unknown"
    assert parse_command("create Fix the printer").args == "Fix the printer"


def test_every_message_is_valid_block_kit() -> None:
    messages = [
        build_help_message(),
        build_help_message("frob"),
        views.build_connect_message(URL, "acme.atlassian.net"),
        views.build_already_linked_message(UserStatus(TENANT, ACCOUNT), URL),
        views.build_install_link_message(
            URL, "acme.atlassian.net", ["I used the site https://acme.atlassian.net"]
        ),
        views.build_status_message(UserStatus(None, None)),
        views.build_disconnect_prompt(UserStatus(TENANT, ACCOUNT)),
        views.build_uninstall_prompt(AdminStatus(TENANT, TenantCounts(3, 1))),
        views.build_admin_status_message(AdminStatus(TENANT, TenantCounts(3, 1))),
        views.build_reconnect_dm("acme.atlassian.net"),
    ]
    for message in messages:
        assert message["text"]
        assert validate_blocks(message["blocks"], "message") == []


def test_every_view_is_valid_block_kit() -> None:
    for view in (
        views.build_install_modal("https://bot/jira/oauth/callback"),
        views.build_install_modal("https://bot/cb", initial_url="https://corp/jira", cloud_available=False),
        views.build_authorize_modal("Connect Jira", "Last step", URL, ["note"]),
        views.build_info_modal("Jira", views.NOT_INSTALLED),
    ):
        assert validate_view(view) == []
    for status, admin in (
        (UserStatus(None, None), None),
        (UserStatus(TENANT, None), None),
        (UserStatus(TENANT, ACCOUNT), AdminStatus(TENANT, TenantCounts(1, 0))),
    ):
        assert validate_view(views.build_home_view(status, admin)) == []


def test_status_text_for_each_state() -> None:
    assert views.status_text(UserStatus(None, None)) == views.NOT_INSTALLED
    assert "not connected" in views.status_text(UserStatus(TENANT, None))
    assert "connected as *Bob Builder* on acme.atlassian.net" in views.status_text(
        UserStatus(TENANT, ACCOUNT)
    )
    broken = AccountRecord(**{**ACCOUNT.__dict__, "status": "needs_reconnect"})
    assert "needs a reconnect" in views.status_text(UserStatus(TENANT, broken))


def test_disconnect_button_carries_a_confirm_dialog() -> None:
    message = views.build_disconnect_prompt(UserStatus(TENANT, ACCOUNT))
    button = message["blocks"][1]["elements"][0]
    assert button["action_id"] == "jira_disconnect" and button["style"] == "danger"
    assert button["confirm"]["title"]["text"] == "Disconnect Jira?"
    assert button["confirm"]["confirm"]["text"] == "Disconnect"


def test_install_modal_shows_the_redirect_uri_to_paste() -> None:
    view = views.build_install_modal("https://bot.example/jira/oauth/callback")
    assert any("https://bot.example/jira/oauth/callback" in str(b) for b in view["blocks"])
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["Jira type", "Base URL", "Client ID", "Client secret"]
