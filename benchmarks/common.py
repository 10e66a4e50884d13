"""Pure helpers of the benchmarks: statistics, Slack request signing, tables, targets, /proc readings.

Nothing here starts a process or opens a socket, so the smoke test can run all of it quickly.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

# Shared by the runner and the processes it starts.
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-bench-bot-token"
CLOUD_CLIENT_ID = "bench-cloud-client-id"
CLOUD_CLIENT_SECRET = "bench-cloud-client-secret-value"
TEAM_ID = "T0TEAM001"
CHANNEL_ID = "C0GENERAL"

# Targets (2 cores), from issue #6.
ACK_RATIO_TARGET = 0.8
ACK_P99_TARGET_MS = 100.0
MODAL_P95_TARGET_MS = 300.0
CREATE_EFFICIENCY_TARGET = 0.8
RSS_TARGET_MB = 150.0


# Statistics --------------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between ranks; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summarize(seconds: Sequence[float]) -> dict[str, Any]:
    """Count and latency percentiles, in milliseconds, of durations given in seconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 3)

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds) if seconds else None),
        "mean_ms": ms(sum(seconds) / len(seconds) if seconds else None),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


# Slack signing -----------------------------------------------------------------------------------


def slack_signature(secret: str, body: bytes, timestamp: int | str) -> str:
    """Slack's v0 signature: ``v0=`` + HMAC-SHA256(secret, ``v0:{timestamp}:{body}``) in hex."""
    base = b"v0:" + str(timestamp).encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """The headers Slack sends with ``body``: content type, timestamp, signature."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": slack_signature(secret, body, ts),
    }


def slash_command_body(
    text: str,
    *,
    user_id: str,
    response_url: str,
    trigger_id: str,
    command: str = "/jira",
    team_id: str = TEAM_ID,
    channel_id: str = CHANNEL_ID,
    api_app_id: str = "A0APP0001",
) -> bytes:
    """A slash command request body as Slack sends it (form encoded)."""
    return urlencode(
        {
            "token": "vErIfIcAtIoNtOkEn000000",
            "team_id": team_id,
            "team_domain": "acme",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    ).encode("ascii")


# Formatting --------------------------------------------------------------------------------------


def fmt_number(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    width = max(len(row) for row in cells)
    for row in cells:
        row.extend([""] * (width - len(row)))
    widths = [max(len(row[i]) for row in cells) for i in range(width)]

    def line(row: list[str]) -> str:
        parts = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, width)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


# Targets -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    value: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "SKIP" if self.passed is None else ("PASS" if self.passed else "MISS")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def evaluate_targets(figures: dict[str, Any]) -> list[Target]:
    """PASS/MISS for every target of issue #6 from the figures of a run (SKIP where not measured)."""
    targets: list[Target] = []
    ack = figures.get("ack") or {}
    bot = ack.get("bot") or {}
    ack_ratio = ack.get("ratio")
    targets.append(
        Target(
            "ack throughput vs bare Bolt",
            f">= {ACK_RATIO_TARGET:.2f} x",
            fmt_number(ack_ratio, 2, " x"),
            None if ack_ratio is None else ack_ratio >= ACK_RATIO_TARGET,
        )
    )
    p99 = bot.get("p99_ms")
    targets.append(
        Target(
            f"ack p99 at concurrency {ack.get('concurrency', 32)}",
            f"< {ACK_P99_TARGET_MS:.0f} ms",
            fmt_number(p99, 1, " ms"),
            None if p99 is None else p99 < ACK_P99_TARGET_MS,
        )
    )
    modal = figures.get("modal") or {}
    p95 = modal.get("p95_ms")
    complete = modal.get("opened") == modal.get("count") if modal else False
    targets.append(
        Target(
            f"modal p95 with Jira at {modal.get('jira_latency_s', 1.5)} s",
            f"< {MODAL_P95_TARGET_MS:.0f} ms",
            fmt_number(p95, 1, " ms") + ("" if complete or not modal else " (some never opened)"),
            None if p95 is None else (p95 < MODAL_P95_TARGET_MS and complete),
        )
    )
    create = figures.get("create") or {}
    rate = create.get("issues_per_s")
    goal = create.get("target_per_s")
    # Every planned submission made it, and each made exactly one issue.
    planned = create.get("planned", create.get("submissions"))
    exact = bool(create) and create.get("issues") == create.get("submissions") == planned and bool(planned)
    targets.append(
        Target(
            "issue creation rate",
            "-" if goal is None else f">= {goal:.0f} issues/s",
            fmt_number(rate, 1, " issues/s"),
            None if rate is None or goal is None else rate >= goal,
        )
    )
    targets.append(
        Target(
            "issues in Jira == submissions",
            str(create.get("planned", create.get("submissions", "-"))),
            str(create.get("issues", "-")),
            None if not create else exact,
        )
    )
    memory = figures.get("memory") or {}
    rss = memory.get("bot_after_mb")
    targets.append(
        Target(
            "bot RSS after the load",
            f"< {RSS_TARGET_MB:.0f} MB",
            fmt_number(rss, 1, " MB"),
            None if rss is None else rss < RSS_TARGET_MB,
        )
    )
    return targets


def creation_target(concurrency: int, jira_latency_s: float) -> float:
    """Issues per second the bot must reach: 0.8 x what Jira's latency allows at that concurrency."""
    return CREATE_EFFICIENCY_TARGET * concurrency / jira_latency_s


def summary_line(figures: dict[str, Any], targets: Sequence[Target]) -> str:
    ack = figures.get("ack") or {}
    modal = figures.get("modal") or {}
    create = figures.get("create") or {}
    memory = figures.get("memory") or {}
    passed = sum(1 for t in targets if t.passed)
    measured = sum(1 for t in targets if t.passed is not None)
    bot = ack.get("bot") or {}
    parts = [
        f"ack {fmt_number(bot.get('rps'), 0)}/s "
        f"({fmt_number(ack.get('ratio'), 2)}x bolt, p99 {fmt_number(bot.get('p99_ms'), 1)} ms)",
        f"modal p95 {fmt_number(modal.get('p95_ms'), 0)} ms",
        f"create {fmt_number(create.get('issues_per_s'), 1)}/s ({create.get('issues', '-')}/"
        f"{create.get('submissions', '-')} issues)",
        f"rss {fmt_number(memory.get('bot_after_mb'), 0)} MB",
        f"{passed}/{measured} targets met",
    ]
    return "SUMMARY " + " | ".join(parts)


# /proc readings ----------------------------------------------------------------------------------


def proc_status_kb(pid: int, key: str) -> int | None:
    """A ``kB`` field (VmRSS, VmHWM …) of /proc/<pid>/status, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def descendants(pid: int) -> list[int]:
    """The live processes below `pid` (uvicorn's workers under `jirabot serve --workers N`)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _tree_kb(pid: int, key: str) -> int | None:
    own = proc_status_kb(pid, key)
    if own is None:
        return None
    return own + sum(proc_status_kb(child, key) or 0 for child in descendants(pid))


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process and the processes below it."""
    kb = _tree_kb(pid, "VmRSS")
    return None if kb is None else round(kb / 1024.0, 1)


def peak_rss_mb(pid: int) -> float | None:
    kb = _tree_kb(pid, "VmHWM")
    return None if kb is None else round(kb / 1024.0, 1)


def parse_proc_stat_cpu(stat_line: str, ticks_per_second: int) -> float:
    """utime + stime in seconds from a /proc/<pid>/stat line (the command may contain spaces)."""
    after_name = stat_line.rsplit(")", 1)[1].split()
    utime, stime = int(after_name[11]), int(after_name[12])
    return (utime + stime) / ticks_per_second


def _stat_cpu(path: str) -> float | None:
    try:
        with open(path, encoding="ascii", errors="replace") as stat:
            line = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return parse_proc_stat_cpu(line, os.sysconf("SC_CLK_TCK"))


def cpu_seconds(pid: int, thread: int | None = None) -> float | None:
    """CPU time (user + system) a process and those below it (or one of its threads) have used so far;
    None when gone."""
    if thread is not None:
        return _stat_cpu(f"/proc/{pid}/task/{thread}/stat")
    own = _stat_cpu(f"/proc/{pid}/stat")
    if own is None:
        return None
    return own + sum(_stat_cpu(f"/proc/{child}/stat") or 0.0 for child in descendants(pid))
