"""Creates whose answer is lost or refused for a while, end to end: a proxy's 503 after Jira made the
issue is not a reason to send the create again (the bot finds the issue by its marker), and a 429 is
(after its Retry-After), on Jira Cloud and Data Center."""

from __future__ import annotations

import pytest

from tests.e2e.flows import World, cloud_world, datacenter_world, install, link_user
from tests.e2e.test_create_issue import issue_posts, links_of, open_form, submit, text_of, thread_replies

CREATE = r"/rest/api/[23]/issue$"


@pytest.fixture(params=["cloud", "datacenter"])
def world(request, bot, slack, atlassian, driver) -> World:
    build = cloud_world if request.param == "cloud" else datacenter_world
    built = build(bot, slack, atlassian, driver)
    install(built)
    link_user(built)
    return built


def test_a_503_after_jira_made_the_issue_is_not_resent_and_the_issue_is_shown(world: World) -> None:
    result, form = open_form(world)
    ts = result.payload["message_ts"]
    world.atlassian.holds.answer_after(CREATE, 503, "Service Unavailable", headers={"Retry-After": "1"},
                                       method="POST")
    answer = submit(world, form)
    # The create, the 503, the search and the marker's read may all come after the ack ("Creating…"):
    # the form showing ENG-1 is their end, so read what Jira got only once it does.
    shown = world.slack.wait_for(lambda: "ENG-1" in text_of(world.slack.view(answer.view_id)) or None,
                                 timeout=15)
    assert shown
    assert [i.key for i in world.atlassian.issues()] == ["ENG-1"]
    assert len(issue_posts(world)) == 1  # not resent after the 503
    search = r"/rest/api/3/search/jql$" if world.cloud else r"/rest/api/2/search$"
    assert world.atlassian.requests_to(search)
    assert world.atlassian.requests_to(r"/issue/ENG-1/properties/jirabot\.submission$", "GET")
    (reply,) = world.slack.wait_for(lambda: thread_replies(world, ts), timeout=15)
    assert f"{world.site_url}/browse/ENG-1" in reply["blocks"][0]["text"]["text"]
    assert [link.issue_key for link in links_of(world, ts)] == ["ENG-1"]


def test_a_429_is_retried_after_its_delay_and_makes_one_issue(world: World) -> None:
    result, form = open_form(world)
    ts = result.payload["message_ts"]
    world.atlassian.fail_next(CREATE, 429, {"errorMessages": ["Rate limit exceeded."]},
                              headers={"Retry-After": "1"}, method="POST")
    answer = submit(world, form)
    # The retry comes a second after the 429, maybe after the ack ("Creating…"): the form showing
    # ENG-1 follows it, so count the posts only once it does.
    assert world.slack.wait_for(lambda: "ENG-1" in text_of(world.slack.view(answer.view_id)) or None,
                                timeout=15)
    posts = issue_posts(world)
    assert len(posts) == 2 and posts[1].at - posts[0].at >= 0.9  # after the delay Jira asked for
    assert [i.key for i in world.atlassian.issues()] == ["ENG-1"]
    assert len(world.slack.wait_for(lambda: thread_replies(world, ts), timeout=15)) == 1
