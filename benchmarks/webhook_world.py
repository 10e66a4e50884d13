"""The emulators for the webhook benchmark, in one process of their own, with a control API.

    python -m benchmarks.webhook_world --slack-port A --jira-port B

Slack's emulator stamps its calls with wall-clock time (so the runner can measure the lag from a
delivery's answer to its Slack message); the Atlassian emulator holds a Cloud site with one project per
subscribed channel and the issues the deliveries are about.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from typing import Any

from benchmarks.common import BOT_TOKEN, CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, TEAM_ID
from benchmarks.worlds import serve, with_control

ADMIN_SLACK = "U0ADMIN01"
ADMIN_ACCOUNT = "5b10ac8d82e05b22cc7d4ada"
SITE = "acme"
SCOPES = ("read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook", "offline_access")


def project_key(n: int) -> str:
    return f"P{n:03d}"


def channel_id(n: int) -> str:
    return f"C0BENCH{n:03d}"


class World:
    def __init__(self) -> None:
        from tests.emulators.atlassian import AtlassianEmulator
        from tests.emulators.slack import SlackEmulator

        self.slack = SlackEmulator(bot_token=BOT_TOKEN, team_id=TEAM_ID, clock=time.time)
        self.jira = AtlassianEmulator()
        self.slack.add_user(ADMIN_SLACK, "ada", real_name="Ada Admin", email="ada@acme.test", admin=True)

    def slack_handlers(self) -> dict[str, Any]:
        return {
            "ping": lambda: {"ok": True},
            "setup": self.slack_setup,
            "posts": self.posts,
            "count": self.count,
        }

    def jira_handlers(self) -> dict[str, Any]:
        return {"ping": lambda: {"ok": True}, "setup": self.jira_setup}

    def slack_setup(self, base_url: str, channels: int) -> dict[str, Any]:
        self.slack.base_url = base_url
        for n in range(channels):
            self.slack.add_channel(channel_id(n), f"bench-{n}")
        return {"api_url": self.slack.api_url}

    def jira_setup(
        self, base_url: str, redirect_uri: str, projects: int, issues_per_project: int
    ) -> dict[str, Any]:
        emu = self.jira
        emu.base_url = base_url
        emu.add_cloud_app(CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, [redirect_uri])
        site = emu.add_cloud_site(SITE)
        emu.add_user(ADMIN_ACCOUNT, "Ada Admin", "ada@acme.test", sites=[site])
        keys: list[list[str]] = []
        for n in range(projects):
            emu.default_project(site, project_key(n), f"Project {n}")
            keys.append(
                [
                    emu.seed_issue(
                        site, project_key(n), f"Bench issue {i} of {n}", reporter=ADMIN_ACCOUNT
                    ).key
                    for i in range(issues_per_project)
                ]
            )
        tokens = emu.mint_cloud_tokens(CLOUD_CLIENT_ID, ADMIN_ACCOUNT, scopes=SCOPES)
        tokens["expires_in"] = 24 * 3600
        with emu._lock:  # the benchmark may outlast an hour: keep the minted token alive
            emu._access[tokens["access_token"]].expires_at = emu.now() + 24 * 3600
        return {
            "site_url": site.url,
            "cloud_id": site.cloud_id,
            "keys": keys,
            "tokens": tokens,
            "account_id": ADMIN_ACCOUNT,
        }

    def count(self) -> dict[str, Any]:
        return {"count": sum(1 for c in self.slack.calls_to("chat.postMessage") if c.ok)}

    def posts(self) -> dict[str, Any]:
        found = []
        for call in self.slack.calls_to("chat.postMessage"):
            if call.ok:
                found.append(
                    {
                        "channel": call.response.get("channel"),
                        "ts": call.response.get("ts"),
                        "thread_ts": call.params.get("thread_ts"),
                        "text": call.params.get("text") or "",
                        "at": call.at,
                    }
                )
        limited = len([c for c in self.slack.calls if c.status == 429])
        return {"posts": found, "rate_limited": limited}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhook_world")
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
