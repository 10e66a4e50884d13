"""Observability end to end: what `GET /metrics` counts after each kind of Slack request, that no label
carries a user, team, account or issue, request ids in the log lines a request causes (also after the
ack), and one OpenTelemetry trace through a create-issue submission."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from bot.logs import JsonFormatter, RedactingFilter
from bot.observability.request_id import RequestIdFilter
from bot.slack import ids
from bot.slack.views import create_issue as views
from tests.e2e.flows import (
    ADMIN,
    ADMIN_ACCOUNT,
    ALICE,
    ALICE_ACCOUNT,
    BOB,
    BOB_ACCOUNT,
    World,
    cloud_world,
    datacenter_world,
    install,
    jira_issues,
    link_user,
    settled_view,
)
from tests.e2e.test_create_issue import CHANNEL, block, open_form, submit, wait_view
from tests.e2e.test_foundation import _env, _start_serving, _stop
from tests.emulators.live import free_port
from tests.emulators.slack_driver import SlackDriver
from tests.harness import SIGNING_SECRET, BotHarness

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def drive_every_kind(world: World) -> dict[str, Any]:
    """A command, a shortcut, options, a view submission, an action and an event, each once; returns
    the ids Slack and Jira used, which no label may carry."""
    assert world.driver.slash_command(ALICE, "help").status_code == 200
    shortcut, form = open_form(world)
    project = block(form, views.BLOCK_PROJECT)
    world.driver.options(ALICE, form, views.ACTION_PROJECT, project["block_id"], "ENG")
    answer = submit(world, form)
    (issue,) = jira_issues(world)  # the create may reach Jira after the ack ("Creating…")
    created = wait_view(world, form["id"], views.VIEW_CREATE_RESULT, containing=issue.key)
    click = world.driver.click_button(ALICE, {"action_id": ids.ACTION_OPEN_IN_JIRA}, view=created)
    assert click.status_code == 200
    event = world.driver.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE01",
                                "tab": "home", "event_ts": f"{time.time():.6f}"})
    assert event.status_code == 200
    world.slack.wait_for_call("views.publish")
    return {
        "trigger_ids": [shortcut.trigger_id, answer.payload.get("trigger_id"),
                        click.payload.get("trigger_id")],
        "event_id": event.payload["event_id"],
        "view_id": form["id"],
        "issue_key": issue.key,
        "issue_id": str(issue.id),
        "message_ts": shortcut.payload["message_ts"],
    }


@pytest.fixture
def cloud(bot, slack, atlassian, driver) -> World:
    built = cloud_world(bot, slack, atlassian, driver)
    install(built)
    link_user(built)
    return built


# Counting ---------------------------------------------------------------------------------------------

def test_metrics_count_each_kind_of_slack_request_and_jira_call(cloud: World) -> None:
    before = scrape(cloud.bot.url)
    assert value(before, "jirabot_linked_users", status="linked") == 2  # the admin and Alice
    assert value(before, "jirabot_linked_users", status="needs_reconnect") == 0
    assert value(before, "jirabot_tenants", kind="cloud") == 1
    assert value(before, "jirabot_tenants", kind="datacenter") == 0

    drive_every_kind(cloud)
    unsigned = cloud.driver.post_raw(b"command=%2Fjira&text=help", sign=False)
    assert unsigned.status_code == 401

    after = scrape(cloud.bot.url)
    for kind in ("command", "shortcut", "options", "view_submission", "action", "event"):
        assert grew(before, after, "jirabot_slack_requests_total", kind=kind, outcome="ok") == 1, kind
        assert grew(before, after, "jirabot_slack_ack_duration_seconds_count", kind=kind) == 1, kind
        # Each was acknowledged within Slack's 3 seconds.
        assert grew(before, after, "jirabot_slack_ack_duration_seconds_bucket", kind=kind, le="3.0") == 1
    assert grew(before, after, "jirabot_slack_requests_total", kind="unknown", outcome="rejected") == 1
    slack_events = {"route": "/slack/events", "method": "POST"}
    assert grew(before, after, "jirabot_http_requests_total", **slack_events, status="200") == 6
    assert grew(before, after, "jirabot_http_requests_total", **slack_events, status="401") == 1
    # The first scrape is counted by the second.
    scrapes = {"route": "/metrics", "method": "GET", "status": "200"}
    assert grew(before, after, "jirabot_http_requests_total", **scrapes) == 1

    # Jira: one create, answered; the form's reads too; nothing failed.
    assert grew(before, after, "jirabot_jira_requests_total", endpoint="rest/api/issue", outcome="ok") == 1
    assert grew(before, after, "jirabot_jira_request_duration_seconds_count", endpoint="rest/api/issue") == 1
    form_reads = "rest/api/issue/createmeta/{id}/issuetypes"
    assert grew(before, after, "jirabot_jira_requests_total", endpoint=form_reads, outcome="ok") >= 1
    failed = [key for key, v in after.items() if key[0] == "jirabot_jira_requests_total"
              and dict(key[1])["outcome"] != "ok" and v > value(before, key[0], **dict(key[1]))]
    assert failed == []


def test_jira_failures_are_counted_by_outcome(cloud: World) -> None:
    before = scrape(cloud.bot.url)
    cloud.atlassian.fail_next(r"/rest/api/3/issue$", status=500, method="POST")
    _, form = open_form(cloud)
    answer = submit(cloud, form)
    # The failed create may be sent after the ack ("Creating…"): scrape once the form shows its outcome.
    settled_view(cloud, answer)
    after = scrape(cloud.bot.url)
    assert grew(before, after, "jirabot_jira_requests_total", endpoint="rest/api/issue", outcome="5xx") == 1


def test_job_runs_and_token_refreshes_are_counted(cloud: World) -> None:
    before = scrape(cloud.bot.url)
    cloud.bot.clock.advance(3600 * 2)  # every access token expired: token upkeep refreshes both
    scheduler = cloud.bot.components.services["scheduler"]
    tick = cloud.bot.run(scheduler.run_if_due("token_upkeep"))
    assert tick.ran and not tick.failed
    after = scrape(cloud.bot.url)
    assert grew(before, after, "jirabot_job_runs_total", job="token_upkeep", outcome="ok") == 1
    assert grew(before, after, "jirabot_job_duration_seconds_count", job="token_upkeep") == 1
    assert value(after, "jirabot_job_last_success_timestamp_seconds", job="token_upkeep") >= time.time() - 60
    assert grew(before, after, "jirabot_jira_token_refreshes_total", outcome="ok") == 2
    assert grew(before, after, "jirabot_jira_requests_total", endpoint="oauth/token", outcome="ok") == 2


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
def test_no_label_value_names_a_user_team_account_or_issue(flavour, bot, slack, atlassian, driver) -> None:
    world = (cloud_world if flavour == "cloud" else datacenter_world)(bot, slack, atlassian, driver)
    install(world)
    link_user(world)
    link_user(world, BOB, BOB_ACCOUNT)
    used = drive_every_kind(world)
    driver.slash_command(BOB, "status")
    driver.post_raw(b"not a slack request", sign=False)
    httpx.get(f"{bot.url}/jira/oauth/callback?state=ENG-1&code={ALICE_ACCOUNT}", timeout=10)
    httpx.get(f"{bot.url}/no/such/{ALICE}/page", timeout=10)

    samples = scrape(bot.url)
    forbidden = {ADMIN, ALICE, BOB, ADMIN_ACCOUNT, ALICE_ACCOUNT, BOB_ACCOUNT, slack.team_id, CHANNEL,
                 used["event_id"], used["view_id"], used["issue_key"], used["message_ts"], "ENG",
                 *[t for t in used["trigger_ids"] if t]}
    if flavour == "cloud":
        forbidden.add(world.site.cloud_id)
    labels = {(name, label, v) for (name, pairs), _ in samples.items() for label, v in pairs}
    leaks = [(name, label, v) for name, label, v in labels for f in forbidden if f and f in v]
    assert leaks == []
    # Every value comes from a fixed vocabulary (the metrics are the process's: earlier tests count too).
    routes = {route.path for route in bot.live.app.routes} | {"/slack/install", "/slack/oauth_redirect"}
    assert {v for name, label, v in labels if label == "route"} <= routes | {"unmatched"}
    endpoints = {v for name, label, v in labels if label == "endpoint"}
    assert endpoints and all(re.fullmatch(r"[a-z0-9/_{}.-]+", e, re.I) for e in endpoints), endpoints
    assert all(not re.search(r"\d", e.replace("oauth2", "")) for e in endpoints), endpoints
    assert all(re.fullmatch(r"[1-5]\d\d", v) for name, label, v in labels
               if label == "status" and name.startswith("jirabot_http"))


# Request ids ---------------------------------------------------------------------------------------------

class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.addFilter(RedactingFilter())
        self.addFilter(RequestIdFilter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines() -> Iterator[_Lines]:
    handler = _Lines()
    logger = logging.getLogger("bot")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_every_line_a_request_causes_carries_its_request_id(cloud: World, log_lines: _Lines) -> None:
    cloud.atlassian.set_latency(1.5)  # the issue is created after the ack
    _, form = open_form(cloud)
    started = time.time()
    answer = cloud.driver.submit_view(ALICE, form, {})
    acked = started + answer.elapsed
    assert answer.acked_in_time
    trigger_id = answer.payload["trigger_id"]

    def created() -> dict[str, Any] | None:
        return next((line for line in log_lines.lines if line["event"] == "jira.issue.created"), None)

    line = cloud.slack.wait_for(created, 20, message="jira.issue.created logged")
    assert line["request_id"] == trigger_id
    assert line["time"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(acked))  # logged after the ack

    # An OAuth callback has an id of its own, on each of its lines.
    log_lines.lines.clear()
    link_user(cloud, BOB, BOB_ACCOUNT)
    # (A webhook delivery that the link sets off has an id of its own.)
    oauth_loggers = ("bot.web.oauth", "bot.services.linking", "bot.services.authorizations")
    oauth = [line for line in log_lines.lines if line["logger"].startswith(oauth_loggers)]
    assert oauth and all(re.fullmatch(r"[0-9a-f]{16}", line.get("request_id", "")) for line in oauth), oauth


# Traces ----------------------------------------------------------------------------------------------------

otel_sdk = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")


class TracedHarness(BotHarness):
    """The bot with tracing on, its spans kept in memory."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from bot.observability.tracing import enable_tracing

        super().__init__(*args, **kwargs)
        self.spans = otel_sdk.InMemorySpanExporter()
        enable_tracing(self.components, self.live.app, self.spans, batch=False)


@pytest.fixture
def traced(database_url, slack, atlassian, clock) -> Iterator[World]:
    harness = TracedHarness.start(database_url=database_url, slack_api_url=slack.api_url,
                                  atlassian_url=atlassian.base_url, clock=clock)
    with SlackDriver(harness.url, SIGNING_SECRET, slack) as driver:
        world = cloud_world(harness, slack, atlassian, driver)
        install(world)
        link_user(world)
        yield world
    harness.stop()


def _url(span: Any) -> str:
    return str(span.attributes.get("url.full") or span.attributes.get("http.url") or "")


def test_one_trace_runs_through_a_create_issue_submission(traced: World) -> None:
    result, form = open_form(traced)
    submit(traced, form)
    ts = result.payload["message_ts"]
    traced.slack.wait_for(lambda: [m for m in traced.slack.messages if m.get("thread_ts") == ts],
                          message="the thread reply")
    spans: Any = traced.bot.spans  # type: ignore[attr-defined]

    def create_span() -> Any:
        return next((s for s in spans.get_finished_spans()
                     if re.search(r"/rest/api/3/issue$", _url(s)) and s.name.startswith("POST")), None)

    jira = traced.slack.wait_for(create_span, 10, message="the Jira create span")

    def root_span() -> Any:  # it ends just after the answer has left
        return next((s for s in spans.get_finished_spans()
                     if s.context.trace_id == jira.context.trace_id and s.parent is None), None)

    root = traced.slack.wait_for(root_span, 10, message="the incoming request's span")
    assert root.kind.name == "SERVER"
    assert "/slack/events" in (root.attributes.get("http.route") or root.name)

    def reply_span() -> Any:
        return next((s for s in spans.get_finished_spans() if s.context.trace_id == jira.context.trace_id
                     and _url(s).endswith("/chat.postMessage")), None)

    assert traced.slack.wait_for(reply_span, 10, message="the Slack reply's span").kind.name == "CLIENT"
    trace = [s for s in spans.get_finished_spans() if s.context.trace_id == jira.context.trace_id]
    database = [s for s in trace if s.attributes.get("db.system") or s.attributes.get("db.system.name")]
    assert any("INSERT" in s.name.upper() for s in database), [s.name for s in database]


def test_a_job_run_is_a_trace_of_its_own(traced: World) -> None:
    scheduler = traced.bot.components.services["scheduler"]
    assert traced.bot.run(scheduler.run_if_due("hygiene")).ran
    spans = traced.bot.spans.get_finished_spans()  # type: ignore[attr-defined]
    (job,) = [s for s in spans if s.name == "job hygiene"]
    assert job.parent is None
    assert [s for s in spans if s.parent is not None and s.parent.span_id == job.context.span_id]


# Several workers --------------------------------------------------------------------------------------------

def _signed_help(url: str) -> int:
    """A signed `/jira help`, on a connection of its own (so that either worker may take it)."""
    body = urlencode({"command": "/jira", "text": "help", "team_id": "T0001", "user_id": ALICE,
                      "channel_id": CHANNEL, "trigger_id": f"13345224609.{time.time_ns()}.abc",
                      "response_url": "https://hooks.slack.com/commands/T0001/1/abc"})
    stamp = str(int(time.time()))
    signature = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={signature}",
               "Content-Type": "application/x-www-form-urlencoded"}
    return httpx.post(f"{url}/slack/events", content=body, headers=headers, timeout=10).status_code


def _commands_by_worker(folder: Path) -> dict[str, float]:
    """Each worker's own count of acknowledged commands, from its file in the shared folder."""
    counts: dict[str, float] = {}
    for path in folder.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)], accumulate=True):
            for sample in metric.samples:
                if sample.name == "jirabot_slack_requests_total" and sample.labels == {
                        "kind": "command", "outcome": "ok"}:
                    counts[path.name] = sample.value
    return counts


def test_with_two_workers_every_scrape_shows_the_totals_of_both(tmp_path: Path, slack) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"an earlier run's values")  # emptied at start
    env = _env(tmp_path, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_BOT_TOKEN=slack.bot_token,
               SLACK_API_URL=slack.api_url, JIRABOT_SCHEDULER="false", PROMETHEUS_MULTIPROC_DIR=str(folder))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start_serving(tmp_path, env, port, "--workers", "2")
    try:
        sent = 0
        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(8) as pool:
            # Waves of concurrent commands until each worker has answered some.
            while len([n for n in _commands_by_worker(folder).values() if n > 0]) < 2:
                assert time.monotonic() < deadline, _commands_by_worker(folder)
                assert set(pool.map(_signed_help, [url] * 16)) == {200}
                sent += 16
        assert sum(_commands_by_worker(folder).values()) == sent
        for _ in range(10):  # each scrape on a new connection, answered by either worker
            samples = scrape(url)
            assert value(samples, "jirabot_slack_requests_total", kind="command", outcome="ok") == sent
            assert value(samples, "jirabot_slack_ack_duration_seconds_count", kind="command") == sent
            assert value(samples, "jirabot_workers") == 2
    finally:
        _stop(proc)
    assert proc.returncode == 0
    assert not list(folder.glob("gauge_live*.db")), "stopped workers are marked dead"
