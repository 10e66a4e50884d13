"""Observability pieces on their own: endpoint families, Jira call outcomes, database gauges, request
ids, Slack request kinds, the workers' metrics folder, tracing settings."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from bot.jira.errors import JiraNotFound, JiraUnavailable
from bot.jira.http import RetryPolicy, send
from bot.logs import configure_logging
from bot.observability.jira_calls import endpoint_family, outcome_for_status
from bot.observability.metrics import DatabaseGauges
from bot.observability.multiprocess import MULTIPROC_ENV, shared_metrics_folder
from bot.observability.request_id import RequestIdFilter, bind_request_id, current_request_id
from bot.observability.slack import slack_kind, slack_request_id
from bot.settings import SettingsError, load_settings

CLOUD = "https://api.atlassian.com/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3"


@pytest.mark.parametrize(
    ("url", "family"),
    [
        (f"{CLOUD}/issue", "rest/api/issue"),
        (f"{CLOUD}/issue/ENG-123/transitions?expand=transitions.fields", "rest/api/issue/{id}/transitions"),
        (f"{CLOUD}/issue/createmeta/ENG/issuetypes/10001", "rest/api/issue/createmeta/{id}/issuetypes/{id}"),
        (f"{CLOUD}/project/search?query=eng", "rest/api/project/search"),
        (f"{CLOUD}/myself", "rest/api/myself"),
        ("https://jira.acme.test/jira/rest/api/2/issue/10042/comment/", "rest/api/issue/{id}/comment"),
        ("https://jira.acme.test/rest/api/latest/user/search?username=bob", "rest/api/user/search"),
        ("https://jira.acme.test/rest/webhooks/1.0/webhook/7", "rest/webhooks/webhook/{id}"),
        ("https://jira.acme.test/jira/rest/oauth2/latest/token", "rest/oauth2/token"),
        ("https://auth.atlassian.com/oauth/token", "oauth/token"),
        ("https://api.atlassian.com/oauth/token/accessible-resources", "oauth/accessible-resources"),
        ("https://api.atlassian.com/app/report-accounts/", "app/report-accounts"),
        (f"{CLOUD}/issue/A-1/B/C/D/E/F", "rest/api/issue/{id}/{id}/{id}/{id}/..."),
        ("https://jira.acme.test/secure/ENG-1", "other"),
    ],
)
def test_endpoint_families_keep_the_template_and_drop_keys_and_ids(url: str, family: str) -> None:
    assert endpoint_family(url) == family


def test_outcomes_by_status() -> None:
    assert [outcome_for_status(s) for s in (200, 204, 302, 400, 401, 404, 429, 500, 503)] == [
        "ok", "ok", "ok", "4xx", "4xx", "4xx", "429", "5xx", "5xx"]


def _count(endpoint: str, outcome: str) -> float:
    return REGISTRY.get_sample_value(
        "jirabot_jira_requests_total", {"endpoint": endpoint, "outcome": outcome}) or 0.0


async def _no_sleep(_: float) -> None:
    return None


async def test_each_attempt_of_a_jira_call_is_counted_with_its_outcome() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json={})])
    endpoint = "rest/api/myself"
    before = {o: _count(endpoint, o) for o in ("429", "ok", "4xx")}
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: next(answers))) as client:
        await send(client, "GET", f"{CLOUD}/myself", policy=RetryPolicy(sleep=_no_sleep))
    assert _count(endpoint, "429") - before["429"] == 1
    assert _count(endpoint, "ok") - before["ok"] == 1

    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(404))) as client:
        with pytest.raises(JiraNotFound):
            await send(client, "GET", f"{CLOUD}/myself")
    assert _count(endpoint, "4xx") - before["4xx"] == 1


async def test_a_timeout_is_counted_as_such() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    before = _count("rest/api/issue", "timeout")
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        with pytest.raises(JiraUnavailable):
            await send(client, "POST", f"{CLOUD}/issue", json={})
    assert _count("rest/api/issue", "timeout") - before == 1  # a create is not resent


async def test_database_gauges_read_at_most_once_per_interval_and_keep_values_on_failure() -> None:
    now = [100.0]
    reads: list[str] = []
    failing = [False]

    async def read() -> dict[str, int]:
        reads.append("read")
        if failing[0]:
            raise RuntimeError("database down")
        return {"cloud": len(reads), "datacenter": 0}

    gauges = DatabaseGauges(interval=30, monotonic=lambda: now[0])
    gauges.add("things", "Things", read, ["kind"])

    def values() -> dict[str, float]:
        (family,) = list(gauges.collect())
        return {s.labels["kind"]: s.value for s in family.samples}

    await gauges.refresh()
    await gauges.refresh()
    assert values() == {"cloud": 1.0, "datacenter": 0.0} and len(reads) == 1
    now[0] += 31
    failing[0] = True
    await gauges.refresh()
    assert values() == {"cloud": 1.0, "datacenter": 0.0} and len(reads) == 2
    now[0] += 31
    failing[0] = False
    await gauges.refresh()
    assert values()["cloud"] == 3.0


async def test_request_ids_follow_tasks_and_only_plain_ids_are_taken() -> None:
    assert bind_request_id("Ev0123ABCD") == "Ev0123ABCD"
    seen: list[str | None] = []

    async def later() -> None:
        await asyncio.sleep(0)
        seen.append(current_request_id())

    await asyncio.create_task(later())
    assert seen == ["Ev0123ABCD"]
    generated = bind_request_id("evil\nrequest_id=forged")
    assert generated != "evil\nrequest_id=forged" and generated.isalnum() and len(generated) == 16
    assert bind_request_id(None) != generated

    record = logging.makeLogRecord({"msg": "x"})
    bind_request_id("13345224609.738474920.8088930838d88f008e0")
    RequestIdFilter().filter(record)
    assert record.request_id == "13345224609.738474920.8088930838d88f008e0"


def test_log_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging("info", "text")

        async def handle() -> None:
            bind_request_id("Ev42")
            logging.getLogger("bot.test").info("slack.thing.done", extra={"count": 1})

        asyncio.run(handle())
        logging.getLogger("bot.test").info("outside.request")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if "slack.thing.done" in line][0].endswith("count=1 request_id=Ev42")
    assert "request_id" not in [line for line in lines if "outside.request" in line][0]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"command": "/jira", "trigger_id": "1.2.3"}, "command"),
        ({"type": "block_actions"}, "action"),
        ({"type": "view_submission"}, "view_submission"),
        ({"type": "view_closed"}, "view_closed"),
        ({"type": "block_suggestion"}, "options"),
        ({"type": "message_action"}, "shortcut"),
        ({"type": "shortcut"}, "shortcut"),
        ({"type": "event_callback", "event_id": "Ev1"}, "event"),
        ({"type": "url_verification"}, "other"),
        ({"type": "T0001-made-up"}, "other"),
    ],
)
def test_slack_kinds_are_a_fixed_set(body: dict[str, str], kind: str) -> None:
    assert slack_kind(body) == kind


def test_slack_request_ids_are_event_or_trigger_ids() -> None:
    assert slack_request_id({"event_id": "Ev1", "trigger_id": "1.2"}) == "Ev1"
    assert slack_request_id({"trigger_id": "1.2"}) == "1.2"
    assert slack_request_id({"type": "block_suggestion"}) is None


def test_workers_get_a_new_metrics_folder_removed_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with shared_metrics_folder() as folder:
        assert os.environ[MULTIPROC_ENV] == folder and Path(folder).is_dir()
        (Path(folder) / "counter_1.db").write_bytes(b"")
    assert not Path(folder).exists() and MULTIPROC_ENV not in os.environ


def test_an_operators_metrics_folder_is_emptied_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    (tmp_path / "counter_1.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("not ours")
    with shared_metrics_folder() as folder:
        assert folder == str(tmp_path) and not list(tmp_path.glob("*.db"))
    assert (tmp_path / "notes.txt").exists()


def test_the_otlp_endpoint_must_be_a_url() -> None:
    base = {"slack_signing_secret": "s", "slack_bot_token": "xoxb-1", "database_url": "sqlite:///x.db",
            "_env_file": None}
    assert load_settings(**base).otel_exporter_otlp_endpoint is None
    assert load_settings(**base, otel_exporter_otlp_endpoint="http://collector:4318/")\
        .otel_exporter_otlp_endpoint == "http://collector:4318/"
    with pytest.raises(SettingsError) as caught:
        load_settings(**base, otel_exporter_otlp_endpoint="collector:4318")
    assert any("OTEL_EXPORTER_OTLP_ENDPOINT" in problem for problem in caught.value.problems)
