"""The bot served for real (uvicorn on 127.0.0.1) against the emulators, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bot.container import Components, build_components
from bot.settings import Settings, load_settings
from bot.web.app import create_asgi_app
from storage.db import async_database_url, create_engine, sqlite_file_path
from storage.migrate import upgrade
from tests.emulators.live import LiveServer, free_port
from tests.tls import CONTEXT as TLS

T = TypeVar("T")

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
ENCRYPTION_KEY = "6mGyDu5R7a0Pj3U8iQ4z3yS2xv2Ua8-4YbXrCw1Zq0M="
CLOUD_CLIENT_ID = "cloud-client-id"
CLOUD_CLIENT_SECRET = "cloud-client-secret-value"


#: How long an end-to-end test waits for an outcome that follows an ack. Generous: on a busy machine
#: the bot may answer Slack first ("Creating…") and reach Jira seconds later.
OUTCOME_TIMEOUT = 20.0


def wait_for(
    predicate: Callable[[], T | None], timeout: float = OUTCOME_TIMEOUT, *, interval: float = 0.02,
    message: str = "condition",
) -> T:
    """Polls `predicate` until it returns something truthy and returns it; fails after `timeout`
    seconds. End-to-end tests read every outcome that follows an ack through this, never after a
    fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)


class OffsetClock:
    """Real time plus an offset that tests move forward (token expiry, state expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def test_database_url(tmp_dir: str) -> str:
    """PostgreSQL when DATABASE_URL names it (CI's second run), else a fresh SQLite file."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql")):
        return configured
    return f"sqlite:///{tmp_dir}/jirabot-test.sqlite3"


_migrated_template: Path | None = None


def _sqlite_template() -> Path:
    """One SQLite file migrated with the project's migrations, once per test process."""
    global _migrated_template
    if _migrated_template is None:
        path = Path(tempfile.mkdtemp(prefix="jirabot-template-")) / "migrated.sqlite3"

        async def migrate() -> None:
            engine = create_engine(async_database_url(f"sqlite:///{path}", None))
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()

        asyncio.run(migrate())
        with sqlite3.connect(path) as connection:  # everything into the main file: it is copied alone
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        _migrated_template = path
    return _migrated_template


def start_from_migrated(database_url: str) -> None:
    """A test's SQLite file that does not exist yet starts as a copy of the migrated template, so that
    each test does not run every migration again (the bot still runs `upgrade`, which finds nothing
    to do). PostgreSQL, and files that exist already, are left as they are."""
    if not database_url:
        return
    path = sqlite_file_path(async_database_url(database_url, None))  # type: ignore[arg-type]
    if path is not None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_sqlite_template(), path)


class BotHarness:
    """One bot process-in-a-thread: its settings, components, clock and URL."""

    def __init__(
        self, settings: Settings, clock: OffsetClock, port: int, *, socket_mode: bool = False
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.components: Components = build_components(settings, clock=clock)
        self.live = LiveServer(create_asgi_app(self.components, socket_mode=socket_mode), port=port)
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(
        cls,
        *,
        database_url: str,
        slack_api_url: str,
        atlassian_url: str | None,
        clock: OffsetClock | None = None,
        socket_mode: bool = False,
        **overrides: Any,
    ) -> BotHarness:
        port = free_port()
        values: dict[str, Any] = {
            "slack_signing_secret": SIGNING_SECRET,
            "slack_bot_token": "xoxb-test-bot-token",
            "slack_api_url": slack_api_url,
            "database_url": database_url,
            "jirabot_public_url": f"http://127.0.0.1:{port}",
            "jirabot_encryption_key": ENCRYPTION_KEY,
            "atlassian_client_id": CLOUD_CLIENT_ID,
            "atlassian_client_secret": CLOUD_CLIENT_SECRET,
            "jirabot_scheduler": False,
            # The emulators, Data Center included, serve on 127.0.0.1: let the host fence allow it.
            "jirabot_jira_hosts": "127.0.0.1",
            "_env_file": None,
        }
        if atlassian_url:
            values["atlassian_auth_url"] = atlassian_url
            values["atlassian_api_url"] = atlassian_url
        values.update(overrides)
        start_from_migrated(values["database_url"])
        harness = cls(load_settings(**values), clock or OffsetClock(), port, socket_mode=socket_mode)
        harness.live.start()
        return harness

    @property
    def redirect_uri(self) -> str:
        return self.settings.oauth_redirect_uri

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Runs a coroutine on the bot's event loop (its engine and clients live there)."""
        assert self.live.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.live.loop).result(timeout)

    @property
    def storage(self) -> Any:
        return self.components.storage

    def stop(self) -> None:
        self.live.stop()


def browser(**cookies: str) -> httpx.Client:
    """A browser that follows redirects (Jira's authorize page → the bot's callback)."""
    return httpx.Client(follow_redirects=True, timeout=15, cookies=cookies, verify=TLS)
