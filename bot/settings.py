"""Settings, read once from the environment and `.env`, validated at start.

Every variable of the operator interface lives here. Secrets are `SecretStr`, so they never print.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("data") / "jirabot.sqlite3"
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class SettingsError(Exception):
    """Settings are missing or malformed; `problems` holds one line per problem, naming the variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_signing_secret: SecretStr
    slack_bot_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    database_url: str = ""
    jirabot_public_url: str = "http://localhost:3000"
    jirabot_encryption_key: SecretStr | None = None
    jirabot_admins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    atlassian_client_id: str | None = None
    atlassian_client_secret: SecretStr | None = None
    atlassian_auth_url: str = "https://auth.atlassian.com"
    atlassian_api_url: str = "https://api.atlassian.com"

    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"

    # Background jobs (seconds unless said otherwise).
    jirabot_token_refresh_interval: int = Field(default=600, ge=10)
    jirabot_token_refresh_ahead: int = Field(default=900, ge=60)
    jirabot_refresh_idle_days: int = Field(default=30, ge=1, le=89)
    jirabot_cleanup_interval: int = Field(default=3600, ge=10)
    jirabot_audit_retention_days: int = Field(default=365, ge=1)
    jirabot_personal_data_interval: int = Field(default=86400, ge=60)
    jirabot_key_rotation_interval: int = Field(default=86400, ge=60)
    jirabot_job_lease_seconds: int = Field(default=60, ge=2)
    jirabot_webhook_refresh_interval: int = Field(default=86400, ge=10)
    jirabot_inbox_retention_days: int = Field(default=7, ge=1)
    jirabot_inbox_concurrency: int = Field(default=32, ge=1, le=200)
    jirabot_personal_window: float = Field(default=5.0, ge=0.0, le=10.0)
    jirabot_scheduler: bool = True
    jirabot_http_timeout: float = Field(default=10.0, gt=0)

    port: int = Field(default=3000, ge=1, le=65535)

    @field_validator("jirabot_admins", mode="before")
    @classmethod
    def _admins_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("jirabot_admins")
    @classmethod
    def _admins_are_slack_ids(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not _SLACK_ID.match(v)]
        if bad:
            raise ValueError(f"not Slack user IDs: {', '.join(bad)} (expected e.g. U012AB3CD)")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error", "critical"}:
            raise ValueError("expected one of debug, info, warning, error, critical")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        _require_http_url(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("jirabot_public_url", "atlassian_auth_url", "atlassian_api_url")
    @classmethod
    def _base_urls(cls, value: str) -> str:
        _require_http_url(value)
        return value.rstrip("/")

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("expected a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("expected an app-level token starting with xapp-")
        return value

    @field_validator("jirabot_encryption_key")
    @classmethod
    def _keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        from storage.crypto import parse_keys

        parse_keys(value.get_secret_value())  # raises ValueError with a clear message
        return value

    @model_validator(mode="after")
    def _modes(self) -> Settings:
        if self.slack_bot_token is None and not (self.slack_client_id and self.slack_client_secret):
            raise ValueError(
                "SLACK_BOT_TOKEN: required, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for "
                "multi-workspace mode"
            )
        if self.is_postgres and self.jirabot_encryption_key is None:
            raise ValueError(
                "JIRABOT_ENCRYPTION_KEY: required with PostgreSQL (generate one with `jirabot keygen`)"
            )
        return self

    # Derived values -------------------------------------------------------------------------
    @property
    def multi_workspace(self) -> bool:
        return self.slack_bot_token is None

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql"))

    @property
    def oauth_redirect_uri(self) -> str:
        return f"{self.jirabot_public_url}/jira/oauth/callback"

    @property
    def sqlite_path(self) -> Path | None:
        if self.is_postgres:
            return None
        if not self.database_url:
            return DEFAULT_SQLITE_PATH
        from storage.db import sqlite_file_path

        return sqlite_file_path(self.database_url)


def _require_http_url(value: str) -> None:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"expected an http(s) URL, got {value!r}")


def load_settings(**overrides: object) -> Settings:
    """Reads and validates settings; raises SettingsError with one line per problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        if loc:
            name = loc[0].upper()
            if error.get("type") == "missing":
                message = "required but not set"
            problems.append(f"{name}: {message}")
        else:
            problems.append(message)
    return problems
