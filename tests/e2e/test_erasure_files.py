"""Erasure that erases: once Atlassian reports an account closed, the person's name and e-mail are gone
from the SQLite database files themselves (main file and write-ahead log), not only from its tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.jobs import tasks
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.slack import SlackEmulator
from tests.harness import BotHarness, OffsetClock
from tests.unit.test_jobs import ALICE, CloudSeed, service

ZELDA = "5b10ac8d82e05b22cc7d4e1d"
NAME = "Zelda Zebulon-Quist"
EMAIL = f"{ZELDA}@acme.test"


@pytest.fixture
def cloud(
    bot: BotHarness, slack: SlackEmulator, atlassian: AtlassianEmulator, clock: OffsetClock
) -> CloudSeed:
    return CloudSeed(bot, slack, atlassian, clock)


def _files(bot: BotHarness) -> list[Path]:
    database = make_url(bot.settings.database_url).database
    assert database
    return [Path(database), Path(f"{database}-wal")]


def _held(bot: BotHarness, needle: bytes) -> list[str]:
    return [path.name for path in _files(bot) if path.exists() and needle in path.read_bytes()]


def test_a_closed_account_leaves_no_name_or_email_in_the_sqlite_files(
    bot: BotHarness, cloud: CloudSeed, atlassian: AtlassianEmulator
) -> None:
    if bot.storage.db.is_postgres:
        pytest.skip("SQLite files; PostgreSQL's dead tuples are vacuumed (see README)")
    cloud.link(ALICE, ZELDA, NAME)
    assert _held(bot, EMAIL.encode()), "the e-mail should be stored while linked"
    atlassian.close_account(ZELDA)

    outcome = bot.run(tasks.personal_data(service(bot, "personal_data")))

    assert outcome.counts["links_erased"] == 1
    assert bot.run(bot.storage.accounts.get(cloud.tenant.team_id, ALICE)) is None
    assert _held(bot, EMAIL.encode()) == []
    assert _held(bot, NAME.encode()) == []
