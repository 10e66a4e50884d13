"""The personal notification benchmark: a bulk edit in Jira reaching many linked people by DM.

    python -m benchmarks.personal                  # 500 users, 200 issues x 10 events, SQLite
    python -m benchmarks.personal --postgres       # the same on a fresh PostgreSQL database

Processes: the emulators (``benchmarks.personal_world``), one ``jirabot serve``, and this runner, which
seeds the database (a Cloud install and `users` linked people), then plays a bulk edit: issue after
issue, each gets `events` events (its comments, one assignment, transitions for the rest) sent as
signed Cloud deliveries at concurrency 50. Every issue concerns its reporter, its new assignee and its
watchers; they are linked, so each should get ONE grouped DM per issue (the bulk editor is not linked).
Slack's emulator answers the first `--rate-limited` DMs with 429 (`Retry-After: 1`): the bot must wait
and send them anyway.

Figures: events sent and answered, DMs expected / sent, recipients that got no DM (missing), issues a
recipient heard of more than once (split: the events of one issue straddled the grouping window), 429s
Slack answered, and the lag from the answer to an issue's last event to its DM (p50/p95; it includes the
grouping window, printed beside). PASS/MISS: every event answered, no DM missing, every DM grouped (one
per recipient and issue), no 429 reaching the people (nothing missing although Slack said 429).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import (
    BOT_TOKEN,
    CLOUD_CLIENT_ID,
    CLOUD_CLIENT_SECRET,
    SIGNING_SECRET,
    TEAM_ID,
    format_table,
    percentile,
)
from benchmarks.personal_world import ACTOR_ACCOUNT, PROJECT, account, slack_user
from benchmarks.run import Processes, child_env, free_port, fresh_postgres, wait_ready
from benchmarks.webhooks import Sender

ISSUE_KEY = re.compile(rf"\b{PROJECT}-\d+\b")


async def seed(database_url: str, key: str, jira: dict[str, Any], users: int) -> str:
    """The install (person 0), the links of everyone else; the webhook URL token."""
    from storage.crypto import Encryptor
    from storage.db import async_database_url, create_engine
    from storage.migrate import upgrade
    from storage.repositories.accounts import JiraIdentity, TokenSet
    from storage.store import Storage

    engine = create_engine(async_database_url(database_url, None))  # type: ignore[arg-type]
    try:
        await upgrade(engine)
        storage = Storage.create(engine, Encryptor.from_string(key))
        now = datetime.now(UTC)

        def token_set(n: int) -> TokenSet:
            minted = jira["tokens"][n]
            return TokenSet(
                access_token=minted["access_token"],
                refresh_token=minted.get("refresh_token"),
                expires_at=now + timedelta(hours=24),
                scopes=minted.get("scope"),
            )

        tenant, _ = await storage.tenants.install(
            team_id=TEAM_ID,
            enterprise_id=None,
            kind="cloud",
            site_url=jira["site_url"],
            site_name="acme",
            cloud_id=jira["cloud_id"],
            dc_client_id=None,
            dc_client_secret=None,
            installed_by=slack_user(0),
            identity=JiraIdentity(account_id=account(0), display_name="Person 0", email=None),
            tokens=token_set(0),
            now=now,
        )
        for n in range(1, users):
            await storage.accounts.link(
                tenant_id=tenant.id,
                team_id=TEAM_ID,
                slack_user_id=slack_user(n),
                identity=JiraIdentity(account_id=account(n), display_name=f"Person {n}", email=None),
                tokens=token_set(n),
                now=now,
            )
        endpoint = await storage.webhooks.endpoint(tenant.id, now=now, with_secret=False)
        return endpoint.token
    finally:
        await engine.dispose()


async def drained(database_url: str, key: str, within: float) -> None:
    """Waits until the bot's inbox is empty and no DM waits (read from its database)."""
    from storage.crypto import Encryptor
    from storage.db import async_database_url, create_engine
    from storage.store import Storage

    engine = create_engine(async_database_url(database_url, None))  # type: ignore[arg-type]
    storage = Storage.create(engine, Encryptor.from_string(key))
    deadline = time.monotonic() + within
    idle = 0
    try:
        while time.monotonic() < deadline and idle < 3:
            depth = await storage.inbox.depth(datetime.now(UTC))
            waiting = await storage.personal.pending_count()
            idle = idle + 1 if depth.pending == 0 and waiting == 0 else 0
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


def bulk_edit(issues: list[dict[str, Any]], events: int) -> list[tuple[str, str, bytes]]:
    """(issue key, identifier, body) of every event, issue after issue, as Jira sends a bulk edit."""
    editor = {"accountId": ACTOR_ACCOUNT, "displayName": "Bulk Editor"}
    statuses = ["To Do", "In Progress", "In Review", "Done"]
    out: list[tuple[str, str, bytes]] = []
    for issue in issues:
        fields = {
            "project": {"key": PROJECT},
            "summary": issue["key"],
            "reporter": {"accountId": account(issue["reporter"])},
            "assignee": {"accountId": account(issue["assignee"])},
        }
        body_issue = {"id": issue["id"], "key": issue["key"], "fields": fields}
        bodies: list[dict[str, Any]] = []
        for comment_id in issue["comments"][:events]:
            bodies.append(
                {
                    "webhookEvent": "comment_created",
                    "comment": {"id": comment_id, "author": editor, "body": f"Bulk note on {issue['key']}"},
                }
            )
        if len(bodies) < events:
            item = {
                "field": "assignee",
                "from": None,
                "to": account(issue["assignee"]),
                "toString": "Assignee",
            }
            bodies.append(
                {
                    "webhookEvent": "jira:issue_updated",
                    "issue_event_type_name": "issue_assigned",
                    "changelog": {"id": "1", "items": [item]},
                }
            )
        step = 0
        while len(bodies) < events:
            before, after = statuses[step % 4], statuses[(step + 1) % 4]
            step += 1
            item = {"field": "status", "fromString": before, "toString": after}
            bodies.append(
                {
                    "webhookEvent": "jira:issue_updated",
                    "issue_event_type_name": "issue_generic",
                    "changelog": {"id": str(step), "items": [item]},
                }
            )
        for body in bodies:
            body |= {"timestamp": int(time.time() * 1000), "user": editor, "issue": body_issue}
            out.append((issue["key"], uuid.uuid4().hex, json.dumps(body).encode()))
    return out


def expected_pairs(issues: list[dict[str, Any]]) -> set[tuple[str, str]]:
    pairs = set()
    for issue in issues:
        for person in {issue["reporter"], issue["assignee"], *issue["watchers"]}:
            pairs.add((slack_user(person), issue["key"]))
    return pairs


async def one_run(args: argparse.Namespace, database: str) -> dict[str, Any]:
    kind = "postgres" if database.startswith("postgres") else "sqlite"
    workdir = Path(tempfile.mkdtemp(prefix="jirabot-personal-"))
    if kind == "sqlite":
        database = f"sqlite:///{workdir}/bench.sqlite3"
    procs = Processes(workdir)
    key = __import__("storage.crypto", fromlist=["generate_key"]).generate_key()
    try:
        slack_port, jira_port, bot_port = free_port(), free_port(), free_port()
        world = procs.start(
            "world",
            [
                sys.executable,
                "-m",
                "benchmarks.personal_world",
                "--slack-port",
                str(slack_port),
                "--jira-port",
                str(jira_port),
            ],
            slack_port,
            child_env({}),
        )
        async with httpx.AsyncClient(timeout=600) as client:
            await wait_ready(client, world, "/_bench/ping")
            slack_url, jira_url = f"http://127.0.0.1:{slack_port}", f"http://127.0.0.1:{jira_port}"
            await client.post(
                f"{slack_url}/_bench/setup",
                json={"base_url": slack_url, "users": args.users, "rate_limited": args.rate_limited},
            )
            jira = (
                await client.post(
                    f"{jira_url}/_bench/setup",
                    json={
                        "base_url": jira_url,
                        "users": args.users,
                        "issues": args.issues,
                        "watchers": args.watchers,
                        "comments": args.comments,
                    },
                )
            ).json()
            token = await seed(database, key, jira, args.users)
            env = {
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": f"{slack_url}/api/",
                "DATABASE_URL": database,
                "JIRABOT_ENCRYPTION_KEY": key,
                "ATLASSIAN_CLIENT_ID": CLOUD_CLIENT_ID,
                "ATLASSIAN_CLIENT_SECRET": CLOUD_CLIENT_SECRET,
                "ATLASSIAN_AUTH_URL": jira_url,
                "ATLASSIAN_API_URL": jira_url,
                "JIRABOT_PUBLIC_URL": f"http://127.0.0.1:{bot_port}",
                "JIRABOT_PERSONAL_WINDOW": str(args.window),
                "LOG_LEVEL": "warning",
                "JIRABOT_SCHEDULER": "false",
            }
            bot = procs.start(
                "bot",
                [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(bot_port)],
                bot_port,
                child_env(env),
            )
            await wait_ready(client, bot, "/healthz")
            items = bulk_edit(jira["issues"], args.events)
            expected = expected_pairs(jira["issues"])
            sender = Sender([f"http://127.0.0.1:{bot_port}/jira/webhooks/{token}"], args.concurrency)
            started = time.time()
            await sender.run(items)
            await drained(database, key, args.timeout)
            await asyncio.sleep(1.0)  # the last DMs' answers
            seen = (await client.get(f"{slack_url}/_bench/dms")).json()
    finally:
        procs.stop_all()
    return measure(kind, args, items, expected, sender, seen, started)


def measure(
    kind: str,
    args: argparse.Namespace,
    items: list[tuple[str, str, bytes]],
    expected: set[tuple[str, str]],
    sender: Sender,
    seen: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    last_answer: dict[str, float] = {}
    for issue_key, identifier, _ in items:
        if identifier in sender.answered:
            last_answer[issue_key] = max(last_answer.get(issue_key, 0.0), sender.answered[identifier])
    got: dict[tuple[str, str], list[float]] = {}
    for dm in seen["dms"]:
        found = ISSUE_KEY.search(dm["text"])
        if found:
            got.setdefault((str(dm["channel"]), found.group(0)), []).append(dm["at"])
    missing = len(expected - got.keys())
    unexpected = len(got.keys() - expected)
    split = sum(1 for pair, times in got.items() if pair in expected and len(times) > 1)
    lags = [min(times) - last_answer[pair[1]] for pair, times in got.items() if pair[1] in last_answer]
    sent = sum(len(t) for t in got.values())
    last = max((dm["at"] for dm in seen["dms"]), default=started)
    figures = {
        "run": f"{kind}, {args.users} users",
        "events": len(items),
        "answered": len(sender.answered),
        "dms_expected": len(expected),
        "dms_sent": sent,
        "missing": missing,
        "unexpected": unexpected,
        "split": split,
        "slack_429": seen.get("rate_limited", 0),
        "lag_p50_s": percentile(lags, 50),
        "lag_p95_s": percentile(lags, 95),
        "window_s": args.window,
        "seconds": last - started,
    }
    figures["targets"] = {
        "every event answered": len(sender.answered) == len(items),
        "every recipient got their DM": missing == 0 and unexpected == 0,
        "one DM per recipient and issue (grouped)": split == 0,
        "no 429 reached the people": missing == 0 and figures["slack_429"] >= min(1, args.rate_limited),
    }
    return figures


def report(result: dict[str, Any]) -> str:
    def num(value: Any, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    table = format_table(
        [
            "run",
            "events",
            "answered",
            "DMs expected",
            "DMs sent",
            "missing",
            "split",
            "Slack 429s",
            "lag p50 s",
            "lag p95 s",
            "window s",
        ],
        [
            [
                result["run"],
                result["events"],
                result["answered"],
                result["dms_expected"],
                result["dms_sent"],
                result["missing"],
                result["split"],
                result["slack_429"],
                num(result["lag_p50_s"]),
                num(result["lag_p95_s"]),
                num(result["window_s"], 1),
            ]
        ],
    )
    lines = [table, ""]
    for target, ok in result["targets"].items():
        lines.append(f"{'PASS' if ok else 'MISS'}  {result['run']}: {target}")
    passed = sum(result["targets"].values())
    lines.append(f"SUMMARY personal: {passed}/{len(result['targets'])} targets met")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if args.postgres:
        async with fresh_postgres() as url:
            return await one_run(args, url)
    return await one_run(args, "sqlite")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.personal", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--issues", type=int, default=200)
    parser.add_argument("--events", type=int, default=10, help="events per issue")
    parser.add_argument("--comments", type=int, default=5, help="of which comments")
    parser.add_argument("--watchers", type=int, default=4, help="watchers per issue")
    parser.add_argument("--rate-limited", type=int, default=40, help="DMs Slack first answers with 429")
    parser.add_argument("--window", type=float, default=5.0, help="JIRABOT_PERSONAL_WINDOW")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for Slack")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    print(report(result), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
