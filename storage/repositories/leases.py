"""Job leases: each scheduled run executes on exactly one replica.

A replica runs a job only after taking its lease (a row per job, holder and expiry). A holder that
dies stops renewing; once the lease expires another replica takes it over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.models import JobLease


class LeaseRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def try_acquire(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        """Takes the lease if free, expired, or already ours; True when we hold it."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(JobLease)
                .where(
                    JobLease.name == name,
                    or_(
                        JobLease.holder.is_(None),
                        JobLease.holder == holder,
                        JobLease.expires_at.is_(None),
                        JobLease.expires_at <= now,
                    ),
                )
                .values(holder=holder, expires_at=now + ttl)
            )
            if result.rowcount == 1:
                return True
            exists = await session.scalar(select(JobLease.name).where(JobLease.name == name))
            if exists is not None:
                return False
        try:
            async with self._db.transaction() as session:
                session.add(JobLease(name=name, holder=holder, expires_at=now + ttl))
            return True
        except IntegrityError:
            return False

    async def renew(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(JobLease)
                .where(JobLease.name == name, JobLease.holder == holder)
                .values(expires_at=now + ttl)
            )
            return result.rowcount == 1

    async def release(self, name: str, holder: str, *, ran_at: datetime | None = None,
                      next_due_at: datetime | None = None) -> None:
        values: dict[str, object] = {"holder": None, "expires_at": None}
        if ran_at is not None:
            values["last_run_at"] = ran_at
        if next_due_at is not None:
            values["next_due_at"] = next_due_at
        async with self._db.transaction() as session:
            await session.execute(
                update(JobLease).where(JobLease.name == name, JobLease.holder == holder).values(**values)
            )

    async def get(self, name: str) -> JobLease | None:
        async with self._db.transaction() as session:
            return await session.scalar(select(JobLease).where(JobLease.name == name))
