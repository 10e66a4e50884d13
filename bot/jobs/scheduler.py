"""The job scheduler: APScheduler 3's AsyncIOScheduler is each replica's alarm clock, the database the
judge of which replica runs what.

Every job has a lease row (`job_leases`) that holds its next due time. When a replica's alarm rings,
it tries to claim the run, which succeeds only when the run is due and no live lease is held. The
winner renews its lease while it works and, on release, moves the due time on by the job's interval
(or by what the run asked for, such as Atlassian's Cycle-Period). The others set their alarms to the
new due time, or to the end of the winner's lease: a holder that dies mid-run leaves the run due, and
whoever claims it after the lease expires runs it. So every due run executes on one replica, once, and
restarts do not rerun what is not due. On SQLite (one process) the same rows do the same job.

Times for due dates and leases come from the injected Clock; APScheduler only waits in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock
from bot.observability.metrics import JOB_DURATION, JOB_LAST_SUCCESS, JOB_RUNS
from storage.repositories.leases import LeaseRepository

log = logging.getLogger(__name__)

FAILURE_RETRY = timedelta(minutes=15)
STOP_TIMEOUT = 25.0  # seconds a stopping replica waits for running jobs
MIN_ALARM_DELAY = 1.0  # seconds: never ring again while the run that set the alarm is finishing


@dataclass(frozen=True)
class JobOutcome:
    """What a run did (counts, logged) and, optionally, when the next run falls due."""

    counts: Mapping[str, int] = field(default_factory=dict)
    next_run_in: timedelta | None = None


JobFunction = Callable[[], Awaitable[JobOutcome]]


@dataclass(frozen=True)
class Job:
    name: str
    interval: timedelta
    run: JobFunction
    #: False for a job whose runs set their own next due time (JobOutcome.next_run_in): its interval
    #: only bounds the time between looks, and a restart leaves its due time alone.
    due_follows_interval: bool = True


@dataclass(frozen=True)
class Tick:
    """One look at a job: whether this replica ran it, and when to look again."""

    ran: bool
    next_check: datetime
    outcome: JobOutcome | None = None
    failed: bool = False


def new_holder_id() -> str:
    """Unique per process start, and says where it runs: host:pid:random."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class JobScheduler:
    def __init__(self, leases: LeaseRepository, clock: Clock, *, lease_ttl: timedelta,
                 holder: str | None = None, failure_retry: timedelta = FAILURE_RETRY,
                 stop_timeout: float = STOP_TIMEOUT) -> None:
        self._leases = leases
        self._clock = clock
        self._ttl = lease_ttl
        self.holder = holder or new_holder_id()
        self._failure_retry = failure_retry
        self._stop_timeout = stop_timeout
        self._jobs: dict[str, Job] = {}
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._stopping = False
        self.tracer: Any = None  # an OpenTelemetry tracer when tracing is on: one span per run

    @property
    def jobs(self) -> dict[str, Job]:
        return dict(self._jobs)

    def add(self, job: Job) -> None:
        if job.name in self._jobs:
            raise ValueError(f"a job named {job.name!r} is already scheduled")
        self._jobs[job.name] = job

    # Start and stop (the ASGI lifespan) ---------------------------------------------------------
    async def start(self) -> None:
        """Starts the alarms; each job is looked at once right away (it runs if due). A job whose
        interval was shortened since its last run falls due one new interval after that run."""
        self._stopping = False
        for job in self._jobs.values():
            if job.due_follows_interval:
                await self._bring_forward(job)
        scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        now = datetime.now(UTC)
        for job in self._jobs.values():
            trigger = IntervalTrigger(seconds=job.interval.total_seconds(), timezone=UTC)
            scheduler.add_job(self._alarm, trigger, args=[job.name], id=job.name, name=f"jirabot.{job.name}",
                              next_run_time=now)
        scheduler.start()
        self._scheduler = scheduler
        log.info("jobs.scheduler.started", extra={"holder": self.holder, "jobs": sorted(self._jobs)})

    async def _bring_forward(self, job: Job) -> None:
        try:
            moved = await self._leases.bring_forward(job.name, interval=job.interval, now=self._clock.now())
        except Exception:
            log.warning("jobs.reschedule_failed", exc_info=True, extra={"job": job.name})
            return
        if moved is not None:
            log.info("jobs.due_moved", extra={"job": job.name, "next_due_at": moved.isoformat(),
                                              "interval_seconds": job.interval.total_seconds()})

    async def stop(self) -> None:
        """Stops ringing, waits for running jobs (then cancels them, leaving their runs due)."""
        scheduler, self._scheduler = self._scheduler, None
        self._stopping = True
        if scheduler is None:
            return
        scheduler.pause()
        running = [task for task in self._running.values() if not task.done()]
        pending: set[asyncio.Task[Any]] = set()
        if running:
            _, pending = await asyncio.wait(running, timeout=self._stop_timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        scheduler.shutdown(wait=False)
        log.info("jobs.scheduler.stopped", extra={"holder": self.holder, "waited_for": len(running),
                                                  "cancelled": len(pending)})

    async def _alarm(self, name: str) -> None:
        try:
            tick = await self.run_if_due(name)
            next_check = tick.next_check
        except Exception:
            log.exception("jobs.check_failed", extra={"job": name, "holder": self.holder})
            next_check = self._clock.now() + min(self._jobs[name].interval, self._failure_retry)
        self._set_alarm(name, next_check)

    def _set_alarm(self, name: str, when: datetime) -> None:
        """Rings at `when`, and at the latest one interval from now (due times can move elsewhere)."""
        if self._scheduler is None or self._stopping:
            return
        delay = min((when - self._clock.now()).total_seconds(), self._jobs[name].interval.total_seconds())
        delay = max(delay, MIN_ALARM_DELAY)
        self._scheduler.modify_job(name, next_run_time=datetime.now(UTC) + timedelta(seconds=delay))

    # One look at a job --------------------------------------------------------------------------
    async def run_if_due(self, name: str) -> Tick:
        """Runs the job here if its run is due and no other replica holds it; says when to look again."""
        job = self._jobs[name]
        now = self._clock.now()
        claim = await self._leases.claim_due(name, self.holder, now=now, ttl=self._ttl)
        if not claim.acquired:
            log.debug("jobs.not_claimed", extra={"job": name, "holder": self.holder,
                                                 "held_by": claim.holder})
            return Tick(ran=False, next_check=claim.next_check(now))
        task = asyncio.current_task()
        if task is not None:
            self._running[name] = task
        try:
            return await self._run(job, now)
        finally:
            self._running.pop(name, None)

    async def _run(self, job: Job, started: datetime) -> Tick:
        """One run, counted by outcome and timed (and a span of its own when tracing is on)."""
        span = self.tracer.start_as_current_span(f"job {job.name}") if self.tracer else nullcontext()
        clock_started = time.monotonic()
        outcome = "failed"
        try:
            with span:
                tick = await self._run_once(job, started)
            if not tick.failed:
                outcome = "ok"
                JOB_LAST_SUCCESS.labels(job.name).set(time.time())
            return tick
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            JOB_RUNS.labels(job.name, outcome).inc()
            JOB_DURATION.labels(job.name).observe(time.monotonic() - clock_started)

    async def _run_once(self, job: Job, started: datetime) -> Tick:
        clock_started = time.monotonic()
        heartbeat = asyncio.create_task(self._heartbeat(job.name))
        try:
            try:
                outcome = await job.run()
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
        except asyncio.CancelledError:
            # Stopping: give the run back, still due, for another replica to do.
            await self._leases.release(job.name, self.holder)
            log.warning(f"jobs.{job.name}.cancelled", extra={"holder": self.holder})
            raise
        except Exception as exc:
            retry_at = self._clock.now() + min(job.interval, self._failure_retry)
            log.error(f"jobs.{job.name}.failed", exc_info=True,
                      extra={"holder": self.holder, "error_type": type(exc).__name__,
                             "retry_at": retry_at.isoformat()})
            await self._leases.release(job.name, self.holder, next_due_at=retry_at)
            return Tick(ran=True, next_check=retry_at, failed=True)
        next_due = started + (outcome.next_run_in or job.interval)
        await self._leases.release(job.name, self.holder, ran_at=started, next_due_at=next_due)
        log.info(f"jobs.{job.name}.done",
                 extra={**outcome.counts, "holder": self.holder, "next_due_at": next_due.isoformat(),
                        "duration_ms": round((time.monotonic() - clock_started) * 1000)})
        return Tick(ran=True, next_check=next_due, outcome=outcome)

    async def _heartbeat(self, name: str) -> None:
        """Keeps the lease alive while the job runs; a lost lease is logged (another replica took it)."""
        period = max(self._ttl.total_seconds() / 3, 0.5)
        while True:
            await asyncio.sleep(period)
            try:
                renewed = await self._leases.renew(name, self.holder, now=self._clock.now(), ttl=self._ttl)
            except Exception:
                log.warning("jobs.lease_renew_failed", exc_info=True, extra={"job": name})
                continue
            if not renewed:
                log.warning("jobs.lease_lost", extra={"job": name, "holder": self.holder})
                return
