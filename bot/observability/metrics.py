"""Prometheus metrics: what jirabot counts, and how a scrape of `GET /metrics` reads it.

The metrics live in prometheus_client's process registry and are defined here, once, with the helpers
below (`counter`, `histogram`, `gauge`: the `jirabot_` prefix, and a gauge's multi-process mode).
Values counted in the database (linked users, tenants; later an inbox's depth) are `DatabaseGauges`:
read by a scrape at most every 30 seconds, never on a request's path.

Several processes (`jirabot serve --workers N`): with `PROMETHEUS_MULTIPROC_DIR` set, which the serve
command does by itself, each worker writes its values to files in that folder and a scrape of any
worker adds up the files of all of them (`MultiProcessCollector`): counters and histograms keep what
exited workers counted, live gauges drop the workers that are gone.

Adding a feature's metrics takes a few lines, for example a webhook inbox:

    DELIVERIES = counter("webhook_deliveries", "Webhook deliveries received", ["outcome"])
    components.metrics.gauges.add("webhook_inbox_depth", "Events waiting in the inbox", inbox.depth)

Label values must come from a fixed set (a route template, a kind, an outcome, a job name): never a
user, team, account, issue key or raw URL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from bot.observability.multiprocess import MULTIPROC_ENV

log = logging.getLogger(__name__)

PREFIX = "jirabot_"
DATABASE_READ_INTERVAL = 30.0  # seconds a database count is served from memory

# Fast answers (an ack, a Jira call) and slow ones (a job) need different buckets.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
    """`jirabot_<name>_total`."""
    return Counter(PREFIX + name, documentation, list(labels))


def histogram(
    name: str, documentation: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
) -> Histogram:
    return Histogram(PREFIX + name, documentation, list(labels), buckets=buckets)


MultiprocessMode = Literal[
    "all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum", "mostrecent", "livemostrecent"
]


def gauge(
    name: str, documentation: str, labels: Sequence[str] = (), *, multiprocess_mode: MultiprocessMode
) -> Gauge:
    """`multiprocess_mode` says how workers' values combine: `livesum` (live workers only, summed),
    `max`, `min`, `sum`, `mostrecent`..."""
    return Gauge(PREFIX + name, documentation, list(labels), multiprocess_mode=multiprocess_mode)


class Children:
    """A metric's labelled children, looked up once per label values: `labels()` checks and locks on
    every call, which the hottest paths (every request) can do without. Label values are a fixed set,
    so the cache stays small."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


# What jirabot counts ---------------------------------------------------------------------------------------

HTTP_REQUESTS = counter(
    "http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
HTTP_DURATION = histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request (until the answer's headers)", ["route"]
)
SLACK_REQUESTS = counter(
    "slack_requests",
    "Requests from Slack by kind (command, action, view_submission, view_closed, options, event, shortcut, "
    "other; unknown when refused before it was read) and outcome (ok, rejected, unhandled, invalid, error)",
    ["kind", "outcome"],
)
SLACK_ACK = histogram(
    "slack_ack_duration_seconds", "Time from a Slack request's arrival to its acknowledgement", ["kind"]
)
JIRA_REQUESTS = counter(
    "jira_requests",
    "HTTP calls to Jira and Atlassian by endpoint family and outcome (ok, 4xx, 429, 5xx, timeout, error)",
    ["endpoint", "outcome"],
)
JIRA_DURATION = histogram(
    "jira_request_duration_seconds", "Time a Jira or Atlassian call took, by endpoint family", ["endpoint"]
)
TOKEN_REFRESHES = counter(
    "jira_token_refreshes",
    "Refreshes of users' Jira access tokens by outcome (ok, invalid_grant: the link needs a reconnect, "
    "error: Atlassian or Jira failed)",
    ["outcome"],
)
JOB_RUNS = counter(
    "job_runs", "Background job runs by job and outcome (ok, failed, cancelled)", ["job", "outcome"]
)
JOB_DURATION = histogram(
    "job_duration_seconds", "Time a background job run took", ["job"], buckets=JOB_BUCKETS
)
JOB_LAST_SUCCESS = gauge(
    "job_last_success_timestamp_seconds",
    "When a job last finished without error in this process (Unix time)",
    ["job"],
    multiprocess_mode="max",
)
WORKERS = gauge("workers", "Processes serving this jirabot (live workers)", multiprocess_mode="livesum")


# Values counted in the database -----------------------------------------------------------------------------

# {label values: value}; a gauge with one label may key by plain strings.
Reading = Callable[[], Awaitable[Mapping[tuple[str, ...], float] | Mapping[str, float]]]


@dataclass
class _DatabaseGauge:
    name: str
    documentation: str
    labels: tuple[str, ...]
    read: Reading
    values: dict[tuple[str, ...], float] = field(default_factory=dict)


class DatabaseGauges:
    """Gauges whose values are counts in the database, read by a scrape when older than `interval`
    seconds; a failed read keeps the last values (and is logged)."""

    def __init__(
        self, interval: float = DATABASE_READ_INTERVAL, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._gauges: list[_DatabaseGauge] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def add(self, name: str, documentation: str, read: Reading, labels: Sequence[str] = ()) -> None:
        """`read()` answers {label values: value}, e.g. {"cloud": 3, "datacenter": 1} for one label."""
        self._gauges.append(_DatabaseGauge(PREFIX + name, documentation, tuple(labels), read))
        self._read_at = None

    async def refresh(self) -> None:
        async with self._lock:
            now = self._monotonic()
            if self._read_at is not None and now - self._read_at < self._interval:
                return
            for gauge in self._gauges:
                try:
                    answer = await gauge.read()
                    gauge.values = {
                        key if isinstance(key, tuple) else (key,): float(value)
                        for key, value in answer.items()
                    }
                except Exception:
                    log.warning("metrics.database_read_failed", exc_info=True, extra={"metric": gauge.name})
            self._read_at = now

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for gauge in self._gauges:
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=list(gauge.labels))
            for label_values, value in gauge.values.items():
                family.add_metric(list(label_values), value)
            yield family


# The scrape -----------------------------------------------------------------------------------------------

_LIVE_FILE = re.compile(r"gauge_live\w*?_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class _ProcessRegistry:
    """The process registry as one collector of another registry (it has no `describe`)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class Metrics:
    """One app's view of the metrics: the process's (or all workers') values plus its database gauges."""

    def __init__(self, gauges: DatabaseGauges | None = None) -> None:
        self.gauges = gauges or DatabaseGauges()
        self._folder = multiprocess_dir()
        self._registry = CollectorRegistry(auto_describe=False)
        if self._folder is not None:
            MultiProcessCollector(self._registry, path=self._folder)
        else:
            self._registry.register(_ProcessRegistry())  # type: ignore[arg-type]
        self._registry.register(self.gauges)  # type: ignore[arg-type]

    async def render(self) -> bytes:
        await self.gauges.refresh()
        if self._folder is not None:
            forget_dead_workers(self._folder)
        return generate_latest(self._registry)

    async def started(self) -> None:
        WORKERS.set(1)

    async def stopped(self) -> None:
        WORKERS.set(0)
        if self._folder is not None:
            mark_process_dead(os.getpid(), self._folder)


def forget_dead_workers(folder: str) -> None:
    """Drops the live gauges of workers that died without stopping (killed, crashed): uvicorn starts
    new ones with new pids, and a live gauge must not count the old."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = _LIVE_FILE.match(name)
        if match and not _alive(int(match.group(1))):
            mark_process_dead(int(match.group(1)), folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
