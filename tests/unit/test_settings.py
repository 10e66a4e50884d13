"""Settings: every variable read and validated, one line per problem, secrets never shown."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings
from storage.crypto import generate_key

BASE = {"slack_signing_secret": "s3cret", "slack_bot_token": "xoxb-1-2", "_env_file": None}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read settings from the environment: the test run's own (DATABASE_URL…) must not leak in."""
    import os

    for name in list(os.environ):
        if name.startswith(("SLACK_", "JIRABOT_", "ATLASSIAN_", "LOG_")) or name in {"DATABASE_URL", "PORT"}:
            monkeypatch.delenv(name)


def test_defaults_are_sensible() -> None:
    settings = load_settings(**BASE)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.atlassian_auth_url == "https://auth.atlassian.com"
    assert settings.atlassian_api_url == "https://api.atlassian.com"
    assert settings.port == 3000 and settings.log_level == "info" and settings.log_format == "text"
    assert not settings.multi_workspace and not settings.is_postgres
    assert settings.oauth_redirect_uri == "http://localhost:3000/jira/oauth/callback"


def test_urls_are_normalised_and_admins_split() -> None:
    settings = load_settings(
        **BASE,
        slack_api_url="http://127.0.0.1:9/api",
        jirabot_public_url="https://bot.x/",
        jirabot_admins="U012AB3CD, W0ABCDEF1",
        log_format="JSON",
    )
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.oauth_redirect_uri == "https://bot.x/jira/oauth/callback"
    assert settings.jirabot_admins == ["U012AB3CD", "W0ABCDEF1"]
    assert settings.log_format == "json"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "from-env")
    monkeypatch.setenv("SLACK_CLIENT_ID", "123.456")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("JIRABOT_ADMINS", "U0ADMIN01")
    settings = load_settings(_env_file=None)
    assert settings.slack_signing_secret.get_secret_value() == "from-env"
    assert settings.multi_workspace
    assert settings.jirabot_admins == ["U0ADMIN01"]


def test_problems_are_listed_one_per_line_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            slack_signing_secret="s",
            slack_bot_token="nope",
            slack_app_token="bad",
            jirabot_admins="someone",
            slack_api_url="ftp://x",
            jirabot_encryption_key="not-a-key",
            port=0,
            _env_file=None,
        )
    names = [line.split(":")[0] for line in caught.value.problems]
    assert names == sorted(set(names), key=names.index)
    assert set(names) == {
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "JIRABOT_ADMINS",
        "SLACK_API_URL",
        "JIRABOT_ENCRYPTION_KEY",
        "PORT",
    }
    text = "\n".join(caught.value.problems)
    assert "nope" not in text and "not-a-key" not in text


def test_a_workspace_mode_is_required() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(slack_signing_secret="s", _env_file=None)
    assert caught.value.problems[0].startswith("SLACK_BOT_TOKEN: required, or SLACK_CLIENT_ID")


def test_postgres_requires_an_encryption_key() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**BASE, database_url="postgresql://db/jirabot")
    assert caught.value.problems[0].startswith("JIRABOT_ENCRYPTION_KEY: required with PostgreSQL")
    settings = load_settings(
        **BASE,
        database_url="postgresql://db/jirabot",
        jirabot_encryption_key=f"{generate_key()},{generate_key()}",
    )
    assert settings.is_postgres


def test_secrets_do_not_print() -> None:
    settings = load_settings(**BASE, slack_client_secret="very-secret-value")
    assert "s3cret" not in repr(settings) and "xoxb-1-2" not in repr(settings)
    assert "very-secret-value" not in str(settings.model_dump())


def test_every_bound_of_a_setting_is_in_the_readme_settings_table() -> None:
    from pathlib import Path

    from annotated_types import Ge, Gt, Le

    from bot.settings import Settings

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {line.split("`")[1]: line for line in readme.splitlines() if line.startswith("| `")}
    checked = 0
    for name, field in Settings.model_fields.items():
        bounds = {type(m): m for m in field.metadata if isinstance(m, Ge | Gt | Le)}
        if not bounds:
            continue
        row = rows[name.upper()]
        if Ge in bounds and Le in bounds:
            expected = f"{bounds[Ge].ge}–{bounds[Le].le}"
        elif Ge in bounds:
            expected = f"at least {bounds[Ge].ge}"
        else:
            expected = f"more than {bounds[Gt].gt:g}"
        assert expected in row, f"{name.upper()}: README does not say {expected!r}"
        checked += 1
    assert checked >= 9
