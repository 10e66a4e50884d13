"""The emulators for the personal notification benchmark, in one process of their own, with a control API.

    python -m benchmarks.personal_world --slack-port A --jira-port B

A Cloud site with one project, `users` people (each with a Slack user), and `issues` issues each
reported by one of them, assigned to another and watched by a few more; Slack's emulator stamps its
calls with wall-clock time and can answer a number of `chat.postMessage` calls with 429.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from typing import Any

from benchmarks.common import BOT_TOKEN, CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, TEAM_ID
from benchmarks.worlds import serve, with_control

SITE = "acme"
PROJECT = "ENG"
ACTOR_ACCOUNT = "5b10ac8d82e05b22cc7d0bulk"  # who runs the bulk edit (not linked)
SCOPES = ("read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook", "offline_access")


def slack_user(n: int) -> str:
    return f"U0P{n:06d}"


def account(n: int) -> str:
    return f"5b10ac8d82e05b22cc{n:06d}"


class World:
    def __init__(self) -> None:
        from tests.emulators.atlassian import AtlassianEmulator
        from tests.emulators.slack import SlackEmulator

        self.slack = SlackEmulator(bot_token=BOT_TOKEN, team_id=TEAM_ID, clock=time.time)
        self.jira = AtlassianEmulator()

    def slack_handlers(self) -> dict[str, Any]:
        return {"ping": lambda: {"ok": True}, "setup": self.slack_setup, "dms": self.dms, "count": self.count}

    def jira_handlers(self) -> dict[str, Any]:
        return {"ping": lambda: {"ok": True}, "setup": self.jira_setup}

    def slack_setup(self, base_url: str, users: int, rate_limited: int) -> dict[str, Any]:
        self.slack.base_url = base_url
        for n in range(users):
            self.slack.add_user(slack_user(n), f"person{n}", real_name=f"Person {n}")
        if rate_limited:
            self.slack.rate_limit("chat.postMessage", retry_after=1, times=rate_limited)
        return {"api_url": self.slack.api_url}

    def jira_setup(
        self, base_url: str, users: int, issues: int, watchers: int, comments: int
    ) -> dict[str, Any]:
        emu = self.jira
        emu.base_url = base_url
        emu.add_cloud_app(CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, ["http://127.0.0.1/jira/oauth/callback"])
        site = emu.add_cloud_site(SITE)
        emu.add_user(ACTOR_ACCOUNT, "Bulk Editor", "bulk@acme.test", sites=[site])
        for n in range(users):
            emu.add_user(account(n), f"Person {n}", f"person{n}@acme.test", sites=[site])
        emu.default_project(site, PROJECT, "Engineering")
        made = []
        for i in range(issues):
            reporter, assignee = i % users, (i * 7 + 1) % users
            issue = emu.seed_issue(site, PROJECT, f"Bulk edited {i}", reporter=account(reporter))
            watching = sorted({(i * 13 + k * 31 + 3) % users for k in range(watchers)} - {reporter})
            for w in watching:
                emu.jira_watch(issue.key, account(w))
            ids = [
                emu.jira_comment(issue.key, _adf(f"Bulk note {c} on {issue.key}"), by=ACTOR_ACCOUNT)
                for c in range(comments)
            ]
            made.append(
                {
                    "key": issue.key,
                    "id": issue.id,
                    "reporter": reporter,
                    "assignee": assignee,
                    "watchers": watching,
                    "comments": ids,
                }
            )
        tokens = []
        for n in range(users):
            minted = emu.mint_cloud_tokens(CLOUD_CLIENT_ID, account(n), scopes=SCOPES)
            with emu._lock:  # the benchmark may outlast an hour: keep the minted token alive
                emu._access[minted["access_token"]].expires_at = emu.now() + 24 * 3600
            tokens.append(minted)
        return {"site_url": site.url, "cloud_id": site.cloud_id, "issues": made, "tokens": tokens}

    def count(self) -> dict[str, Any]:
        return {"count": sum(1 for c in self.slack.calls_to("chat.postMessage") if c.ok)}

    def dms(self) -> dict[str, Any]:
        found = [
            {"channel": c.params.get("channel"), "text": c.params.get("text") or "", "at": c.at}
            for c in self.slack.calls_to("chat.postMessage")
            if c.ok
        ]
        limited = len([c for c in self.slack.calls if c.status == 429])
        return {"dms": found, "rate_limited": limited}


def _adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.personal_world")
    parser.add_argument("--slack-port", type=int, required=True)
    parser.add_argument("--jira-port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    world = World()
    jira = threading.Thread(
        target=serve, args=(with_control(world.jira.app, world.jira_handlers()), args.jira_port), daemon=True
    )
    jira.start()
    serve(with_control(world.slack.app, world.slack_handlers()), args.slack_port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
