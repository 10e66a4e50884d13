"""The benchmark script's pure helpers (percentiles, signing, tables, targets): no server, no timing."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs

import pytest

from benchmarks.common import (
    creation_target,
    evaluate_targets,
    format_table,
    parse_proc_stat_cpu,
    percentile,
    proc_status_kb,
    slack_signature,
    slash_command_body,
    summarize,
    summary_line,
)
from benchmarks.loadgen import signed_requests
from benchmarks.worlds import submission_values


def test_percentiles_interpolate_between_ranks() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 25) == 2.0
    assert percentile([1.0, 2.0], 50) == pytest.approx(1.5)
    assert percentile([1.0, 2.0, 3.0, 4.0], 99) == pytest.approx(3.97)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summarize_reports_milliseconds() -> None:
    stats = summarize([0.010, 0.020, 0.030])
    assert stats["count"] == 3
    assert stats["p50_ms"] == pytest.approx(20.0)
    assert stats["max_ms"] == pytest.approx(30.0)
    assert stats["mean_ms"] == pytest.approx(20.0)
    assert summarize([])["p99_ms"] is None


def test_signature_is_slacks_v0_hmac() -> None:
    body = b"token=x&text=help"
    expected = hmac.new(b"secret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert slack_signature("secret", body, 1700000000) == f"v0={expected}"


def test_signed_requests_verify_with_slack_sdk() -> None:
    from slack_sdk.signature import SignatureVerifier

    requests = signed_requests("bench-secret", "http://127.0.0.1:1", count=3)
    assert len({body for body, _ in requests}) == 3
    verifier = SignatureVerifier("bench-secret")
    for body, headers in requests:
        assert verifier.is_valid_request(body, headers)
        assert parse_qs(body.decode())["command"] == ["/jira"]
        assert parse_qs(body.decode())["text"] == ["help"]
    assert not SignatureVerifier("other-secret").is_valid_request(*requests[0])


def test_slash_command_body_has_slacks_fields() -> None:
    fields = parse_qs(
        slash_command_body("help", user_id="U1", response_url="http://r", trigger_id="t").decode()
    )
    for name in ("team_id", "channel_id", "user_id", "command", "text", "response_url", "trigger_id"):
        assert name in fields


def test_table_aligns_columns() -> None:
    table = format_table(["name", "req/s"], [["bot", "1,200.0"], ["baseline", None]])
    lines = table.splitlines()
    assert lines[0].startswith("name")
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].endswith("1,200.0")
    assert lines[3].endswith("-")
    assert len({len(line) for line in lines[:3]}) == 1


def test_targets_pass_miss_and_skip() -> None:
    figures = {
        "ack": {"concurrency": 32, "ratio": 0.9, "bot": {"rps": 900.0, "p99_ms": 120.0}},
        "modal": {"jira_latency_s": 1.5, "count": 10, "opened": 10, "p95_ms": 150.0},
        "create": {
            "submissions": 500,
            "issues": 500,
            "issues_per_s": 150.0,
            "target_per_s": creation_target(20, 0.1),
        },
        "memory": {"bot_after_mb": 120.0},
    }
    verdicts = {t.name: t.verdict for t in evaluate_targets(figures)}
    assert verdicts["ack throughput vs bare Bolt"] == "PASS"
    assert verdicts["ack p99 at concurrency 32"] == "MISS"
    assert verdicts["modal p95 with Jira at 1.5 s"] == "PASS"
    assert verdicts["issue creation rate"] == "MISS"
    assert verdicts["issues in Jira == submissions"] == "PASS"
    assert verdicts["bot RSS after the load"] == "PASS"
    assert creation_target(20, 0.1) == pytest.approx(160.0)
    assert "4/6 targets met" in summary_line(figures, evaluate_targets(figures))
    assert {t.verdict for t in evaluate_targets({})} == {"SKIP"}
    lost = {
        "create": {"planned": 500, "submissions": 499, "issues": 499, "issues_per_s": 1.0, "target_per_s": 2}
    }
    assert {t.name: t.verdict for t in evaluate_targets(lost)}["issues in Jira == submissions"] == "MISS"


def test_a_modal_that_never_opened_everywhere_misses() -> None:
    figures = {"modal": {"jira_latency_s": 1.5, "count": 10, "opened": 9, "p95_ms": 100.0}}
    verdict = {t.name: t.verdict for t in evaluate_targets(figures)}["modal p95 with Jira at 1.5 s"]
    assert verdict == "MISS"


def test_proc_readings() -> None:
    line = "1234 (python -m bot) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1"
    assert parse_proc_stat_cpu(line, 100) == pytest.approx(3.0)
    assert proc_status_kb(2**22 + 7, "VmRSS") is None


def test_submission_values_fill_what_a_person_would() -> None:
    view: dict[str, Any] = {
        "type": "modal",
        "submit": {"type": "plain_text", "text": "Create"},
        "blocks": [
            {
                "type": "input",
                "block_id": "summary",
                "element": {"type": "plain_text_input", "initial_value": "x"},
            },
            {
                "type": "input",
                "block_id": "kind",
                "element": {
                    "type": "static_select",
                    "options": [{"text": {"type": "plain_text", "text": "Task"}, "value": "10001"}],
                },
            },
            {"type": "input", "block_id": "notes", "optional": True, "element": {"type": "plain_text_input"}},
        ],
    }
    assert submission_values(view) == {"kind": "10001"}
    assert submission_values({**view, "submit": None}) is None
    view["blocks"].append({"type": "input", "block_id": "who", "element": {"type": "external_select"}})
    assert submission_values(view) is None
