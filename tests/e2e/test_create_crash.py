"""Exactly one issue per submission, even when the bot dies mid-create: `jirabot serve` runs as a real
process, Jira holds the create request, the process is killed (SIGKILL) while Jira works on it, Jira
then makes the issue, and a new process finds that issue (by its marker) instead of creating another.

Real processes on the test's database (SQLite file or PostgreSQL); the form is opened through the
in-process bot, which shares that database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from storage.models import IdempotencyKey
from tests.e2e.flows import ALICE, World, cloud_world, install, link_user
from tests.e2e.test_create_issue import open_form, submission_payload, thread_replies
from tests.emulators.atlassian import AtlassianEmulator
from tests.emulators.live import free_port
from tests.emulators.slack import SlackEmulator
from tests.emulators.slack_driver import SlackDriver
from tests.harness import CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, ENCRYPTION_KEY, SIGNING_SECRET

T = TypeVar("T")
CREATE = r"/rest/api/3/issue$"


def eventually(predicate: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.05)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def events(self) -> list[str]:
        found = []
        for line in self.log().splitlines():
            try:
                found.append(json.loads(line)["event"])
            except (ValueError, KeyError, TypeError):
                continue
        return found


@pytest.fixture
def serve(database_url: str, slack: SlackEmulator, atlassian: AtlassianEmulator,
          tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Starts `jirabot serve` processes against the emulators and the test's database."""
    started: list[Served] = []

    def start(**settings: str) -> Served:
        port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "JIRABOT_", "ATLASSIAN_", "DATABASE_URL", "LOG_", "PORT"))}
        env.update({
            "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_BOT_TOKEN": "xoxb-test-bot-token",
            "SLACK_API_URL": slack.api_url, "DATABASE_URL": database_url,
            "JIRABOT_ENCRYPTION_KEY": ENCRYPTION_KEY, "JIRABOT_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ATLASSIAN_CLIENT_ID": CLOUD_CLIENT_ID, "ATLASSIAN_CLIENT_SECRET": CLOUD_CLIENT_SECRET,
            "ATLASSIAN_AUTH_URL": str(atlassian.base_url), "ATLASSIAN_API_URL": str(atlassian.base_url),
            "LOG_FORMAT": "json", "LOG_LEVEL": "info", **settings,
        })
        log_path = tmp_path / f"serve-{len(started)}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        served = Served(process, f"http://127.0.0.1:{port}", log_path)
        started.append(served)

        def up() -> bool:
            assert process.poll() is None, served.log()[-3000:]
            try:
                return httpx.get(f"{served.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(up, timeout=30, what="jirabot serve up")
        return served

    yield start
    for served in started:
        if served.process.poll() is None:
            served.process.send_signal(signal.SIGTERM)
    for served in started:
        try:
            served.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()


@pytest.fixture
def world(bot, slack, atlassian, driver) -> World:
    built = cloud_world(bot, slack, atlassian, driver)
    install(built)
    link_user(built)
    return built


def _post(world: World, url: str, payload: dict[str, Any]) -> httpx.Response:
    """Delivers a view submission to the bot at `url`, signed as Slack signs it."""
    with SlackDriver(url, SIGNING_SECRET, world.slack) as sender:
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        return sender.post_raw(body).response


def _killed_mid_create(world: World, serve: Callable[..., Served], payload: dict[str, Any],
                       **settings: str) -> Served:
    """Submits to a served bot, kills it (SIGKILL) while Jira holds the create, then lets Jira make the
    issue: the bot never heard back."""
    hold = world.atlassian.holds.hold(CREATE, method="POST")
    first = serve(**settings)
    lost: list[BaseException] = []

    def submit() -> None:
        try:
            _post(world, first.url, payload)
        except httpx.HTTPError as exc:  # the process died under the request
            lost.append(exc)

    sender = threading.Thread(target=submit)
    sender.start()
    assert hold.wait_arrived(20), first.log()[-3000:]
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    sender.join(20)
    assert lost, "the submission should have been cut off by the kill"
    hold.release()
    assert hold.wait_handled(10)
    assert len(world.atlassian.issues()) == 1  # Jira made it; nobody recorded it
    return first


def _key_status(world: World) -> list[str]:
    """The create claims stored, as `status:outcome`."""
    async def read() -> list[str]:
        async with world.bot.storage.db.transaction() as session:
            rows = await session.scalars(
                select(IdempotencyKey).where(IdempotencyKey.key.startswith("create:")))
            return [f"{row.status}:{(row.result or {}).get('outcome', '')}" for row in rows]
    return world.bot.run(read())


def test_a_resubmission_after_a_crash_finds_the_issue_instead_of_creating_another(
        world: World, serve: Callable[..., Served]) -> None:
    result, form = open_form(world)
    ts = result.payload["message_ts"]
    payload = submission_payload(world, form)
    settings = {"JIRABOT_SCHEDULER": "false", "JIRABOT_CREATE_STALE_AFTER": "2"}
    _killed_mid_create(world, serve, payload, **settings)
    assert thread_replies(world, ts) == [] and _key_status(world) == ["pending:"]

    second = serve(**settings)
    answer = _post(world, second.url, payload)  # the user presses Create again on the same form
    assert answer.status_code == 200
    (reply,) = world.slack.wait_for(lambda: thread_replies(world, ts), timeout=20)
    assert "ENG-1" in reply["blocks"][0]["text"]["text"] and f"<@{ALICE}>" in reply["text"]
    assert _key_status(world) == ["done:created"]
    assert [i.key for i in world.atlassian.issues()] == ["ENG-1"]
    assert len(world.atlassian.requests_to(CREATE, "POST")) == 1  # never sent again
    assert world.atlassian.requests_to(r"/rest/api/3/search/jql$", "POST")
    assert "jira.issue.found_after_unknown_outcome" in second.events()
    # The user sees the issue in the form: in the ack, or in the update that replaces "Creating…".
    assert "ENG-1" in answer.text or world.slack.wait_for(lambda: [
        c for c in world.slack.calls_to("views.update") if "ENG-1" in json.dumps(c.params.get("view"))])
    assert len(thread_replies(world, ts)) == 1
    links = world.bot.run(world.bot.storage.issue_links.for_message(world.slack.team_id, "C0GENERAL", ts))
    assert [link.issue_key for link in links] == ["ENG-1"]


def test_an_abandoned_create_is_resolved_by_the_hygiene_job_and_the_user_sees_the_issue(
        world: World, serve: Callable[..., Served]) -> None:
    result, form = open_form(world)
    ts = result.payload["message_ts"]
    _killed_mid_create(world, serve, submission_payload(world, form),
                       JIRABOT_SCHEDULER="false", JIRABOT_CREATE_STALE_AFTER="1")
    second = serve(JIRABOT_SCHEDULER="true", JIRABOT_CREATE_STALE_AFTER="1", JIRABOT_CLEANUP_INTERVAL="10")
    (reply,) = world.slack.wait_for(lambda: thread_replies(world, ts), timeout=30)
    assert "ENG-1" in reply["blocks"][0]["text"]["text"]
    assert _key_status(world) == ["done:created"]
    assert [i.key for i in world.atlassian.issues()] == ["ENG-1"]
    assert len(world.atlassian.requests_to(CREATE, "POST")) == 1
    eventually(lambda: "jobs.hygiene.done" in second.events(), what="the hygiene run logged")
    assert len(thread_replies(world, ts)) == 1


def test_an_abandoned_create_that_never_reached_jira_is_told_plainly_with_a_link(
        world: World, serve: Callable[..., Served]) -> None:
    result, form = open_form(world)
    ts = result.payload["message_ts"]
    hold = world.atlassian.holds.hold(CREATE, method="POST")
    world.atlassian.fail_next(CREATE, 502, "Bad Gateway", method="POST")  # once released: nothing made
    first = serve(JIRABOT_SCHEDULER="false")
    sender = threading.Thread(target=lambda: _post_quietly(world, first.url, submission_payload(world, form)))
    sender.start()
    assert hold.wait_arrived(20), first.log()[-3000:]
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    sender.join(20)
    hold.release()
    assert hold.wait_handled(10) and world.atlassian.issues() == []

    serve(JIRABOT_SCHEDULER="true", JIRABOT_CREATE_STALE_AFTER="1", JIRABOT_CLEANUP_INTERVAL="10")
    (dm,) = world.slack.wait_for(lambda: [c.params for c in world.slack.calls_to("chat.postMessage")
                                          if c.params.get("channel") == ALICE
                                          and "didn't confirm" in c.params.get("text", "")], timeout=30)
    assert "/issues/?jql=" in json.dumps(dm["blocks"])  # the user's recent issues, to check
    assert _key_status(world) == ["done:uncertain"]
    assert world.atlassian.issues() == [] and thread_replies(world, ts) == []


def _post_quietly(world: World, url: str, payload: dict[str, Any]) -> None:
    try:
        _post(world, url, payload)
    except httpx.HTTPError:
        pass  # the process died under the request
