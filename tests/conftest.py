"""Shared fixtures: the emulators (served once per session, reset per test), a fresh database per
test (SQLite file, or PostgreSQL from DATABASE_URL, emptied), and the bot served for real."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from storage.db import async_database_url, create_engine
from storage.migrate import upgrade
from storage.models import Base
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_driver import SlackDriver
from tests.harness import SIGNING_SECRET, BotHarness, OffsetClock, test_database_url
from tests.specs import specs_dir, under_ci


def pytest_report_header(config: pytest.Config) -> list[str]:
    url = os.environ.get("DATABASE_URL", "")
    database = "postgresql" if url.startswith(("postgres://", "postgresql")) else "sqlite"
    specs = "found" if specs_dir().is_dir() else "absent (spec checks skipped)"
    return [f"jirabot database: {database}", f"jirabot specs: {specs_dir()} ({specs})"]


def pytest_sessionstart(session: pytest.Session) -> None:
    if under_ci() and not specs_dir().is_dir():
        raise pytest.UsageError(f"CI requires the reference specs at {specs_dir()} (JIRABOT_SPECS_DIR)")


async def _reset_postgres(url: str) -> None:
    engine = create_engine(async_database_url(url, None))  # type: ignore[arg-type]
    try:
        await upgrade(engine)
        # DELETE and restarted sequences in one statement: the same empty tables as TRUNCATE … RESTART
        # IDENTITY, in a third of the time on tables this small (TRUNCATE swaps every table's files).
        async with engine.begin() as connection:
            sequences = (await connection.execute(text(
                "SELECT sequence_name FROM information_schema.sequences"
                " WHERE sequence_schema = current_schema()"
            ))).scalars().all()
            steps = [f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables)]
            steps += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
            await connection.execute(text("DO $$ BEGIN " + "; ".join(steps) + "; END $$"))
    finally:
        await engine.dispose()


@pytest.fixture
def database_url(tmp_path) -> str:
    url = test_database_url(str(tmp_path))
    if url.startswith("postgres"):
        asyncio.run(_reset_postgres(url))
    return url


@pytest.fixture(scope="session")
def slack_server() -> Iterator[SlackEmulator]:
    emulator = SlackEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def slack(slack_server: SlackEmulator) -> SlackEmulator:
    slack_server.reset()
    return slack_server


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def atlassian(clock: OffsetClock) -> Iterator[AtlassianEmulator]:
    """Shares the bot's clock, so moving time forward expires tokens on both sides."""
    emulator = AtlassianEmulator(clock=lambda: clock.now().timestamp())
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def bot(database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator,
        clock: OffsetClock) -> Iterator[BotHarness]:
    assert atlassian.base_url is not None
    harness = BotHarness.start(database_url=database_url, slack_api_url=slack.api_url,
                               atlassian_url=atlassian.base_url, clock=clock)
    yield harness
    harness.stop()


@pytest.fixture
def driver(bot: BotHarness, slack: SlackEmulator) -> Iterator[SlackDriver]:
    with SlackDriver(bot.url, SIGNING_SECRET, slack) as slack_driver:
        yield slack_driver
