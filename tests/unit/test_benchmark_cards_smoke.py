"""The issue cards benchmark's verdicts and report (no server, no timing)."""

from __future__ import annotations

from benchmarks.cards import Plan, report, targets


def figures(ack99: float | None, unfurl95: float | None, action99: float | None, unfurled: int = 200) -> dict:
    return {
        "unfurl": {
            "events": 200,
            "acked": 200,
            "unfurled": unfurled,
            "ack_p50_ms": 5.0,
            "ack_p99_ms": ack99,
            "unfurl_p50_ms": 150.0,
            "unfurl_p95_ms": unfurl95,
            "unfurl_max_ms": 400.0,
        },
        "action": {
            "clicks": 200,
            "acked": 200,
            "ack_p50_ms": 10.0,
            "ack_p99_ms": action99,
            "ack_max_ms": 120.0,
        },
    }


def test_targets_pass_and_miss() -> None:
    assert [ok for *_, ok in targets(figures(20.0, 250.0, 60.0))] == [True, True, True]
    assert [ok for *_, ok in targets(figures(60.0, 350.0, 150.0))] == [False, False, False]
    assert [ok for *_, ok in targets(figures(20.0, 250.0, 60.0, unfurled=199))] == [True, False, True]
    assert [ok for *_, ok in targets(figures(None, None, None))] == [False, False, False]


def test_report_prints_pass_miss_and_a_summary() -> None:
    text = report(figures(20.0, 350.0, 60.0))
    assert "PASS  link_shared ack p99: 20.0 ms" in text and "MISS  chat.unfurl p95" in text
    assert text.splitlines()[-1].startswith("SUMMARY cards: 2/3 targets met")
    assert Plan().unfurl_count == 200 and Plan().unfurl_concurrency == 20 and Plan().click_jira_latency >= 1.0
