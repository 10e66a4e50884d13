"""How the process starts: the Bolt app built without warnings, and modules that import one way."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from bot.settings import load_settings
from bot.slack.app import build_bolt_app

BOT = Path(__file__).resolve().parents[2] / "bot"


def test_the_bolt_app_takes_the_bot_token_without_a_warning(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")  # Bolt reads it too
    settings = load_settings(slack_signing_secret="s", slack_bot_token="xoxb-from-the-environment",
                             slack_api_url="http://127.0.0.1:9/api/", database_url="", _env_file=None)
    caplog.set_level(logging.DEBUG)
    app = build_bolt_app(settings, engine=None, installation_store=None)  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert app.client.token == "xoxb-from-the-environment"
    assert app.client.base_url == "http://127.0.0.1:9/api/"  # every Web API call goes to SLACK_API_URL
    assert app.client.retry_handlers and app.client.timeout == 15


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_the_command_line_and_the_served_app_import_one_way() -> None:
    assert "bot.cli" not in _imports(BOT / "web" / "factory.py")
    assert "bot.cli" not in _imports(BOT / "boot.py") and "bot.web.factory" not in _imports(BOT / "boot.py")
