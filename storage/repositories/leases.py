"""Job leases: each scheduled run executes on exactly one replica.

A replica runs a job only after taking its lease (a row per job, holder and expiry). A holder that
dies stops renewing; once the lease expires another replica takes it over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.database import Database
from storage.models import JobLease


@dataclass(frozen=True)
class LeaseClaim:
    """The answer to `claim_due`: whether we now hold the run, and else what stands in the way."""

    acquired: bool
    holder: str | None = None
    expires_at: datetime | None = None
    next_due_at: datetime | None = None

    def next_check(self, now: datetime) -> datetime:
        """When to look again: when the run falls due, or when another holder's lease runs out."""
        if self.next_due_at is not None and self.next_due_at > now:
            return self.next_due_at
        if self.expires_at is not None and self.expires_at > now:
            return self.expires_at
        return now


class LeaseRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim_due(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> LeaseClaim:
        """Takes the lease for one run, only if the run is due (`next_due_at` reached or never set)
        and no live lease is held (not even by `holder`: one run at a time). The due time is left as
        it is: `release` moves it on, so a holder that dies mid-run leaves the run due for whoever takes
        the lease after it expires."""
        free = or_(JobLease.holder.is_(None), JobLease.expires_at.is_(None), JobLease.expires_at <= now)
        due = or_(JobLease.next_due_at.is_(None), JobLease.next_due_at <= now)
        async with self._db.transaction() as session:
            result = await session.execute(
                update(JobLease)
                .where(JobLease.name == name, free, due)
                .values(holder=holder, expires_at=now + ttl)
            )
            if result.rowcount == 1:
                return LeaseClaim(True, holder, now + ttl)
            row = await session.scalar(select(JobLease).where(JobLease.name == name))
            if row is not None:
                return LeaseClaim(False, row.holder, row.expires_at, row.next_due_at)
        try:
            async with self._db.transaction() as session:
                session.add(JobLease(name=name, holder=holder, expires_at=now + ttl))
            return LeaseClaim(True, holder, now + ttl)
        except IntegrityError:
            async with self._db.transaction() as session:
                row = await session.scalar(select(JobLease).where(JobLease.name == name))
            if row is None:
                return LeaseClaim(False)
            return LeaseClaim(False, row.holder, row.expires_at, row.next_due_at)

    async def renew(self, name: str, holder: str, *, now: datetime, ttl: timedelta) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(JobLease)
                .where(JobLease.name == name, JobLease.holder == holder)
                .values(expires_at=now + ttl)
            )
            return result.rowcount == 1

    async def release(
        self, name: str, holder: str, *, ran_at: datetime | None = None, next_due_at: datetime | None = None
    ) -> None:
        values: dict[str, object] = {"holder": None, "expires_at": None}
        if ran_at is not None:
            values["last_run_at"] = ran_at
        if next_due_at is not None:
            values["next_due_at"] = next_due_at
        async with self._db.transaction() as session:
            await session.execute(
                update(JobLease).where(JobLease.name == name, JobLease.holder == holder).values(**values)
            )

    async def bring_forward(self, name: str, *, interval: timedelta, now: datetime) -> datetime | None:
        """A run due later than one `interval` after the last run (or after `now`, if it never ran)
        is moved to that time, so that a shortened interval takes effect from a restart rather than
        after the due time the old interval set. Returns the new due time when it moved."""
        async with self._db.transaction() as session:
            row = await session.scalar(select(JobLease).where(JobLease.name == name).with_for_update())
            if row is None or row.next_due_at is None:
                return None
            latest = (row.last_run_at or now) + interval
            if row.next_due_at <= latest:
                return None
            row.next_due_at = latest
            return latest

    async def get(self, name: str) -> JobLease | None:
        async with self._db.transaction() as session:
            return await session.scalar(select(JobLease).where(JobLease.name == name))
