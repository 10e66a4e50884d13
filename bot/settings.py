"""Settings, read once from the environment and `.env`, validated at start.

Every variable of the operator interface lives here. Secrets are `SecretStr`, so they never print.
`DatabaseSettings` is what the database commands need; `Settings` adds what serving Slack needs. Every
problem is reported at once, one line each, naming the variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.jira.hosts import HostPolicy
from storage.database_urls import database_url_problem

DEFAULT_SQLITE_PATH = Path("data") / "jirabot.sqlite3"
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

#: Where the README explains every setting (named by --help).
SETTINGS_DOCS = "README.md, section Settings (#settings)"
#: What must be set to serve, in words for --help.
REQUIRED_SETTINGS = (
    "SLACK_SIGNING_SECRET, and either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
    "SLACK_CLIENT_SECRET (several workspaces); with a postgresql:// DATABASE_URL also JIRABOT_ENCRYPTION_KEY"
)


class SettingsError(Exception):
    """Settings are missing or malformed; `problems` holds one line per problem, naming the variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _is_set(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is not None and str(value).strip() != ""


def _is_postgres_url(value: object) -> bool:
    return isinstance(value, str) and value.strip().startswith(("postgres://", "postgresql"))


class DatabaseSettings(BaseSettings):
    """What the database commands (`jirabot db upgrade`) need: the database, the key, logging."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = ""
    jirabot_encryption_key: SecretStr | None = None
    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = value.strip()
        problem = database_url_problem(value)
        if problem:
            raise ValueError(problem)
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

    @field_validator("jirabot_encryption_key")
    @classmethod
    def _keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        from storage.crypto import parse_keys

        parse_keys(value.get_secret_value())  # raises ValueError with a clear message
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """Problems of single variables and problems between variables, all in one SettingsError."""
        across = cls._problems_across(data) if isinstance(data, dict) else []
        try:
            settings = handler(data)
        except ValidationError as exc:
            raise SettingsError(describe_validation_error(exc) + across) from None
        if across:
            raise SettingsError(across)
        return settings

    @classmethod
    def _problems_across(cls, data: dict[str, Any]) -> list[str]:
        """Requirements that join several variables, checked on the raw values, so that they are
        reported in the same run as a malformed or missing variable."""
        return []

    # Derived values -------------------------------------------------------------------------
    @property
    def is_postgres(self) -> bool:
        return _is_postgres_url(self.database_url)

    @property
    def sqlite_path(self) -> Path | None:
        if self.is_postgres:
            return None
        if not self.database_url:
            return DEFAULT_SQLITE_PATH
        from storage.db import sqlite_file_path

        return sqlite_file_path(self.database_url)


class Settings(DatabaseSettings):
    """Everything `jirabot serve` and `jirabot check` need."""

    slack_signing_secret: SecretStr
    slack_bot_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    jirabot_public_url: str = "http://localhost:3000"
    jirabot_admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host names, IP addresses or CIDR ranges a Data Center base URL may point to (bot.jira.hosts).
    jirabot_jira_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    atlassian_client_id: str | None = None
    atlassian_client_secret: SecretStr | None = None
    atlassian_auth_url: str = "https://auth.atlassian.com"
    atlassian_api_url: str = "https://api.atlassian.com"

    # Background jobs (seconds unless said otherwise). The bounds are documented in README's table.
    jirabot_token_refresh_interval: int = Field(default=600, ge=10)
    jirabot_token_refresh_ahead: int = Field(default=900, ge=60)
    jirabot_refresh_idle_days: int = Field(default=30, ge=1, le=89)
    jirabot_cleanup_interval: int = Field(default=3600, ge=10)
    jirabot_create_stale_after: int = Field(default=180, ge=1)
    jirabot_audit_retention_days: int = Field(default=365, ge=1)
    jirabot_personal_data_interval: int = Field(default=86400, ge=60)
    jirabot_key_rotation_interval: int = Field(default=86400, ge=60)
    jirabot_job_lease_seconds: int = Field(default=60, ge=2)
    jirabot_webhook_refresh_interval: int = Field(default=86400, ge=10)
    jirabot_inbox_retention_days: int = Field(default=7, ge=1)
    jirabot_inbox_concurrency: int = Field(default=32, ge=1, le=200)
    jirabot_personal_window: float = Field(default=5.0, ge=0, le=10)
    jirabot_scheduler: bool = True
    jirabot_http_timeout: float = Field(default=10.0, gt=0)

    port: int = Field(default=3000, ge=1, le=65535)

    # OpenTelemetry traces go to this OTLP/HTTP collector when set (needs the `otel` extra).
    otel_exporter_otlp_endpoint: str | None = None

    @field_validator("jirabot_jira_hosts", mode="before")
    @classmethod
    def _jira_hosts_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("jirabot_jira_hosts")
    @classmethod
    def _jira_hosts(cls, value: list[str]) -> list[str]:
        from bot.jira.hosts import HostListError, parse_entry

        problems = []
        for entry in value:
            try:
                parse_entry(entry)
            except HostListError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems) + " (expected e.g. jira.internal, 10.0.0.5, 10.1.0.0/16)")
        return value

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

    @field_validator("otel_exporter_otlp_endpoint")
    @classmethod
    def _otlp_endpoint(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        _require_http_url(value.strip())
        return value.strip()

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

    @classmethod
    def _problems_across(cls, data: dict[str, Any]) -> list[str]:
        problems = []
        if not _is_set(data.get("slack_bot_token")) and not (
            _is_set(data.get("slack_client_id")) and _is_set(data.get("slack_client_secret"))
        ):
            problems.append(
                "SLACK_BOT_TOKEN: required, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for "
                "multi-workspace mode"
            )
        if _is_postgres_url(data.get("database_url")) and not _is_set(data.get("jirabot_encryption_key")):
            problems.append(
                "JIRABOT_ENCRYPTION_KEY: required with PostgreSQL (generate one with `jirabot keygen`)"
            )
        return problems

    # Derived values -------------------------------------------------------------------------
    @property
    def multi_workspace(self) -> bool:
        return self.slack_bot_token is None

    @property
    def jira_host_policy(self) -> HostPolicy:
        return HostPolicy.from_setting(self.jirabot_jira_hosts, multi_workspace=self.multi_workspace)

    @property
    def oauth_redirect_uri(self) -> str:
        return f"{self.jirabot_public_url}/jira/oauth/callback"


class PublicUrlSettings(BaseSettings):
    """What `jirabot manifest` reads: the bot's public address, when set."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    jirabot_public_url: str | None = None


def _require_http_url(value: str) -> None:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"expected an http(s) URL, got {value!r}")


def load_settings(**overrides: object) -> Settings:
    """Reads and validates settings; raises SettingsError with one line per problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def load_database_settings(**overrides: object) -> DatabaseSettings:
    """Only what the database commands need; raises SettingsError with one line per problem."""
    try:
        return DatabaseSettings(**overrides)  # type: ignore[arg-type]
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
