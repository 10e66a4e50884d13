"""The webhook benchmark's pure parts: the deliveries it sends and how it counts what Slack received."""

from __future__ import annotations

import json

from benchmarks.webhooks import Sender, deliveries, measure, report


def test_each_issue_gets_a_created_and_a_transition_delivery_round_robin_over_projects() -> None:
    items = deliveries([["P000-1", "P000-2"], ["P001-1"]])
    assert [(k, json.loads(b)["webhookEvent"]) for k, _, b in items] == [
        ("P000-1", "jira:issue_created"),
        ("P001-1", "jira:issue_created"),
        ("P000-2", "jira:issue_created"),
        ("P000-1", "jira:issue_updated"),
        ("P001-1", "jira:issue_updated"),
        ("P000-2", "jira:issue_updated"),
    ]
    assert len({identifier for _, identifier, _ in items}) == 6


def _post(text: str, at: float, thread: str | None = None) -> dict:
    return {"channel": "C1", "ts": str(at), "thread_ts": thread, "text": text, "at": at}


def test_missing_and_doubled_messages_are_counted_per_issue() -> None:
    items = deliveries([["PA-1", "PA-2", "PA-3"]])
    sender = Sender([], 1)
    for n, (_, identifier, _) in enumerate(items):
        sender.answered[identifier] = 100.0 + n
        sender.latencies.append(0.01)
    posts = [
        _post("PA-1: one [To Do]", 101),
        _post("Ada moved PA-1 from To Do to In Progress", 104, "101"),
        _post("PA-2: two [To Do]", 102),
        _post("PA-2: two [To Do]", 103),  # doubled card, missing reply
        _post("PA-3: three [In Progress]", 105),
        _post("Ada moved PA-3 from To Do to In Progress", 105, "105"),
        _post("Ada created PA-3", 106, "105"),  # its "created" came after the transition: not a double
    ]
    figures = measure("test", items, sender, {"posts": posts}, started=100.0)
    assert (figures["missing"], figures["doubled"], figures["answered"]) == (1, 1, 6)
    assert figures["targets"]["every delivery answered"] and not figures["targets"]["none twice"]
    assert "MISS  test: all delivered to Slack" in report([figures])
