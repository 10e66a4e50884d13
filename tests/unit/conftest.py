"""Fixtures of the unit tests that work on the test database (SQLite, or PostgreSQL in CI's second run)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.crypto import Encryptor, generate_key
from storage.db import async_database_url, create_engine
from storage.migrate import upgrade
from storage.store import Storage


@pytest.fixture
async def storage(database_url: str, tmp_path) -> AsyncIterator[Storage]:
    """The repositories on a migrated test database, with a key of their own."""
    engine = create_engine(async_database_url(database_url, tmp_path / "x.sqlite3"))
    await upgrade(engine)
    yield Storage.create(engine, Encryptor.from_string(generate_key()))
    await engine.dispose()
