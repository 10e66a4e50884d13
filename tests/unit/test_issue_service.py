"""The issue service against a Jira on `httpx.MockTransport` and a real database: one test per way a
create can end, and the form's data."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.clock import ManualClock
from bot.container import Components, build_components
from bot.services.issue_drafts import (
    FormTexts,
    Prefill,
    SourceMessage,
    description_digest,
    fit_description,
    readable_text,
    text_of_message,
)
from bot.services.issue_recovery import SUBMISSION_PROPERTY, submission_marker
from bot.services.issues import (
    Blocked,
    BlockedReason,
    FailureReason,
    FieldInput,
    IssueInput,
    IssueService,
    IssueSubmission,
    OutcomeStatus,
    Ready,
    ShowBlocked,
    ShowForm,
    ShowJiraDown,
)
from bot.settings import load_settings
from bot.slack.context import Actor
from bot.slack.metadata import ModalState
from storage.migrate import upgrade
from storage.repositories.accounts import JiraIdentity, TokenSet
from tests.emulators.atlassian_specs import adf_errors
from tests.harness import ENCRYPTION_KEY, SIGNING_SECRET

TEAM = "T0TEAM001"
ALICE = "U0ALICE01"
API = "https://api.atlassian.test"
AUTH = "https://auth.atlassian.test"
CLOUD_ID = "cloud-1"
SITE = "https://acme.atlassian.net"
DC_SITE = "https://jira.example.com/jira"
CLOUD_BASE = f"{API}/ex/jira/{CLOUD_ID}/rest/api/3"
DC_BASE = f"{DC_SITE}/rest/api/2"
PERMALINK = "https://acme.slack.com/archives/C0GENERAL/p1700000000000100"

Responder = httpx.Response | Exception | Callable[[httpx.Request], Any]


@dataclass
class FakeJira:
    """Answers by method and path; each route's answers are used in turn, the last one repeatedly."""

    routes: dict[tuple[str, str], list[Responder]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, url: str, *answers: Responder) -> None:
        self.routes[(method, url)] = list(answers)

    def __call__(self, request: httpx.Request) -> Any:
        self.requests.append(request)
        url = str(request.url.copy_with(query=None))
        answers = self.routes.get((request.method, url))
        if not answers:
            return httpx.Response(404, json={"errorMessages": [f"no route {request.method} {url}"]})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def posts(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests
                if r.method == "POST" and r.url.path.endswith("/issue")]


@dataclass
class World:
    components: Components
    jira: FakeJira
    clock: ManualClock
    cloud: bool

    @property
    def service(self) -> IssueService:
        return self.components.services["issues"]

    @property
    def storage(self) -> Any:
        return self.components.storage

    @property
    def base(self) -> str:
        return CLOUD_BASE if self.cloud else DC_BASE


def _standard_routes(jira: FakeJira, base: str) -> None:
    jira.on("GET", f"{base}/project/ENG", httpx.Response(200, json={"id": "10000", "key": "ENG",
                                                                    "name": "Engineering"}))
    types = [{"id": "10001", "name": "Task", "subtask": False},
             {"id": "10003", "name": "Sub-task", "subtask": True}]
    jira.on("GET", f"{base}/issue/createmeta/ENG/issuetypes",
            httpx.Response(200, json={"issueTypes": types, "values": types, "total": 2, "isLast": True}))
    fields = [
        {"fieldId": "summary", "name": "Summary", "required": True, "schema": {"type": "string"}},
        {"fieldId": "customfield_1", "name": "Story points", "required": True, "schema": {"type": "number"}},
    ]
    jira.on("GET", f"{base}/issue/createmeta/ENG/issuetypes/10001",
            httpx.Response(200, json={"fields": fields, "values": fields, "total": 2, "isLast": True}))
    jira.on("POST", f"{base}/issue", httpx.Response(201, json={"id": "10050", "key": "ENG-1",
                                                               "self": f"{base}/issue/10050"}))


async def _world(database_url: str, tmp_path: Any, *, cloud: bool) -> World:
    jira = FakeJira()
    _standard_routes(jira, CLOUD_BASE if cloud else DC_BASE)
    clock = ManualClock(datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    settings = load_settings(
        slack_signing_secret=SIGNING_SECRET, slack_bot_token="xoxb-test-bot-token",
        slack_api_url="http://127.0.0.1:9/api/", database_url=database_url,
        jirabot_public_url="https://bot.example.com", jirabot_encryption_key=ENCRYPTION_KEY,
        atlassian_client_id="cloud-client", atlassian_client_secret="cloud-secret",
        atlassian_auth_url=AUTH, atlassian_api_url=API, jirabot_scheduler=False, _env_file=None,
    )
    components = build_components(settings, clock=clock,
                                  http=httpx.AsyncClient(transport=httpx.MockTransport(jira)))
    await upgrade(components.storage.db.engine)
    now = clock.now()
    await components.storage.tenants.install(
        team_id=TEAM, enterprise_id=None, kind="cloud" if cloud else "datacenter",
        site_url=SITE if cloud else DC_SITE, site_name="acme", cloud_id=CLOUD_ID if cloud else None,
        dc_client_id=None if cloud else "dc-client", dc_client_secret=None if cloud else "dc-secret",
        installed_by=ALICE, identity=JiraIdentity("acc-alice", "Alice Anders", "alice@acme.test"),
        tokens=TokenSet("access-1", "refresh-1", now + timedelta(hours=1)), now=now,
    )
    return World(components, jira, clock, cloud)


@pytest.fixture
async def world(database_url: str, tmp_path: Any) -> AsyncIterator[World]:
    built = await _world(database_url, tmp_path, cloud=True)
    yield built
    await built.components.aclose()


@pytest.fixture
async def dc_world(database_url: str, tmp_path: Any) -> AsyncIterator[World]:
    built = await _world(database_url, tmp_path, cloud=False)
    yield built
    await built.components.aclose()


ACTOR = Actor(TEAM, None, ALICE)
STATE = ModalState(channel_id="C0GENERAL", message_ts="1700000000.000100", project_key="ENG",
                   project_id="10000", issue_type_id="10001", fields=(("customfield_1", "num"),))


def submission(*, view_hash: str = "h1", description: str = "Some *text*", points: str = "3",
               state: ModalState = STATE, actor: Actor = ACTOR) -> IssueSubmission:
    return IssueSubmission(actor=actor, view_id="V1", view_hash=view_hash, state=state, input=IssueInput(
        project_key="ENG", project_name="Engineering", issue_type_id="10001", issue_type_name="Task",
        summary="Printer on fire", description=description,
        fields=(FieldInput("customfield_1", "num", {"type": "number_input", "value": points}),),
    ))


async def create(world: World, sub: IssueSubmission | None = None):
    sub = sub or submission()
    assert await world.service.claim(sub) is None
    return await world.service.create(sub)


async def claim_is_free(world: World, sub: IssueSubmission) -> bool:
    """True when the submission's key was released (a new delivery would create again)."""
    free = await world.service.claim(sub) is None
    if free:
        await world.storage.idempotency.release(sub.idempotency_key)
    return free


# Creates that succeed -----------------------------------------------------------------------------------

async def test_a_create_sends_the_fields_as_the_user_and_remembers_the_issue(world: World) -> None:
    outcome = await create(world)
    assert outcome.status == OutcomeStatus.CREATED and outcome.issue is not None
    assert (outcome.issue.key, outcome.issue.url) == ("ENG-1", f"{SITE}/browse/ENG-1")
    (body,) = world.jira.posts()
    fields = body["fields"]
    assert fields["project"] == {"key": "ENG"} and fields["issuetype"] == {"id": "10001"}
    assert fields["summary"] == "Printer on fire" and fields["customfield_1"] == 3
    assert adf_errors(fields["description"]) == []
    post = [r for r in world.jira.requests if r.method == "POST"][0]
    assert post.headers["authorization"] == "Bearer access-1"
    links = await world.storage.issue_links.for_message(TEAM, "C0GENERAL", "1700000000.000100")
    assert [(link.issue_key, link.created_by, link.summary) for link in links] == [
        ("ENG-1", ALICE, "Printer on fire")]
    account = await world.storage.accounts.get(TEAM, ALICE)
    assert account.last_project_key == "ENG"
    again = await world.service.claim(submission())
    assert again is not None and again.status == OutcomeStatus.CREATED and again.issue == outcome.issue
    assert len(world.jira.posts()) == 1


async def test_a_repeat_while_the_first_is_creating_is_told_it_is_pending(world: World) -> None:
    sub = submission()
    assert await world.service.claim(sub) is None
    pending = await world.service.claim(sub)
    assert pending is not None and pending.status == OutcomeStatus.PENDING


async def test_a_repeat_waits_for_the_first_delivery_and_gets_its_outcome(world: World) -> None:
    gate = asyncio.Event()

    async def slow_jira(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(201, json={"id": "10050", "key": "ENG-1"})

    world.jira.on("POST", f"{CLOUD_BASE}/issue", slow_jira)
    sub = submission()
    assert await world.service.claim(sub) is None
    first = asyncio.create_task(world.service.create(sub))
    waiting = asyncio.create_task(world.service.claim(sub, wait=5))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # still pending: the repeat waits rather than answering "creating"
    gate.set()
    outcome, repeat = await first, await waiting
    assert repeat is not None and repeat.status == OutcomeStatus.CREATED and repeat.issue == outcome.issue
    assert len(world.jira.posts()) == 1


async def test_a_repeat_of_a_submission_that_failed_for_certain_may_create(world: World) -> None:
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.Response(403, json={"errorMessages": ["No"]}),
                  httpx.Response(201, json={"id": "2", "key": "ENG-2"}))
    first = await create(world)
    assert first.reason == FailureReason.NO_PERMISSION
    assert await world.service.claim(submission(), wait=1) is None  # the key was released: go ahead
    assert (await world.service.create(submission())).issue.key == "ENG-2"


async def test_a_429_is_retried_after_its_delay_and_creates_one_issue(world: World) -> None:
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.Response(429, headers={"Retry-After": "0"}),
                  httpx.Response(201, json={"id": "1", "key": "ENG-9"}))
    outcome = await create(world)
    assert outcome.created and outcome.issue.key == "ENG-9"
    assert len(world.jira.posts()) == 2


async def test_datacenter_gets_rest_v2_with_wiki_markup_and_user_names(dc_world: World) -> None:
    state = replace(STATE, fields=(("customfield_1", "num"), ("customfield_2", "usr")))
    sub = submission(state=state)
    sub = replace(sub, input=replace(sub.input, fields=(
        *sub.input.fields,
        FieldInput("customfield_2", "usr", {"type": "external_select",
                                            "selected_option": {"text": {"type": "plain_text", "text": "Bob"},
                                                                "value": "bob"}}),
    )))
    outcome = await create(dc_world, sub)
    assert outcome.created and outcome.issue.url == f"{DC_SITE}/browse/ENG-1"
    (post,) = [r for r in dc_world.jira.requests if r.method == "POST"]
    assert str(post.url) == f"{DC_BASE}/issue"
    fields = json.loads(post.content)["fields"]
    assert fields["description"] == "Some *text*"
    assert fields["customfield_2"] == {"name": "bob"}


async def test_an_unchanged_prefilled_description_sends_the_whole_message(world: World) -> None:
    body = "start " + "word " * 1000 + "the end"
    description, truncated = fit_description(body, PERMALINK)
    assert truncated
    await world.service.drafts.save(TEAM, "V1", Prefill("S", description, body, PERMALINK, True))
    state = replace(STATE, has_draft=True, truncated=True, description_digest=description_digest(description))
    outcome = await create(world, submission(state=state, description=description))
    assert outcome.created
    doc = world.jira.posts()[0]["fields"]["description"]
    assert adf_errors(doc) == []
    assert "the end" in json.dumps(doc)
    assert doc["content"][-1]["content"][1]["marks"][0]["attrs"]["href"] == PERMALINK
    assert await world.service.drafts.load(TEAM, "V1") is None  # discarded once created


async def test_an_edited_description_sends_what_the_user_wrote(world: World) -> None:
    await world.service.drafts.save(TEAM, "V1", Prefill("S", "prefilled", "the whole message", None, False))
    state = replace(STATE, has_draft=True, description_digest=description_digest("prefilled"))
    await create(world, submission(state=state, description="my own words"))
    doc = world.jira.posts()[0]["fields"]["description"]
    assert doc["content"] == [{"type": "paragraph", "content": [{"type": "text", "text": "my own words"}]}]


# Creates that fail for certain: the key is released -----------------------------------------------------

async def test_jira_400_gives_its_field_errors_and_frees_the_submission(world: World) -> None:
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.Response(400, json={
        "errorMessages": ["Check the fields"], "errors": {"customfield_1": "Story points is required."}}))
    outcome = await create(world)
    assert outcome.status == OutcomeStatus.INVALID
    assert outcome.field_errors == {"customfield_1": "Story points is required."}
    assert outcome.messages == ("Check the fields",)
    assert await claim_is_free(world, submission())


@pytest.mark.parametrize("status", [403, 404])
async def test_no_permission_in_the_project(world: World, status: int) -> None:
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.Response(status, json={"errorMessages": ["No"]}))
    outcome = await create(world)
    assert (outcome.status, outcome.reason) == (OutcomeStatus.FAILED, FailureReason.NO_PERMISSION)
    assert await claim_is_free(world, submission())


async def test_rate_limited_to_the_end_is_reported_and_freed(world: World) -> None:
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.Response(429, headers={"Retry-After": "0"}))
    outcome = await create(world)
    assert outcome.reason == FailureReason.RATE_LIMITED
    assert len(world.jira.posts()) == 4  # the retry policy's attempts, each after the delay asked for
    assert await claim_is_free(world, submission())


async def test_jira_unreachable_before_anything_was_sent(world: World) -> None:
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.ConnectError("connection refused"))
    started = time.monotonic()
    outcome = await create(world)
    assert outcome.reason == FailureReason.UNREACHABLE
    assert time.monotonic() - started < 10
    assert await claim_is_free(world, submission())


async def test_a_token_refresh_that_times_out_sent_nothing_to_jira(world: World) -> None:
    world.clock.advance(hours=2)  # the access token has expired: it is refreshed before the create
    world.jira.on("POST", f"{AUTH}/oauth/token", httpx.ReadTimeout("timed out"))
    outcome = await create(world)
    assert outcome.reason == FailureReason.UNREACHABLE
    assert world.jira.posts() == []
    assert await claim_is_free(world, submission())


async def test_a_revoked_grant_asks_for_a_reconnect(world: World) -> None:
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.Response(401, json={"message": "Unauthorized"}))
    world.jira.on("POST", f"{AUTH}/oauth/token", httpx.Response(403, json={"error": "invalid_grant"}))
    outcome = await create(world)
    assert (outcome.status, outcome.reason) == (OutcomeStatus.FAILED, FailureReason.RECONNECT)
    assert outcome.connect_url and outcome.connect_url.startswith("https://bot.example.com/jira/oauth/start?state=")
    account = await world.storage.accounts.get(TEAM, ALICE)
    assert account.needs_reconnect
    assert await claim_is_free(world, submission())


async def test_a_value_jira_would_refuse_is_caught_before_sending(world: World) -> None:
    outcome = await create(world, submission(points="lots"))
    assert outcome.status == OutcomeStatus.INVALID
    assert "customfield_1" in outcome.field_errors
    assert world.jira.posts() == []
    assert await claim_is_free(world, submission(points="lots"))


async def test_an_unlinked_user_is_asked_to_connect_and_nothing_is_sent(world: World) -> None:
    bob = Actor(TEAM, None, "U0BOB0001")
    outcome = await create(world, submission(actor=bob))
    assert outcome.reason == FailureReason.NOT_LINKED and outcome.connect_url
    assert world.jira.posts() == []


# Creates whose outcome is unknown: never sent again -------------------------------------------------------

@pytest.mark.parametrize("answer", [
    httpx.Response(500, json={"errorMessages": ["Internal error"]}),
    httpx.Response(503, text="Service Unavailable"),
    httpx.ReadTimeout("timed out"),
])
async def test_a_create_that_may_have_reached_jira_is_not_resent(world: World, answer: Responder) -> None:
    world.jira.on("POST", f"{CLOUD_BASE}/issue", answer)
    outcome = await create(world)
    assert (outcome.status, outcome.reason) == (OutcomeStatus.FAILED, FailureReason.UNCERTAIN)
    assert outcome.check_url and outcome.check_url.startswith(f"{SITE}/issues/?jql=")
    assert len(world.jira.posts()) == 1
    repeat = await world.service.claim(submission())
    assert repeat is not None and repeat.reason == FailureReason.UNCERTAIN
    assert len(world.jira.posts()) == 1
    assert await claim_is_free(world, submission(view_hash="h2"))  # the form shown again: a new key


# The form's data ----------------------------------------------------------------------------------------

async def ready(world: World) -> Ready:
    access = await world.service.access(ACTOR)
    assert isinstance(access, Ready)
    return access


async def test_the_form_uses_the_only_creatable_project_and_skips_subtasks(world: World) -> None:
    world.jira.on("GET", f"{CLOUD_BASE}/project/search", httpx.Response(200, json={
        "values": [{"id": "10000", "key": "ENG", "name": "Engineering"}], "isLast": True, "total": 1}))
    step = await world.service.start_from_command(ACTOR, "C0GENERAL", "Fix   the\nprinter")
    assert isinstance(step, ShowForm)
    assert step.texts == FormTexts("Fix the printer")
    assert step.data.project.key == "ENG"
    assert [t.name for t in step.data.issue_types] == ["Task"]
    assert [(s.field_id, s.kind.value) for s in step.data.plan.inputs] == [("customfield_1", "num")]


async def test_the_last_used_project_comes_first_then_the_workspace_default(world: World) -> None:
    account = await world.storage.accounts.get(TEAM, ALICE)
    await world.storage.accounts.set_last_project(account.id, "GONE")
    await world.storage.tenants.set_default_project(TEAM, "ENG", "Engineering")
    data = await world.service.load_form(await ready(world))
    assert data.project.key == "ENG"
    asked = [r.url.path for r in world.jira.requests]
    assert asked.index("/ex/jira/cloud-1/rest/api/3/project/GONE") < asked.index(
        "/ex/jira/cloud-1/rest/api/3/project/ENG")


async def test_a_chosen_project_without_create_rights_is_named(world: World) -> None:
    data = await world.service.load_form(await ready(world), project_key="OPS")
    assert data.project is None and data.unavailable_project == "OPS"


async def test_jira_failing_while_loading_says_so(world: World) -> None:
    world.jira.on("GET", f"{CLOUD_BASE}/project/search", httpx.Response(429, headers={"Retry-After": "0"}))
    step = await world.service.start_from_command(ACTOR, None, "")
    assert isinstance(step, ShowJiraDown)


async def test_a_revoked_grant_while_loading_shows_reconnect(world: World) -> None:
    world.jira.on("GET", f"{CLOUD_BASE}/project/search", httpx.Response(401))
    world.jira.on("POST", f"{AUTH}/oauth/token", httpx.Response(403, json={"error": "invalid_grant"}))
    step = await world.service.start_from_command(ACTOR, None, "")
    assert isinstance(step, ShowBlocked)
    assert step.blocked.reason == BlockedReason.NEEDS_RECONNECT and step.blocked.connect_url


async def test_access_without_install_or_link(world: World) -> None:
    assert await world.service.access(Actor("T0OTHER01", None, ALICE)) == Blocked(BlockedReason.NOT_INSTALLED)
    bob = await world.service.access(Actor(TEAM, None, "U0BOB0001"))
    assert isinstance(bob, Blocked) and bob.reason == BlockedReason.NOT_LINKED
    assert bob.site == "acme.atlassian.net" and bob.connect_url


# Reading messages ---------------------------------------------------------------------------------------

def test_a_message_without_text_uses_its_blocks_attachments_and_files() -> None:
    message = {
        "text": "",
        "blocks": [{"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "text", "text": "Hi "}, {"type": "user", "user_id": "U1"},
            {"type": "link", "url": "https://x.test", "text": "site"}]}]},
            {"type": "section", "text": {"type": "mrkdwn", "text": "Section text"}}],
        "attachments": [{"title": "Alert", "text": "CPU high"}, {"fallback": "Only fallback"}],
        "files": [{"name": "log.txt"}, {"title": "Screenshot"}],
    }
    assert text_of_message(message) == ("Hi <@U1><https://x.test|site>\n\nSection text\n\nAlert\n\n"
                                        "CPU high\n\nOnly fallback\n\nFiles: log.txt, Screenshot")
    assert text_of_message({"text": "  plain  ", "files": [{"name": "a"}]}) == "plain"
    assert text_of_message({}) == ""


def test_a_shortcut_payload_becomes_a_source_message() -> None:
    body = {"type": "message_action", "team": {"id": TEAM, "domain": "acme"}, "channel": {"id": "C1"},
            "message": {"ts": "2.0", "thread_ts": "1.0", "text": "reply in thread"}}
    source = SourceMessage.from_payload(body)
    assert (source.channel_id, source.ts, source.thread_ts, source.text, source.team_domain) == (
        "C1", "2.0", "1.0", "reply in thread", "acme")
    body["message"]["thread_ts"] = "2.0"  # a thread's parent
    assert SourceMessage.from_payload(body).thread_ts is None
    assert source.has_own_text
    files_only = SourceMessage.from_payload({**body, "message": {"ts": "3.0", "text": "",
                                                                 "files": [{"name": "log.txt"}]}})
    assert (files_only.text, files_only.has_own_text) == ("Files: log.txt", False)


def test_mentions_read_as_names_in_the_modal() -> None:
    from bot.jira.formatting import SlackMentions

    mentions = SlackMentions(users={"U1": "bob"}, channels={"C1": "general"})
    text = readable_text("hi <@U1> in <#C1> and <#C2|ops> <@U9|zed>", mentions)
    assert text == "hi @bob in #general and #ops @zed"
    specials = readable_text(
        "<!here> <!channel|@channel> <!subteam^S1|@oncall> <!date^1700000000^{date}|Nov 14>", mentions)
    assert specials == "@here @channel @oncall Nov 14"


def test_a_long_message_is_cut_for_slack_and_keeps_the_link_line() -> None:
    body = "x" * 5000
    description, truncated = fit_description(body, PERMALINK)
    assert truncated and len(description) <= 3000
    assert description.endswith(f"\n\nCreated from a Slack message: {PERMALINK}")
    assert fit_description("short", None) == ("short", False)


# One issue per submission, even when Jira's answer is lost ------------------------------------------------

def marked(sub: IssueSubmission) -> httpx.Response:
    return httpx.Response(200, json={"key": SUBMISSION_PROPERTY,
                                     "value": {"submission": submission_marker(sub.idempotency_key)}})


def search_finds(world: World, *hits: tuple[str, str]) -> None:
    issues = [{"id": str(10070 + n), "key": key, "fields": {"summary": summary}}
              for n, (key, summary) in enumerate(hits)]
    world.jira.on("POST", f"{world.base}/search/jql", httpx.Response(200, json={"issues": issues,
                                                                               "isLast": True}))


def searches(world: World) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in world.jira.requests if r.url.path.endswith("/search/jql")]


async def test_every_create_carries_the_submissions_marker(world: World) -> None:
    sub = submission()
    await create(world, sub)
    (body,) = world.jira.posts()
    assert body["properties"] == [{"key": SUBMISSION_PROPERTY,
                                   "value": {"submission": submission_marker(sub.idempotency_key)}}]
    assert sub.idempotency_key not in json.dumps(body)  # the marker names it without repeating its ids


async def test_a_503_after_jira_made_the_issue_is_not_resent_and_the_issue_is_found(world: World) -> None:
    sub = submission()
    world.service.lookup_delays = (0.0, 0.0)
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.Response(503, headers={"Retry-After": "1"},
                                                                text="Service Unavailable"))
    search_finds(world, ("ENG-8", "Someone else's"), ("ENG-7", "Printer on fire"))
    world.jira.on("GET", f"{CLOUD_BASE}/issue/ENG-8/properties/{SUBMISSION_PROPERTY}",
                  httpx.Response(404, json={"errorMessages": ["The property does not exist."]}))
    world.jira.on("GET", f"{CLOUD_BASE}/issue/ENG-7/properties/{SUBMISSION_PROPERTY}", marked(sub))
    outcome = await create(world, sub)
    assert outcome.created and (outcome.issue.key, outcome.issue.url) == ("ENG-7", f"{SITE}/browse/ENG-7")
    assert outcome.issue.summary == "Printer on fire" and outcome.issue.project_name == "Engineering"
    assert len(world.jira.posts()) == 1  # never resent
    (search,) = searches(world)
    assert search["jql"] == ('project = "ENG" AND reporter = currentUser() AND created >= -6m '
                             "ORDER BY created DESC")
    links = await world.storage.issue_links.for_message(TEAM, "C0GENERAL", "1700000000.000100")
    assert [link.issue_key for link in links] == ["ENG-7"]
    again = await world.service.claim(sub)
    assert again is not None and again.created and again.issue.key == "ENG-7"


async def test_a_500_whose_issue_cannot_be_found_is_unsure_and_looked_for_again_later(world: World) -> None:
    sub = submission()
    world.service.lookup_delays = (0.0, 0.0)
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.Response(500, json={"errorMessages": ["Boom"]}))
    search_finds(world)
    outcome = await create(world, sub)
    assert (outcome.status, outcome.reason) == (OutcomeStatus.FAILED, FailureReason.UNCERTAIN)
    assert len(searches(world)) == 2 and len(world.jira.posts()) == 1
    # Resubmitted at once: still unsure, nothing sent. Minutes later: looked for once more, then created.
    assert (await world.service.claim(sub)).reason == FailureReason.UNCERTAIN
    world.clock.advance(minutes=4)
    world.jira.on("POST", f"{CLOUD_BASE}/issue", httpx.Response(201, json={"id": "10051", "key": "ENG-2"}))
    assert await world.service.claim(sub) is None
    retried = await world.service.create(sub)
    assert retried.created and retried.issue.key == "ENG-2"
    assert len(searches(world)) == 3 and len(world.jira.posts()) == 2
    assert "created >= -10m" in searches(world)[-1]["jql"]  # the window reaches back to the first try


async def test_a_submission_left_pending_by_a_crash_is_found_on_resubmit_instead_of_created(
        world: World) -> None:
    sub = submission()
    assert await world.service.claim(sub) is None  # the process that claimed it died here
    pending = await world.service.claim(sub)
    assert pending is not None and pending.status == OutcomeStatus.PENDING  # young: still being created
    world.clock.advance(minutes=4)
    search_finds(world, ("ENG-5", "Printer on fire"))
    world.jira.on("GET", f"{CLOUD_BASE}/issue/ENG-5/properties/{SUBMISSION_PROPERTY}", marked(sub))
    assert await world.service.claim(sub, wait=1) is None  # taken over
    assert await world.service.claim(sub) is not None  # by one delivery only
    outcome = await world.service.create(sub)
    assert outcome.created and outcome.issue.key == "ENG-5"
    assert world.jira.posts() == []
    assert [link.issue_key for link in await world.storage.issue_links.for_message(
        TEAM, "C0GENERAL", "1700000000.000100")] == ["ENG-5"]


async def test_a_crash_before_anything_reached_jira_creates_on_resubmit(world: World) -> None:
    sub = submission()
    assert await world.service.claim(sub) is None
    world.clock.advance(minutes=4)
    search_finds(world)
    assert await world.service.claim(sub) is None
    outcome = await world.service.create(sub)
    assert outcome.created and outcome.issue.key == "ENG-1"
    assert len(searches(world)) == 1 and len(world.jira.posts()) == 1


async def test_abandoned_pending_creates_are_resolved_by_looking_in_jira(world: World) -> None:
    found, lost, fresh = (submission(view_hash=h) for h in ("found", "lost", "new"))
    for sub in (found, lost):
        assert await world.service.claim(sub) is None
    world.clock.advance(minutes=4)
    assert await world.service.claim(fresh) is None  # still young: left alone
    search_finds(world, ("ENG-9", "Printer on fire"))
    world.jira.on("GET", f"{CLOUD_BASE}/issue/ENG-9/properties/{SUBMISSION_PROPERTY}", marked(found))
    resolutions = await world.service.resolve_abandoned()
    assert len(resolutions) == 2
    created = [r for r in resolutions if r.outcome.created]
    unsure = [r for r in resolutions if not r.outcome.created]
    assert [r.outcome.issue.key for r in created] == ["ENG-9"]
    assert [r.outcome.reason for r in unsure] == [FailureReason.UNCERTAIN] and unsure[0].outcome.check_url
    assert created[0].pending.actor == ACTOR and created[0].pending.state.channel_id == "C0GENERAL"
    assert world.jira.posts() == []
    assert (await world.service.claim(found)).issue.key == "ENG-9"
    assert (await world.service.claim(lost)).reason == FailureReason.UNCERTAIN
    assert (await world.service.claim(fresh)).status == OutcomeStatus.PENDING
    assert await world.service.resolve_abandoned() == []  # each is resolved once


async def test_datacenter_finds_an_unanswered_create_through_its_v2_search(dc_world: World) -> None:
    sub = submission()
    dc_world.service.lookup_delays = (0.0,)
    dc_world.jira.on("POST", f"{DC_BASE}/issue", httpx.ReadTimeout("timed out"))
    dc_world.jira.on("GET", f"{DC_BASE}/search", httpx.Response(200, json={
        "startAt": 0, "maxResults": 20, "total": 1,
        "issues": [{"id": "10300", "key": "ENG-3", "fields": {"summary": "Printer on fire"}}]}))
    dc_world.jira.on("GET", f"{DC_BASE}/issue/ENG-3/properties/{SUBMISSION_PROPERTY}", marked(sub))
    outcome = await create(dc_world, sub)
    assert outcome.created and outcome.issue.url == f"{DC_SITE}/browse/ENG-3"
    (search,) = [r for r in dc_world.jira.requests if r.url.path.endswith("/search")]
    assert search.url.params["jql"].startswith('project = "ENG" AND reporter = currentUser()')
    assert search.url.params["fields"] == "summary"
    assert json.loads(dc_world.jira.requests[-3].content)["properties"][0]["key"] == SUBMISSION_PROPERTY
