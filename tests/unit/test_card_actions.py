"""Issue card actions as data: links to issues, the Transition select, modals, notices in plain words,
unfurls, the state that travels through Slack, and the per-person issue cache."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.jira.issues import FieldMeta, IssueSnapshot, StatusCategory, Transition
from bot.jira.links import issue_key_in
from bot.services.create_meta import plan_fields
from bot.services.issue_cards import ActionDone, ActionKind, CardView, Refusal, Refused, TransitionForm
from bot.services.issues import IssueCreated
from bot.services.unfurls import IssueCache, UnfurledIssue, UnfurlPlan
from bot.slack import ids
from bot.slack.card_metadata import CardModal, CardPlace, decode_card_modal, encode_card_modal
from bot.slack.commands import parse_command
from bot.slack.metadata import MetadataError
from bot.slack.views import card_actions as views
from bot.slack.views.create_issue import build_thread_reply
from tests.emulators.slack import validate_blocks, validate_options_response, validate_view
from tests.unit.test_issue_card import CLOUD_ISSUE, DC_ISSUE

SITE = "https://acme.atlassian.net"


def snap(data: dict = CLOUD_ISSUE) -> IssueSnapshot:
    return IssueSnapshot.parse(data)


@pytest.mark.parametrize(
    ("url", "site", "key"),
    [
        (f"{SITE}/browse/ENG-42", SITE, "ENG-42"),
        (f"{SITE}/browse/ENG-42?focusedCommentId=1", SITE, "ENG-42"),
        (f"{SITE}/jira/software/projects/ENG/boards/1?selectedIssue=ENG-7", SITE, "ENG-7"),
        ("https://ACME.atlassian.net/browse/ENG-1", SITE, "ENG-1"),
        ("https://evil.atlassian.net/browse/ENG-1", SITE, None),
        ("https://acme.atlassian.net.evil.com/browse/ENG-1", SITE, None),
        (f"{SITE}/browse/eng-1", SITE, None),
        (f"{SITE}/browse/ENG-0", SITE, None),
        (f"{SITE}/wiki/spaces/X", SITE, None),
        ("https://jira.example.com/jira/browse/OPS-3", "https://jira.example.com/jira", "OPS-3"),
        ("https://jira.example.com/other/browse/OPS-3", "https://jira.example.com/jira", None),
        ("https://jira.example.com:8443/browse/OPS-3", "https://jira.example.com", None),
        ("javascript:alert(1)//acme.atlassian.net/browse/ENG-1", SITE, None),
        ("https://[bad", SITE, None),
    ],
)
def test_which_issue_a_link_names(url: str, site: str, key: str | None) -> None:
    assert issue_key_in(url, site) == key


def test_show_commands() -> None:
    assert (parse_command("show ENG-42").name, parse_command("show ENG-42").args) == ("show", "ENG-42")
    assert (parse_command("ENG-42").name, parse_command("ENG-42").args) == ("show", "ENG-42")
    assert parse_command("eng-42").name == "show"
    assert parse_command("ENG-42 extra").name == "unknown"
    admin = parse_command("admin unfurls restricted on")
    assert (admin.name, admin.args) == ("admin unfurls", "restricted on")


def _transition(tid: str, name: str, to: str, fields: tuple[FieldMeta, ...] = ()) -> Transition:
    return Transition(tid, name, to, StatusCategory.DONE, bool(fields), fields)


RESOLUTION = FieldMeta(
    "resolution",
    "Resolution",
    True,
    {"type": "resolution", "system": "resolution"},
    [{"id": "1", "name": "Fixed"}, {"id": "2", "name": "Won't fix"}],
)


def test_the_transition_select_lists_what_jira_offers_and_marks_forms() -> None:
    offered = [_transition("21", "Start", "In Progress"), _transition("31", "Done", "Done", (RESOLUTION,))]
    options = views.transition_options(offered)
    assert validate_options_response({"options": options}) == []
    assert [(o["text"]["text"], o["value"]) for o in options] == [
        ("Start → In Progress", "21"),
        ("Done", "31" + views.NEEDS_FORM),
    ]
    assert views.read_transition_choice("31" + views.NEEDS_FORM) == ("31", True)
    assert views.read_transition_choice("21") == ("21", False)
    assert views.read_transition_choice(views.CHOICE_CONNECT) is None
    unlinked = views.transition_options(Refused(Refusal.NOT_LINKED))
    assert [o["value"] for o in unlinked] == [views.CHOICE_CONNECT]
    assert [o["value"] for o in views.transition_options(Refused(Refusal.UNREACHABLE))] == [
        views.CHOICE_UNAVAILABLE
    ]


def test_the_transition_modal_renders_fields_like_the_create_form() -> None:
    transition = _transition("31", "Resolve issue", "Done", (RESOLUTION,))
    form = TransitionForm("ENG-42", transition, plan_fields(transition.required_fields), SITE)
    place = CardPlace("C1", "1.2", bot_message=True, response_url="https://hooks.example/x")
    view = views.build_transition_modal(form, CardModal("ENG-42", place))
    assert validate_view(view) == [], json.dumps(view)[:1500]
    [field] = [b for b in view["blocks"] if b["type"] == "input"]
    assert field["label"]["text"] == "Resolution"
    assert [o["text"]["text"] for o in field["element"]["options"]] == ["Fixed", "Won't fix"]
    state = decode_card_modal(view["private_metadata"])
    assert (state.key, state.transition_id, state.transition_name) == ("ENG-42", "31", "Done")
    assert state.fields == (("resolution", "sel"),) and state.place == place
    mapped, rest = views.field_errors_for_blocks({"resolution": "Pick one", "other": "Bad"}, state)
    assert mapped == {field["block_id"]: "Pick one"} and rest == ["other: Bad"]

    odd = FieldMeta("customfield_9", "Attachment-ish", True, {"type": "any", "custom": "x:y"})
    blocked = _transition("41", "Close", "Closed", (odd,))
    unrenderable = views.build_transition_modal(
        TransitionForm("ENG-42", blocked, plan_fields(blocked.required_fields), SITE),
        CardModal("ENG-42", place),
    )
    assert validate_view(unrenderable) == [] and "submit" not in unrenderable
    assert "Attachment-ish" in json.dumps(unrenderable)


def test_the_comment_modal() -> None:
    view = views.build_comment_modal(CardModal("ENG-42", CardPlace("C1", "1.2")))
    assert validate_view(view) == []
    [box] = view["blocks"]
    assert box["label"]["text"] == "Comment" and box["element"]["multiline"] is True
    submitted = {
        "state": {"values": {ids.BLOCK_CARD_COMMENT: {ids.ACTION_CARD_COMMENT_TEXT: {"value": "Hi"}}}}
    }
    assert views.read_comment(submitted) == "Hi"


def test_card_state_round_trips_and_refuses_what_is_not_its_own() -> None:
    state = CardModal(
        "ENG-1",
        CardPlace("C1", "1.2", True, False, True, "https://h/x", "Shared by <@U1>"),
        "31",
        "Done",
        (("resolution", "sel"),),
    )
    assert decode_card_modal(encode_card_modal(state)) == state
    for raw in ("", "{", '{"v":1}', '{"v":"card1"}', '{"v":"card1","k":"A-1","f":[[1,2]]}'):
        with pytest.raises(MetadataError):
            decode_card_modal(raw)


def test_where_a_clicked_card_is() -> None:
    body = {
        "container": {"type": "message", "channel_id": "C1", "message_ts": "1.2", "is_ephemeral": False},
        "message": {
            "bot_id": "B1",
            "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "Created by <@U1>"}]}],
        },
        "response_url": "https://hooks.example/1",
    }
    place = CardPlace.from_action(body, "UBOT", "B1")
    assert place.bot_message and not place.ephemeral and place.note == "Created by <@U1>"
    someone_else = CardPlace.from_action({**body, "message": {"user": "U9"}}, "UBOT", "B1")
    assert not someone_else.bot_message
    ephemeral = CardPlace.from_action(
        {"container": {"type": "message", "channel_id": "C1", "message_ts": "3.4", "is_ephemeral": True}},
        "UBOT",
        "B1",
    )
    assert ephemeral.ephemeral and ephemeral.private and not ephemeral.bot_message


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (Refused(Refusal.NOT_LINKED), "/jira connect"),
        (Refused(Refusal.RECONNECT), "reconnect"),
        (Refused(Refusal.NOT_FOUND, "ENG-1"), "*ENG-1* doesn't exist, or you don't have permission"),
        (Refused(Refusal.FORBIDDEN, "ENG-1", messages=("No <b>way</b>",)), "No &lt;b&gt;way&lt;/b&gt;"),
        (Refused(Refusal.REJECTED, "ENG-1", field_errors={"resolution": "Required"}), "resolution: Required"),
        (Refused(Refusal.RATE_LIMITED, retry_after=4.2), "try again in 5 seconds"),
        (Refused(Refusal.UNREACHABLE), "couldn't reach Jira"),
        (Refused(Refusal.UNCERTAIN, "ENG-1"), "Check *ENG-1* in Jira"),
        (Refused(Refusal.GONE, "ENG-1"), "isn't available"),
        (ActionDone(ActionKind.TRANSITION, "ENG-1", None, "In Progress"), "*ENG-1* is now *In Progress*"),
        (ActionDone(ActionKind.COMMENT, "ENG-1", None, repeated=True), "already added"),
    ],
)
def test_every_outcome_in_plain_words(result: ActionDone | Refused, expected: str) -> None:
    notice = views.build_notice(result, "ENG-1")
    assert expected in notice["text"] and validate_blocks(notice["blocks"]) == []
    assert "Jira" in notice["text"] or "jira" in notice["text"] or "*ENG-1*" in notice["text"]


def test_a_connect_button_where_linking_is_the_fix() -> None:
    notice = views.build_notice(Refused(Refusal.NOT_LINKED, connect_url="https://auth.example/go"))
    assert notice["blocks"][1]["elements"][0]["url"] == "https://auth.example/go"


def test_cards_for_show_share_update_and_the_thread_reply() -> None:
    card = CardView(snap(DC_ISSUE), "https://jira.example.com/jira")
    private = views.build_private_card(card)
    assert private["response_type"] == "ephemeral" and ":eyes: You are watching" in json.dumps(private)
    assert json.dumps(private).count(ids.ACTION_CARD_SHARE) == 1
    shared = views.build_shared_card(card, "U1")
    assert "Shared by <@U1>" in json.dumps(shared) and ids.ACTION_CARD_SHARE not in json.dumps(shared)
    updated = views.build_updated_card(card, "Shared by <@U1>", private=False)
    assert "Shared by <@U1>" in json.dumps(updated) and "You are watching" not in json.dumps(updated)
    for message in (private, shared, updated):
        assert validate_blocks(message["blocks"]) == []
    created = IssueCreated("ENG-42", f"{SITE}/browse/ENG-42", "Checkout", "Bug", "ENG", "Engineering")
    reply = build_thread_reply(created, "U1", snap())
    assert validate_blocks(reply["blocks"]) == [] and "Created by <@U1>" in json.dumps(reply)
    assert ids.ACTION_CARD_ASSIGN in json.dumps(reply) and f"<{SITE}/browse/ENG-42|ENG-42>" in json.dumps(
        reply
    )


def test_unfurls_show_restricted_issues_as_their_key_only() -> None:
    restricted = snap(DC_ISSUE)
    plan = UnfurlPlan(
        SITE,
        (
            UnfurledIssue(f"{SITE}/browse/OPS-7", "OPS-7", restricted, restricted_only=True),
            UnfurledIssue(f"{SITE}/browse/ENG-42", "ENG-42", snap(), restricted_only=False),
        ),
    )
    unfurls = views.build_unfurls(plan)
    assert "Restricted issue" in json.dumps(unfurls[f"{SITE}/browse/OPS-7"])
    assert "Disk full" not in json.dumps(unfurls[f"{SITE}/browse/OPS-7"])
    assert "Checkout fails" in json.dumps(unfurls[f"{SITE}/browse/ENG-42"])
    for unfurl in unfurls.values():
        assert validate_blocks(unfurl["blocks"]) == []


def test_the_issue_cache_is_per_person_short_and_reads_once_for_concurrent_asks() -> None:
    now = [100.0]
    cache = IssueCache(ttl=10, clock=lambda: now[0])
    reads: list[str] = []

    async def scenario() -> None:
        async def read() -> IssueSnapshot | None:
            reads.append("x")
            await asyncio.sleep(0.01)
            return snap()

        together = await asyncio.gather(*(cache.get("T", "U1", "ENG-42", read) for _ in range(5)))
        assert all(i is not None and i.key == "ENG-42" for i in together) and len(reads) == 1
        await cache.get("T", "U1", "ENG-42", read)
        assert len(reads) == 1
        await cache.get("T", "U2", "ENG-42", read)  # never shared between people
        assert len(reads) == 2
        now[0] += 11
        await cache.get("T", "U1", "ENG-42", read)
        assert len(reads) == 3
        cache.forget("T", "U1", "ENG-42")
        await cache.get("T", "U1", "ENG-42", read)
        assert len(reads) == 4

        async def failing() -> IssueSnapshot | None:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await cache.get("T", "U3", "ENG-42", failing)
        assert await cache.get("T", "U3", "ENG-42", read) is not None  # a failure is not remembered

    asyncio.run(scenario())


def test_cards_others_see_keep_restricted_issues_to_their_key() -> None:
    restricted = CardView(snap(DC_ISSUE), "https://jira.example.com/jira", channel_full=False)
    shared = views.build_shared_card(restricted, "U1")
    assert "Restricted issue" in json.dumps(shared) and "Disk full" not in json.dumps(shared)
    assert "Shared by <@U1>" in json.dumps(shared) and validate_blocks(shared["blocks"]) == []
    updated = views.build_updated_card(restricted, "Created by <@U1>", private=False)
    assert "Disk full" not in json.dumps(updated)
    private = views.build_updated_card(restricted, None, private=True)  # its reader may see it all
    assert "Disk full" in json.dumps(private)
    created = IssueCreated(
        "OPS-7", "https://jira.example.com/jira/browse/OPS-7", "Disk full", "Task", "OPS", "Ops"
    )
    reply = build_thread_reply(created, "U1", snap(DC_ISSUE), full=False)
    assert "Disk full" not in json.dumps(reply) and "Created by <@U1>" in json.dumps(reply)


def test_a_refused_comment_is_given_back() -> None:
    notice = views.build_notice(
        Refused(Refusal.FORBIDDEN, "ENG-1"), "ENG-1", comment="My *long* thought\nline 2"
    )
    assert "> My *long* thought\n> line 2" in json.dumps(notice["blocks"], ensure_ascii=False).replace(
        "\\n", "\n"
    )
    assert views.keeps_comment_open(Refused(Refusal.FORBIDDEN)) and not views.keeps_comment_open(
        Refused(Refusal.UNCERTAIN)
    )
    assert len(views.input_error(Refused(Refusal.REJECTED, "ENG-1", messages=("x" * 500,)))) <= 150
