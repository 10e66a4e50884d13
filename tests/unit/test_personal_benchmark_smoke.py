"""The personal notification benchmark's pure parts: the bulk edit it plays, who should hear of it, and
how it counts what Slack received. No server, no timing."""

from __future__ import annotations

import argparse
import json

from benchmarks.personal import bulk_edit, expected_pairs, measure
from benchmarks.personal_world import account, slack_user
from bot.jira.events import EventKind, JiraEvent

ISSUES = [
    {"key": "ENG-1", "id": "1", "reporter": 0, "assignee": 1, "watchers": [2, 3], "comments": ["10", "11"]},
    {"key": "ENG-2", "id": "2", "reporter": 1, "assignee": 1, "watchers": [], "comments": ["12", "13"]},
]


def test_the_bulk_edit_is_issue_after_issue_comments_then_an_assignment_then_transitions() -> None:
    items = bulk_edit(ISSUES, 5)
    assert [key for key, _, _ in items] == ["ENG-1"] * 5 + ["ENG-2"] * 5
    events = [JiraEvent.parse(json.loads(body)) for _, _, body in items[:5]]
    assert [sorted(e.kinds) for e in events if e] == [
        [EventKind.COMMENTED],
        [EventKind.COMMENTED],
        [EventKind.ASSIGNED],
        [EventKind.TRANSITIONED],
        [EventKind.TRANSITIONED],
    ]
    first = json.loads(items[0][2])
    assert first["issue"]["fields"]["reporter"] == {"accountId": account(0)}
    assert len({identifier for _, identifier, _ in items}) == len(items)


def test_recipients_are_reporter_assignee_and_watchers_once_per_issue() -> None:
    assert expected_pairs(ISSUES) == {
        (slack_user(0), "ENG-1"),
        (slack_user(1), "ENG-1"),
        (slack_user(2), "ENG-1"),
        (slack_user(3), "ENG-1"),
        (slack_user(1), "ENG-2"),
    }


class _Sender:
    def __init__(self, answered: dict[str, float]) -> None:
        self.answered = answered


def test_counting_finds_missing_split_and_lag() -> None:
    items = [("ENG-1", "a", b""), ("ENG-1", "b", b""), ("ENG-2", "c", b"")]
    sender = _Sender({"a": 100.0, "b": 101.0, "c": 100.0})
    expected = {("U1", "ENG-1"), ("U2", "ENG-1"), ("U1", "ENG-2")}
    seen = {
        "dms": [
            {"channel": "U1", "text": "Bob moved ENG-1 from To Do to Done", "at": 107.0},
            {"channel": "U2", "text": "Bob commented on ENG-1", "at": 106.0},
            {"channel": "U2", "text": "Bob commented on ENG-1", "at": 109.0},
        ],
        "rate_limited": 3,
    }
    args = argparse.Namespace(users=2, window=5.0, rate_limited=3)
    figures = measure("sqlite", args, items, expected, sender, seen, 99.0)  # type: ignore[arg-type]
    assert (figures["missing"], figures["split"], figures["dms_sent"]) == (1, 1, 3)
    assert figures["lag_p50_s"] == 5.5  # from ENG-1's last answer (101) to each first DM: 6 and 5
    assert figures["targets"] == {
        "every event answered": True,
        "every recipient got their DM": False,
        "one DM per recipient and issue (grouped)": False,
        "no 429 reached the people": False,
    }
